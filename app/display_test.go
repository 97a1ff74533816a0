package app

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestXDisplayAddrs(t *testing.T) {
	unix99 := []XAddr{{"unix", "@/tmp/.X11-unix/X99"}, {"unix", "/tmp/.X11-unix/X99"}, {"tcp", "localhost:6099"}}
	cases := []struct {
		display, goos string
		want          []XAddr
	}{
		{":99", "linux", unix99},
		{":99.0", "linux", unix99},
		{"unix:99", "linux", unix99[:2]},
		{"unix/:99", "linux", unix99[:2]},
		{":0", "freebsd", []XAddr{{"unix", "/tmp/.X11-unix/X0"}, {"tcp", "localhost:6000"}}},
		{"localhost:10.0", "linux", []XAddr{{"tcp", "localhost:6010"}}},
		{"tcp/gw.example:2", "linux", []XAddr{{"tcp", "gw.example:6002"}}},
		{"10.0.0.5:1", "linux", []XAddr{{"tcp", "10.0.0.5:6001"}}},
		{"[::1]:3", "linux", []XAddr{{"tcp", "[::1]:6003"}}},
		{"::1:3", "linux", []XAddr{{"tcp", "[::1]:6003"}}},
		{"vax::0", "linux", nil},
		{"decnet/vax:0", "linux", nil},
		{"/private/tmp/launch-x/org.xquartz:0", "linux", nil},
		{"nonsense", "linux", nil},
		{":x", "linux", nil},
	}
	for _, c := range cases {
		got, ok := XDisplayAddrs(c.display, c.goos)
		if ok != (c.want != nil) || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q: %v %v, want %v", c.display, got, ok, c.want)
		}
	}
}

// unusedDisplay returns a display number with no X server socket.
func unusedDisplay(t *testing.T) int {
	t.Helper()
	for n := 99; n < 200; n++ {
		if _, err := os.Stat(filepath.Join("/tmp/.X11-unix", "X"+strconv.Itoa(n))); errors.Is(err, os.ErrNotExist) {
			return n
		}
	}
	t.Skip("no unused display number")
	return 0
}

func TestCheckDisplayReachable(t *testing.T) {
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	ctx := context.Background()
	n := unusedDisplay(t)
	d := ":" + strconv.Itoa(n)
	err := CheckDisplayReachable(ctx, "linux", env(map[string]string{"DISPLAY": d}), nil)
	var ue *DisplayUnreachableError
	if !errors.As(err, &ue) || ue.ExitCode() != 2 || !strings.Contains(err.Error(), "DISPLAY="+d) || !strings.Contains(err.Error(), "/tmp/.X11-unix/X"+d[1:]) || !strings.Contains(err.Error(), "herald help") {
		t.Fatalf("DISPLAY=%s: %v", d, err)
	}
	// Not checked: no DISPLAY (CheckDisplay's case), Wayland, macOS, a
	// form left to the toolkit.
	for _, c := range []struct {
		goos string
		kv   map[string]string
	}{
		{"linux", map[string]string{}},
		{"linux", map[string]string{"DISPLAY": d, "WAYLAND_DISPLAY": "wayland-0"}},
		{"darwin", map[string]string{"DISPLAY": d}},
		{"linux", map[string]string{"DISPLAY": "vax::0"}},
	} {
		if err := CheckDisplayReachable(ctx, c.goos, env(c.kv), nil); err != nil {
			t.Errorf("%s %v: %v", c.goos, c.kv, err)
		}
	}
	// A server listening on the display's TCP port is reached.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	// Only the dialer sees the address: the display's port goes to ours.
	var tried []string
	dialTCP := func(ctx context.Context, network, addr string) (net.Conn, error) {
		tried = append(tried, network+" "+addr)
		if addr == "127.0.0.1:6007" {
			addr = l.Addr().String()
		}
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	if err := CheckDisplayReachable(ctx, "linux", env(map[string]string{"DISPLAY": "127.0.0.1:7.0"}), dialTCP); err != nil || len(tried) != 1 {
		t.Fatalf("a listening server: %v (tried %v)", err, tried)
	}
	// A Unix socket at the display's path is reached.
	dir := t.TempDir()
	sock := filepath.Join(dir, "X")
	ul, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ul.Close()
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		if addr == "/tmp/.X11-unix/X"+strconv.Itoa(n) {
			addr = sock
		}
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	if err := CheckDisplayReachable(ctx, "linux", env(map[string]string{"DISPLAY": d}), dial); err != nil {
		t.Fatalf("a listening socket: %v", err)
	}
}
