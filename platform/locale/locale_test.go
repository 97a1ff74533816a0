package locale

import "testing"

func TestIsC(t *testing.T) {
	for v, want := range map[string]bool{"C": true, "C.UTF-8": true, "C.utf8": true, "POSIX": true, "C@euro": true,
		"en_US.UTF-8": false, "de_DE.UTF-8": false, "": false, "Ca_ES": false} {
		if IsC(v) != want {
			t.Errorf("IsC(%q) = %v, want %v", v, !want, want)
		}
	}
}
