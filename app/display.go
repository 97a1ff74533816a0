package app

// NoDisplayError is returned by RunGUIWith, before anything opens, when the
// window has no desktop session to show on (Linux and the BSDs without
// DISPLAY or WAYLAND_DISPLAY). The command line maps it to exit code 2.
type NoDisplayError struct{}

func (NoDisplayError) Error() string {
	return "no desktop session to show the window in (neither DISPLAY nor WAYLAND_DISPLAY is set).\n" +
		"Start Herald from a desktop session, or use a verb, for example 'herald send', 'herald queue list' or 'herald sandbox' (see 'herald help')."
}

// ExitCode is the command line's exit code for this error: 2, bad usage.
func (NoDisplayError) ExitCode() int { return 2 }

// CheckDisplay returns NoDisplayError when goos is a system whose windows
// need an X11 or Wayland display and getenv has neither. macOS and Windows
// always have one.
func CheckDisplay(goos string, getenv func(string) string) error {
	switch goos {
	case "linux", "freebsd", "openbsd", "netbsd", "dragonfly", "illumos", "solaris":
		if getenv("DISPLAY") == "" && getenv("WAYLAND_DISPLAY") == "" {
			return NoDisplayError{}
		}
	}
	return nil
}
