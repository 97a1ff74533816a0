package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"
)

// SigningCore is implemented by a ComposeCore that can tell whether a
// profile DKIM-signs its messages; Compose then shows a DKIM badge next to
// the profile picker.
type SigningCore interface {
	// Signs reports whether the named profile's messages are DKIM-signed.
	Signs(profile string) bool
}

// viaRow is the profile picker with the DKIM badge beside it.
func (c *Compose) viaRow() fyne.CanvasObject {
	c.DKIMBadge = widget.NewLabelWithStyle("DKIM", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	c.DKIMBadge.Importance = widget.SuccessImportance
	c.DKIMBadge.Hide()
	return container.NewBorder(nil, nil, nil, c.DKIMBadge, c.Via)
}

// showSigning shows the badge when the profile name signs; the keychain is
// asked off the UI goroutine.
func (c *Compose) showSigning(name string) {
	sc, ok := c.core.(SigningCore)
	if c.DKIMBadge == nil || !ok || name == "" || name == SandboxChoice {
		if c.DKIMBadge != nil {
			c.DKIMBadge.Hide()
		}
		return
	}
	go func() {
		signs := sc.Signs(name)
		c.do(func() {
			if c.Via.Selected != name {
				return
			}
			if signs {
				c.DKIMBadge.Show()
			} else {
				c.DKIMBadge.Hide()
			}
		})
	}()
}
