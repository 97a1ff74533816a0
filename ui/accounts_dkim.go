package ui

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/widget"

	"github.com/herald-smtp/herald/engine/diagnose"
	"github.com/herald-smtp/herald/engine/dkimkey"
)

// DKIMCore is what the editor's Signing section needs; the Accounts view
// offers it when its core implements it.
type DKIMCore interface {
	// DKIMGenerate creates the named profile's key: typ rsa, ed25519 or
	// both (an RSA and an Ed25519 key); replace allows replacing a key.
	DKIMGenerate(ctx context.Context, profile, typ string, replace bool) ([]dkimkey.Record, error)
	// DKIMImport stores a PEM private key (or an RSA and an Ed25519 key)
	// as the profile's key.
	DKIMImport(ctx context.Context, profile string, pem []byte, replace bool) ([]dkimkey.Record, error)
	// DKIMRecords returns the DNS TXT records publishing the profile's keys.
	DKIMRecords(ctx context.Context, profile string) ([]dkimkey.Record, error)
	// DKIMCheck looks the records up in DNS and compares them with the keys.
	DKIMCheck(ctx context.Context, profile string) ([]diagnose.Finding, error)
	// DKIMKeyExists reports whether err says the profile already has a key.
	DKIMKeyExists(err error) bool
}

// dkimWidgets are the Signing section's actions, exported through the
// editor for tests.
type dkimWidgets struct {
	DKIMType                                                    *widget.Select
	DKIMGenerateBtn, DKIMImportBtn, DKIMRecordBtn, DKIMCheckBtn *widget.Button
	// DKIMRecordText holds the last records shown: read-only text that can
	// be selected and copied (an Entry took Tab as a character and kept
	// the focus).
	DKIMRecordText *widget.Label
	// DKIMResult says what the last action did.
	DKIMResult *widget.Label
}

// dkimTypes are the key type choices, and what DKIMGenerate takes for each.
var dkimTypes = map[string]string{"RSA 2048": "rsa", "Ed25519": "ed25519", "RSA and Ed25519": "both"}

// dkimSection builds the Signing section's buttons.
func (e *ProfileEditor) dkimSection() fyne.CanvasObject {
	w := &e.dkim
	w.DKIMType = widget.NewSelect([]string{"RSA 2048", "RSA and Ed25519", "Ed25519"}, nil)
	w.DKIMType.SetSelected("RSA 2048")
	w.DKIMGenerateBtn = widget.NewButton("Generate key", func() { e.GenerateDKIM(dkimTypes[w.DKIMType.Selected], false) })
	w.DKIMImportBtn = widget.NewButton("Import PEM file…", e.showDKIMImport)
	w.DKIMRecordBtn = widget.NewButton("Show DNS record", e.ShowDKIMRecord)
	w.DKIMCheckBtn = widget.NewButton("Check DNS now", e.CheckDKIM)
	w.DKIMRecordText = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
	w.DKIMRecordText.Wrapping = fyne.TextWrapBreak
	w.DKIMRecordText.Selectable = true
	w.DKIMResult = widget.NewLabel("Messages are signed when the profile has a key. Ed25519 (RFC 8463) is small, but many receivers verify only RSA: choose both to have each.")
	w.DKIMResult.Wrapping = fyne.TextWrapWord
	return container.NewVBox(container.NewHBox(w.DKIMType, w.DKIMGenerateBtn, w.DKIMImportBtn), container.NewHBox(w.DKIMRecordBtn, w.DKIMCheckBtn), w.DKIMResult)
}

// dkimCore returns the DKIM use-cases and the stored profile's name, or
// says why they cannot run now.
func (e *ProfileEditor) dkimCore(changes bool) (DKIMCore, string, bool) {
	dc, ok := e.v.core.(DKIMCore)
	switch {
	case !ok:
		e.dkimSay("DKIM keys cannot be managed here.", true)
	case e.isNew || e.orig.Name == "":
		e.dkimSay("Save the account first.", true)
	case changes && e.dirty():
		e.dkimSay("Save or undo your changes first: the key is stored with the saved account.", true)
	default:
		return dc, e.orig.Name, true
	}
	return nil, "", false
}

func (e *ProfileEditor) dkimSay(s string, bad bool) {
	e.dkim.DKIMResult.SetText(s)
	e.dkim.DKIMResult.Importance = widget.MediumImportance
	if bad {
		e.dkim.DKIMResult.Importance = widget.DangerImportance
	}
	e.dkim.DKIMResult.Refresh()
}

// GenerateDKIM creates the profile's key (asking before it replaces one)
// and shows the records to publish.
func (e *ProfileEditor) GenerateDKIM(typ string, replace bool) {
	dc, name, ok := e.dkimCore(true)
	if !ok {
		return
	}
	e.dkimInstall(func(ctx context.Context) ([]dkimkey.Record, error) { return dc.DKIMGenerate(ctx, name, typ, replace) },
		dc, func() { e.GenerateDKIM(typ, true) })
}

// ImportDKIM stores the PEM key data as the profile's key.
func (e *ProfileEditor) ImportDKIM(data []byte, replace bool) {
	dc, name, ok := e.dkimCore(true)
	if !ok {
		return
	}
	e.dkimInstall(func(ctx context.Context) ([]dkimkey.Record, error) { return dc.DKIMImport(ctx, name, data, replace) },
		dc, func() { e.ImportDKIM(data, true) })
}

// dkimInstall runs a keygen or import off the UI goroutine, asks before it
// replaces a key, and shows the records.
func (e *ProfileEditor) dkimInstall(f func(context.Context) ([]dkimkey.Record, error), dc DKIMCore, again func()) {
	var recs []dkimkey.Record
	e.dkimSay("Working…", false)
	e.v.background(func(ctx context.Context) error {
		var err error
		recs, err = f(ctx)
		return err
	}, func(err error) {
		switch {
		case err != nil && dc.DKIMKeyExists(err):
			e.dkimSay("The account already has a key.", false)
			if w := e.v.window(); w != nil {
				dialog.ShowConfirm("Replace the DKIM key?", "Mail signed with the old key fails DKIM until the new record is published in DNS. Replace it?",
					func(ok bool) {
						if ok {
							again()
						}
					}, w)
			}
		case err != nil:
			e.dkimSay("Not done: "+err.Error(), true)
		default:
			e.dkimSay("Key stored in the keychain; messages are signed from now on. Publish the record below, then check DNS.", false)
			e.showRecords(recs)
			e.v.Reload()
		}
	})
}

func (e *ProfileEditor) showDKIMImport() {
	if _, _, ok := e.dkimCore(true); !ok {
		return
	}
	d := dialog.NewFileOpen(func(r fyne.URIReadCloser, err error) {
		if err != nil || r == nil {
			if err != nil {
				e.dkimSay("Could not open the file: "+err.Error(), true)
			}
			return
		}
		go func() { // the disk is read off the UI goroutine
			data, err := readLimited(r, 64<<10)
			r.Close()
			e.v.do(func() {
				if err != nil {
					e.dkimSay("Could not read the file: "+err.Error(), true)
					return
				}
				e.ImportDKIM(data, false)
			})
		}()
	}, e.v.window())
	d.SetFilter(storage.NewExtensionFileFilter([]string{".pem", ".key", ".txt"}))
	d.Show()
}

// ShowDKIMRecord shows the records of the profile's key.
func (e *ProfileEditor) ShowDKIMRecord() {
	dc, name, ok := e.dkimCore(false)
	if !ok {
		return
	}
	var recs []dkimkey.Record
	e.v.background(func(ctx context.Context) error {
		var err error
		recs, err = dc.DKIMRecords(ctx, name)
		return err
	}, func(err error) {
		if err != nil {
			e.dkimSay(err.Error(), true)
			return
		}
		e.showRecords(recs)
	})
}

// recordText is the records as the CLI prints them: name, then the value
// as quoted strings of at most 255 bytes.
func recordText(recs []dkimkey.Record) string {
	var b strings.Builder
	for i, r := range recs {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "Name:  %s\nType:  TXT\nValue: %s\n", r.Name, r.Quoted())
	}
	return b.String()
}

// showRecords puts the records in DKIMRecordText and shows them in a
// dialog with a copy button.
func (e *ProfileEditor) showRecords(recs []dkimkey.Record) {
	text := recordText(recs)
	e.dkim.DKIMRecordText.SetText(text)
	w := e.v.window()
	if w == nil {
		return
	}
	copyBtn := widget.NewButton("Copy", func() {
		if a := fyne.CurrentApp(); a != nil {
			a.Clipboard().SetContent(text)
		}
	})
	note := widget.NewLabel("Publish this TXT record at your DNS provider (each quoted piece is at most 255 bytes; some providers want the value without quotes, joined).")
	note.Wrapping = fyne.TextWrapWord
	d := dialog.NewCustom("DKIM DNS record", "Close", borderInOrder(note, copyBtn, nil, nil, container.NewVScroll(e.dkim.DKIMRecordText)), w)
	d.Resize(fyne.NewSize(680, 420))
	d.Show()
}

// CheckDKIM looks the records up in DNS and says what matches.
func (e *ProfileEditor) CheckDKIM() {
	dc, name, ok := e.dkimCore(false)
	if !ok {
		return
	}
	e.dkimSay("Checking DNS…", false)
	var fs []diagnose.Finding
	e.v.background(func(ctx context.Context) error {
		var err error
		fs, err = dc.DKIMCheck(ctx, name)
		return err
	}, func(err error) {
		if err != nil {
			e.dkimSay(err.Error(), true)
			return
		}
		var lines []string
		bad := false
		for _, f := range fs {
			l := strings.ToUpper(string(f.Status)) + ": " + f.Finding
			if f.Hint.Text != "" && f.Status != diagnose.StatusPass {
				l += " " + f.Hint.Text
			}
			bad = bad || f.Status != diagnose.StatusPass
			lines = append(lines, l)
		}
		if len(lines) == 0 {
			err = errors.New("nothing to check")
			e.dkimSay(err.Error(), true)
			return
		}
		e.dkimSay(strings.Join(lines, "\n"), bad)
	})
}
