package store

import (
	"errors"
	"path/filepath"
	"testing"
	"time"
)

func TestDraftsSaveListLoadDelete(t *testing.T) {
	st, err := Open(filepath.Join(t.TempDir(), "herald.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := t.Context()
	t0 := time.Unix(1_800_000_000, 0)
	a, err := st.SaveDraft(ctx, DraftRow{Profile: "work", Subject: "first", Recipients: "ann@example.com", Data: []byte(`{"a":1}`), Updated: t0})
	if err != nil {
		t.Fatal(err)
	}
	b, err := st.SaveDraft(ctx, DraftRow{Subject: "second", Data: []byte(`{}`), Updated: t0.Add(time.Minute)})
	if err != nil || b == a {
		t.Fatalf("second draft: id %d, %v", b, err)
	}
	list, err := st.ListDrafts(ctx, 10, 0)
	if err != nil || len(list) != 2 || list[0].ID != b || list[1].Data != nil {
		t.Fatalf("list %+v, %v: want the newest first, without data", list, err)
	}
	// Saving over the first makes it the newest.
	if id, err := st.SaveDraft(ctx, DraftRow{ID: a, Profile: "work", Subject: "first, edited", Data: []byte(`{"a":2}`), Updated: t0.Add(2 * time.Minute)}); err != nil || id != a {
		t.Fatalf("save over: %d, %v", id, err)
	}
	got, err := st.Draft(ctx, a)
	if err != nil || got.Subject != "first, edited" || string(got.Data) != `{"a":2}` || !got.Created.Equal(t0) {
		t.Fatalf("load %+v, %v", got, err)
	}
	if list, _ := st.ListDrafts(ctx, 1, 0); len(list) != 1 || list[0].ID != a {
		t.Fatalf("page of one: %+v", list)
	}
	if err := st.DeleteDraft(ctx, a); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Draft(ctx, a); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted draft loads: %v", err)
	}
	if err := st.DeleteDraft(ctx, a); !errors.Is(err, ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
	if _, err := st.SaveDraft(ctx, DraftRow{ID: a, Data: []byte(`{}`)}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("save over a deleted draft: %v", err)
	}
}
