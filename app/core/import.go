package core

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/herald-smtp/herald/engine/account"
)

// ErrNeedEmail is returned for an autoconfig file without an email address:
// the file describes a provider, not the person.
var ErrNeedEmail = errors.New("an autoconfig file describes a provider, not you: an email address is needed")

// ErrUnknownFormat is returned for a file that is neither Herald JSON, a
// Thunderbird autoconfig XML nor a prefs.js.
var ErrUnknownFormat = errors.New("neither Herald JSON, a Thunderbird autoconfig XML nor a prefs.js")

// ParseProfiles reads account profiles from a file's bytes, by content
// (and the name's extension): Herald JSON, Thunderbird prefs.js, or an
// autoconfig XML for email. A multi-server autoconfig document is one
// provider with several ways in: one profile, the others its fallbacks in
// the document's order. A missing From becomes email.
func ParseProfiles(filename string, data []byte, email string) ([]account.Profile, error) {
	trimmed := bytes.TrimSpace(data)
	ext := strings.ToLower(filepath.Ext(filename))
	var ps []account.Profile
	var err error
	switch {
	case bytes.HasPrefix(trimmed, []byte("{")) || ext == ".json":
		ps, err = account.ImportJSON(bytes.NewReader(data))
	case bytes.Contains(data, []byte("user_pref(")) || ext == ".js":
		ps, err = account.ParsePrefsJS(bytes.NewReader(data))
	case bytes.Contains(data, []byte("clientConfig")) || ext == ".xml":
		if email == "" {
			return nil, ErrNeedEmail
		}
		ps, err = account.ParseAutoconfig(bytes.NewReader(data), email)
		if err == nil && len(ps) > 1 {
			for _, o := range ps[1:] {
				if o.Server != ps[0].Server && !slices.Contains(ps[0].Fallbacks, o.Server) {
					ps[0].Fallbacks = append(ps[0].Fallbacks, o.Server)
				}
			}
			ps = ps[:1]
		}
	default:
		return nil, ErrUnknownFormat
	}
	if err != nil {
		return nil, err
	}
	if len(ps) == 0 {
		return nil, errors.New("the file holds no outgoing server")
	}
	for i := range ps {
		if ps[i].FromAddress == "" {
			ps[i].FromAddress = email
		}
	}
	return ps, nil
}

// ImportProfiles adds the profiles; with unique, a name already taken gets
// " 2", " 3"… appended (the window's import), else it is an error. It
// returns the names added, in order.
func (c *Core) ImportProfiles(ctx context.Context, ps []account.Profile, unique bool) ([]string, error) {
	var names []string
	for i := range ps {
		p := ps[i]
		base := p.Name
		var err error
		for n := 2; ; n++ {
			err = c.AddProfile(ctx, &p, nil)
			if !unique || !errors.Is(err, account.ErrExists) || n > 50 {
				break
			}
			p.Name = fmt.Sprintf("%s %d", base, n)
		}
		if err != nil {
			return names, fmt.Errorf("profile %d (%q): %w", i+1, base, err)
		}
		names = append(names, p.Name)
	}
	return names, nil
}
