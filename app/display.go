package app

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

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

// DisplayUnreachableError is returned by RunGUIWith, before anything opens,
// when DISPLAY names an X server Herald cannot reach (no server on that
// display number, a stale DISPLAY left by an SSH session that ended): GLFW
// would panic opening it. The command line maps it to exit code 2.
type DisplayUnreachableError struct {
	// Display is DISPLAY's value.
	Display string
	// Tried lists the addresses tried (socket paths, host:port); empty
	// when the server answered but the toolkit could not open it.
	Tried []string
	// Err is why the connection failed (at the last address tried).
	Err error
}

func (e *DisplayUnreachableError) Error() string {
	why := fmt.Sprintf("no X server answers at %s", strings.Join(e.Tried, " or "))
	if len(e.Tried) == 0 {
		// The toolkit's own words (on the line before) are its internals.
		why = "the X server answered but the window could not open on it (is this user allowed on that display? see XAUTHORITY)"
	}
	return fmt.Sprintf("cannot open the X display DISPLAY=%s: %s.\n", e.Display, why) +
		"Check that the X server runs and that DISPLAY names it (a DISPLAY left over from an ended SSH session points nowhere), " +
		"or use a verb, for example 'herald send', 'herald queue list' or 'herald sandbox' (see 'herald help')."
}

// Unwrap returns the cause.
func (e *DisplayUnreachableError) Unwrap() error { return e.Err }

// ExitCode is the command line's exit code for this error: 2, bad usage.
func (*DisplayUnreachableError) ExitCode() int { return 2 }

// displayTimeout bounds the attempt to reach the X server.
const displayTimeout = 2 * time.Second

// Dialer opens a connection (net.Dialer's DialContext).
type Dialer func(ctx context.Context, network, address string) (net.Conn, error)

// CheckDisplayReachable tries to connect to the X server DISPLAY names (on
// the systems CheckDisplay checks, when DISPLAY is set and WAYLAND_DISPLAY
// is not), with a short timeout, and returns a *DisplayUnreachableError
// when no address answers. A DISPLAY whose form it does not know (DECnet,
// another protocol) is left to the toolkit. dial nil is net.Dialer's.
func CheckDisplayReachable(ctx context.Context, goos string, getenv func(string) string, dial Dialer) error {
	switch goos {
	case "linux", "freebsd", "openbsd", "netbsd", "dragonfly", "illumos", "solaris":
	default:
		return nil
	}
	d := getenv("DISPLAY")
	if d == "" || getenv("WAYLAND_DISPLAY") != "" {
		return nil
	}
	addrs, ok := XDisplayAddrs(d, goos)
	if !ok {
		return nil
	}
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	ctx, cancel := context.WithTimeout(ctx, displayTimeout)
	defer cancel()
	var err error
	var tried []string
	for _, a := range addrs {
		var c net.Conn
		if c, err = dial(ctx, a.Network, a.Address); err == nil {
			c.Close()
			return nil
		}
		if !strings.HasPrefix(a.Address, "@") { // the abstract twin of a path
			tried = append(tried, a.Address)
		}
	}
	return &DisplayUnreachableError{Display: d, Tried: tried, Err: err}
}

// XAddr is one address an X display may be reached at.
type XAddr struct {
	// Network is "unix" or "tcp".
	Network string
	// Address is the socket's path ("@" first: Linux's abstract namespace)
	// or host:port.
	Address string
}

// XDisplayAddrs returns the addresses, in the order Xlib tries them, of the
// X display named by display ("[protocol/][host]:number[.screen]"):
// ":N" and "unix:N" are the local server's sockets (on Linux the abstract
// one first; for ":N" then TCP on localhost), "host:N" is TCP port 6000+N
// on host. ok is false for a form
// it does not know (DECnet's "host::N", a protocol other than tcp, inet,
// inet6 and unix, a socket path).
func XDisplayAddrs(display, goos string) (addrs []XAddr, ok bool) {
	protocol, rest := "", display
	if i := strings.Index(rest, "/"); i >= 0 {
		protocol, rest = rest[:i], rest[i+1:]
		switch protocol {
		case "tcp", "inet", "inet6", "unix":
		default:
			return nil, false
		}
	}
	i := strings.LastIndex(rest, ":")
	if i < 0 {
		return nil, false
	}
	host, num := rest[:i], rest[i+1:]
	if j := strings.Index(num, "."); j >= 0 {
		num = num[:j] // the screen
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 0 || n > 65535-6000 {
		return nil, false
	}
	if strings.HasSuffix(host, ":") && net.ParseIP(host) == nil {
		return nil, false // DECnet: "host::0"
	}
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	}
	if protocol == "unix" || (protocol == "" && (host == "" || host == "unix")) {
		if host != "" && host != "unix" {
			return nil, false
		}
		path := "/tmp/.X11-unix/X" + strconv.Itoa(n)
		if goos == "linux" {
			addrs = append(addrs, XAddr{"unix", "@" + path})
		}
		addrs = append(addrs, XAddr{"unix", path})
		if protocol == "" && host == "" {
			// Xlib's last resort for ":N": TCP on this machine.
			addrs = append(addrs, XAddr{"tcp", net.JoinHostPort("localhost", strconv.Itoa(6000+n))})
		}
		return addrs, true
	}
	if host == "" || strings.ContainsAny(host, "/") {
		return nil, false
	}
	return []XAddr{{"tcp", net.JoinHostPort(host, strconv.Itoa(6000+n))}}, true
}
