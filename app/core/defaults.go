package core

import (
	"context"
	"errors"

	"github.com/herald-smtp/herald/engine/account"
	"github.com/herald-smtp/herald/engine/feed"
	"github.com/herald-smtp/herald/engine/store"
)

// settingDefaultProfile names the setting that holds the default profile's
// id (an id survives a rename).
const settingDefaultProfile = "default-profile"

// DefaultProfile returns the profile new messages start with, or nil for
// the sandbox (the default until the user chooses one, and again when the
// chosen profile is removed).
func (c *Core) DefaultProfile(ctx context.Context) (*account.Profile, error) {
	id, err := c.Store.Setting(ctx, settingDefaultProfile)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	p, err := c.Book.GetByID(ctx, id)
	if errors.Is(err, account.ErrNotFound) {
		return nil, nil
	}
	return p, err
}

// SetDefaultProfile makes p the default profile (nil: the sandbox).
func (c *Core) SetDefaultProfile(ctx context.Context, p *account.Profile) error {
	id := ""
	if p != nil {
		id = p.ID
	}
	if err := c.Store.SetSetting(ctx, settingDefaultProfile, id); err != nil {
		return err
	}
	c.Feed.Publish(feed.Event{Topic: feed.Profiles, Profile: id, Text: "default"})
	return nil
}
