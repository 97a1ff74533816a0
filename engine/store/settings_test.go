package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestSettingsAndProfileTests(t *testing.T) {
	st, err := Open(PathIn(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	if _, err := st.Setting(ctx, "default-profile"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unset setting: %v", err)
	}
	for _, v := range []string{"p1", "p2"} {
		if err := st.SetSetting(ctx, "default-profile", v); err != nil {
			t.Fatal(err)
		}
	}
	if v, err := st.Setting(ctx, "default-profile"); err != nil || v != "p2" {
		t.Fatalf("setting = %q, %v", v, err)
	}
	if err := st.SetSetting(ctx, "default-profile", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Setting(ctx, "default-profile"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted setting: %v", err)
	}
	now := time.Now().Truncate(time.Millisecond)
	for _, ok := range []bool{false, true} {
		if err := st.SetProfileTest(ctx, ProfileTest{Profile: "p1", Tested: now, OK: ok, Summary: "s", Report: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	pt, err := st.ProfileTest(ctx, "p1")
	if err != nil || !pt.OK || !pt.Tested.Equal(now) || string(pt.Report) != "{}" {
		t.Fatalf("profile test = %+v, %v", pt, err)
	}
	if _, err := st.ProfileTest(ctx, "nobody"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("untested profile: %v", err)
	}
}
