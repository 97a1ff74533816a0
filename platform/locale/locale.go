// Package locale keeps Fyne quiet about the C and POSIX locales.
//
// Fyne's lang package reads the locale from the environment in its init,
// before main runs, and logs "Fyne error: Error parsing user locale C" on
// stderr for LANG=C, C.UTF-8 or POSIX, the default of Debian and most
// containers: every command of the binary would print it. This package, which
// imports only the standard library and sorts before Fyne's locale
// dependency, is initialised first (the Go specification initialises the
// first ready package by import path): it hides those values for the
// duration of the other packages' init, and Restore puts them back as they
// were. Fyne then sees no locale and uses English, which is what C means.
package locale

import (
	"os"
	"strings"
)

// vars are the variables the locale is read from, in the order of POSIX.
var vars = []string{"LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"}

// hidden holds the values hidden at init, to put back. It is written once,
// by init, before any goroutine runs.
var hidden = map[string]string{}

func init() {
	for _, k := range vars {
		if v, ok := os.LookupEnv(k); ok && IsC(v) {
			hidden[k] = v
			os.Unsetenv(k)
		}
	}
}

// IsC reports whether v names the C or POSIX locale (C, C.UTF-8, C.utf8,
// POSIX), which carries no language.
func IsC(v string) bool {
	base, _, _ := strings.Cut(v, ".")
	base, _, _ = strings.Cut(base, "@")
	return base == "C" || base == "POSIX"
}

// Restore puts back the variables hidden at init, so that the process and
// the programs it starts see the environment they were given. Call it at the
// start of main.
func Restore() {
	for k, v := range hidden {
		os.Setenv(k, v)
	}
}
