package ui

import "fyne.io/fyne/v2/container"

// splitMemory keeps a view's split positions in the preferences (small UI
// state, never secrets): keep restores one when the view is built, save
// stores them all when the view stops (the window quits).
type splitMemory struct {
	kept []keptSplit
}

type keptSplit struct {
	key string
	sp  *container.Split
}

// keep sets sp's offset from the preference key (the offset set when there
// is none, or no host) and remembers sp for save. It returns sp.
func (m *splitMemory) keep(h Host, key string, sp *container.Split) *container.Split {
	if h != nil {
		sp.Offset = h.Preferences().FloatWithFallback(key, sp.Offset)
	}
	m.kept = append(m.kept, keptSplit{key, sp})
	return sp
}

// restore sets the kept splits' offsets from the preferences, for a view
// built before it had its host.
func (m *splitMemory) restore(h Host) {
	if h == nil {
		return
	}
	for _, k := range m.kept {
		k.sp.Offset = h.Preferences().FloatWithFallback(k.key, k.sp.Offset)
	}
}

// save stores the kept splits' offsets.
func (m *splitMemory) save(h Host) {
	if h == nil {
		return
	}
	for _, k := range m.kept {
		h.Preferences().SetFloat(k.key, k.sp.Offset)
	}
}
