package keychain

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	dbus "github.com/godbus/dbus/v5"
	"github.com/zalando/go-keyring"
)

// memBackend is an in-memory Backend that, like Windows, refuses entries
// over limit bytes. fail, when set, is returned by every call instead.
type memBackend struct {
	mu    sync.Mutex
	limit int
	m     map[string]string
	fail  error
}

func newMem() *memBackend { return &memBackend{limit: 2560, m: map[string]string{}} }

func (b *memBackend) Set(service, user, value string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.fail != nil {
		return b.fail
	}
	if len(value) > b.limit {
		return keyring.ErrSetDataTooBig
	}
	b.m[service+"|"+user] = value
	return nil
}

func (b *memBackend) Get(service, user string) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.fail != nil {
		return "", b.fail
	}
	v, ok := b.m[service+"|"+user]
	if !ok {
		return "", keyring.ErrNotFound
	}
	return v, nil
}

func (b *memBackend) Delete(service, user string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.fail != nil {
		return b.fail
	}
	if _, ok := b.m[service+"|"+user]; !ok {
		return keyring.ErrNotFound
	}
	delete(b.m, service+"|"+user)
	return nil
}

func (b *memBackend) keys() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var ks []string
	for k := range b.m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// bigSecret returns a printable secret of n bytes, like a token or PEM key.
func bigSecret(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	s := "-----BEGIN PRIVATE KEY-----\n" + base64.StdEncoding.EncodeToString(b)
	return s[:n]
}

func mustGet(t *testing.T, k *Keychain, id string, kind Kind, want string) {
	t.Helper()
	got, err := k.Get(id, kind)
	if err != nil {
		t.Fatalf("Get(%s, %s): %v", id, kind, err)
	}
	if got != want {
		t.Fatalf("Get(%s, %s) = %d bytes, want %d bytes (equal: %v)", id, kind, len(got), len(want), got == want)
	}
}

func TestRoundTripShort(t *testing.T) {
	mem := newMem()
	k := New(WithBackend(mem))
	for _, v := range []string{"hunter2", "", "pässwörd ✓", strings.Repeat("x", 2000)} {
		if err := k.Set("acct1", Password, v); err != nil {
			t.Fatalf("Set %q: %v", v, err)
		}
		mustGet(t, k, "acct1", Password, v)
		if got := mem.keys(); !slices.Equal(got, []string{"herald|acct1/password"}) {
			t.Fatalf("entries = %v, want only the main one", got)
		}
	}
	if _, err := k.Get("acct1", DKIMKey); !errors.Is(err, ErrNotFound) || errors.Is(err, ErrUnavailable) {
		t.Fatalf("Get of unset kind: %v, want ErrNotFound", err)
	}
}

func TestRoundTripChunked(t *testing.T) {
	mem := newMem()
	k := New(WithBackend(mem))
	token := bigSecret(t, 10*1024)
	if err := k.Set("acct1", RefreshToken, token); err != nil {
		t.Fatal(err)
	}
	mustGet(t, k, "acct1", RefreshToken, token)
	want := []string{"herald|acct1/oauth-refresh-token"}
	for i := 1; i <= 6; i++ { // 10240 bytes in 2000-byte parts
		want = append(want, fmt.Sprintf("herald|acct1/oauth-refresh-token#%d", i))
	}
	slices.Sort(want)
	if got := mem.keys(); !slices.Equal(got, want) {
		t.Fatalf("entries = %v, want %v", got, want)
	}
	header := mem.m["herald|acct1/oauth-refresh-token"]
	if !strings.HasPrefix(header, "herald-chunked:v1:6:") || strings.Contains(header, token[:20]) {
		t.Fatalf("header = %q", header)
	}
}

func TestChunkedMultibyteSplitsOnRunes(t *testing.T) {
	mem := newMem()
	k := New(WithBackend(mem), WithChunkSize(10))
	v := strings.Repeat("é€😀", 20)
	if err := k.Set("p", Password, v); err != nil {
		t.Fatal(err)
	}
	mustGet(t, k, "p", Password, v)
	for key, part := range mem.m {
		if strings.Contains(key, "#") && (!utf8.ValidString(part) || len(part) > 10) {
			t.Fatalf("part %s = %q: not whole runes or too long", key, part)
		}
	}
}

func TestOverwriteLeavesNoStaleParts(t *testing.T) {
	mem := newMem()
	k := New(WithBackend(mem))
	big, bigger := bigSecret(t, 10*1024), bigSecret(t, 7000)
	steps := []struct {
		value string
		parts int
	}{{big, 6}, {"short", 0}, {bigger, 4}, {big, 6}, {bigger, 4}, {"", 0}}
	for i, s := range steps {
		if err := k.Set("acct1", DKIMKey, s.value); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		mustGet(t, k, "acct1", DKIMKey, s.value)
		if got := len(mem.keys()); got != 1+s.parts {
			t.Fatalf("step %d: %d entries (%v), want %d", i, got, mem.keys(), 1+s.parts)
		}
	}
}

func TestDeleteAndDeleteAll(t *testing.T) {
	mem := newMem()
	k := New(WithBackend(mem))
	if err := k.Delete("acct1", Password); err != nil {
		t.Fatalf("Delete of missing secret: %v", err)
	}
	if err := k.DeleteAll("acct1"); err != nil {
		t.Fatalf("DeleteAll of nothing: %v", err)
	}
	for _, id := range []string{"acct1", "acct2"} {
		for _, s := range []struct {
			kind  Kind
			value string
		}{{Password, "pw"}, {RefreshToken, bigSecret(t, 5000)}, {DKIMKey, bigSecret(t, 3300)}, {ClientSecret, "GOCSPX-s3cret"}} {
			if err := k.Set(id, s.kind, s.value); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := k.Delete("acct1", RefreshToken); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Get("acct1", RefreshToken); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after Delete: %v, want ErrNotFound", err)
	}
	for _, key := range mem.keys() {
		if strings.HasPrefix(key, "herald|acct1/oauth-refresh-token") {
			t.Fatalf("%s left after Delete", key)
		}
	}
	if err := k.DeleteAll("acct1"); err != nil {
		t.Fatal(err)
	}
	for _, key := range mem.keys() {
		if strings.HasPrefix(key, "herald|acct1/") {
			t.Fatalf("%s left after DeleteAll", key)
		}
	}
	if err := k.DeleteAll("acct2"); err != nil {
		t.Fatal(err)
	}
	if left := mem.keys(); len(left) != 0 {
		t.Fatalf("entries left: %v", left)
	}
}

func TestDamagedChunksAreErrors(t *testing.T) {
	secret := bigSecret(t, 6000)
	for name, damage := range map[string]func(m map[string]string){
		"missing part": func(m map[string]string) { delete(m, "herald|p/dkim-key#2") },
		"altered part": func(m map[string]string) { m["herald|p/dkim-key#3"] = m["herald|p/dkim-key#3"][1:] },
		"swapped parts": func(m map[string]string) {
			m["herald|p/dkim-key#1"], m["herald|p/dkim-key#2"] = m["herald|p/dkim-key#2"], m["herald|p/dkim-key#1"]
		},
		"wrong count": func(m map[string]string) {
			m["herald|p/dkim-key"] = strings.Replace(m["herald|p/dkim-key"], ":v1:3:", ":v1:2:", 1)
		},
		"bad header":     func(m map[string]string) { m["herald|p/dkim-key"] = "herald-chunked:v1:x" },
		"future version": func(m map[string]string) { m["herald|p/dkim-key"] = "herald-chunked:v9:3:abc" },
	} {
		t.Run(name, func(t *testing.T) {
			mem := newMem()
			k := New(WithBackend(mem))
			if err := k.Set("p", DKIMKey, secret); err != nil {
				t.Fatal(err)
			}
			damage(mem.m)
			got, err := k.Get("p", DKIMKey)
			if err == nil || got != "" {
				t.Fatalf("Get = %d bytes, %v; want an error and no value", len(got), err)
			}
			if !errors.Is(err, ErrCorrupt) || errors.Is(err, ErrNotFound) || errors.Is(err, ErrUnavailable) {
				t.Fatalf("Get error %v: want ErrCorrupt only", err)
			}
			if strings.Contains(err.Error(), secret[30:60]) {
				t.Fatalf("error contains the secret: %v", err)
			}
		})
	}
}

func TestHeaderLookalikeRoundTrips(t *testing.T) {
	mem := newMem()
	k := New(WithBackend(mem))
	sum := hex.EncodeToString(make([]byte, 32))
	for _, v := range []string{
		"herald-chunked:v1:2:" + sum,
		"herald-chunked:",
		"herald-chunked:v1:1:" + sum + strings.Repeat("z", 3000),
	} {
		if err := k.Set("p", Password, v); err != nil {
			t.Fatal(err)
		}
		mustGet(t, k, "p", Password, v)
		if mem.m["herald|p/password"] == v {
			t.Fatalf("%q stored as is: it would read back as a header", v)
		}
	}
	if err := k.Set("p", Password, "plain"); err != nil {
		t.Fatal(err)
	}
	mustGet(t, k, "p", Password, "plain")
	if n := len(mem.keys()); n != 1 {
		t.Fatalf("%d entries after short overwrite: %v", n, mem.keys())
	}
}

func TestInvalidKeysRejected(t *testing.T) {
	mem := newMem()
	k := New(WithBackend(mem))
	for _, id := range []string{"", "a/b", "/", "a\nb", "a\x00", "tab\there", "\x7f", "bad\xffutf8"} {
		if err := k.Set(id, Password, "pw"); err == nil {
			t.Errorf("Set(%q) accepted", id)
		}
		if _, err := k.Get(id, Password); err == nil || errors.Is(err, ErrNotFound) {
			t.Errorf("Get(%q) = %v, want an invalid-key error", id, err)
		}
		if err := k.Delete(id, Password); err == nil {
			t.Errorf("Delete(%q) accepted", id)
		}
		if err := k.DeleteAll(id); err == nil {
			t.Errorf("DeleteAll(%q) accepted", id)
		}
	}
	for _, kind := range []Kind{"", "Password", "password/x", "other"} {
		if err := k.Set("p", kind, "pw"); err == nil {
			t.Errorf("Set kind %q accepted", kind)
		}
	}
	if len(mem.m) != 0 {
		t.Fatalf("invalid calls stored %v", mem.keys())
	}
	for _, id := range []string{"acct-1", "3f2c9a1e-uuid", "Ünïcode name", "a#b", "with space"} {
		if err := k.Set(id, Password, "pw"); err != nil {
			t.Errorf("Set(%q): %v", id, err)
		}
	}
}

// echoBackend fails every write, echoing the value in its error, to prove
// the Keychain keeps secrets out of error texts.
type echoBackend struct{ *memBackend }

func (e echoBackend) Set(service, user, value string) error {
	return fmt.Errorf("backend refused %s=%s", user, value)
}

func TestErrorsNeverContainTheSecret(t *testing.T) {
	secret := "s3cr3t-" + bigSecret(t, 40)
	big := bigSecret(t, 9000)
	k := New(WithBackend(echoBackend{newMem()}))
	for _, v := range []string{secret, big} {
		err := k.Set("p", RefreshToken, v)
		if err == nil {
			t.Fatal("Set succeeded on a failing backend")
		}
		if strings.Contains(err.Error(), v[:30]) || strings.Contains(err.Error(), v[len(v)-30:]) {
			t.Fatalf("error contains the secret: %v", err)
		}
		if !strings.Contains(err.Error(), "keychain set p/oauth-refresh-token") {
			t.Fatalf("error lacks context: %v", err)
		}
	}

	// Too-large values and unavailable keychains say so without the secret.
	mem := newMem()
	mem.limit = 100
	k = New(WithBackend(mem), WithChunkSize(500))
	err := k.Set("p", Password, big[:400])
	if err == nil || strings.Contains(err.Error(), big[:30]) || !errors.Is(err, keyring.ErrSetDataTooBig) {
		t.Fatalf("Set too big: %v", err)
	}
	mem.fail = dbus.Error{Name: "org.freedesktop.DBus.Error.ServiceUnknown", Body: []any{"The name org.freedesktop.secrets was not provided by any .service files"}}
	if err := k.Set("p", Password, secret); err == nil || strings.Contains(err.Error(), secret) {
		t.Fatalf("Set unavailable: %v", err)
	}
}

func TestUnavailableErrorsAreWrapped(t *testing.T) {
	cases := map[string]struct {
		err  error
		hint string
	}{
		"no secret service":  {dbus.Error{Name: "org.freedesktop.DBus.Error.ServiceUnknown", Body: []any{"The name org.freedesktop.secrets was not provided by any .service files"}}, "gnome-keyring"},
		"pointer dbus error": {&dbus.Error{Name: "org.freedesktop.DBus.Error.NameHasNoOwner"}, "gnome-keyring"},
		"activation failed":  {dbus.Error{Name: "org.freedesktop.DBus.Error.Spawn.ChildExited"}, "gnome-keyring"},
		"timeout":            {dbus.Error{Name: "org.freedesktop.DBus.Error.NoReply"}, "did not answer"},
		"locked":             {dbus.Error{Name: "org.freedesktop.Secret.Error.IsLocked"}, "locked"},
		"unlock dismissed":   {errors.New("failed to unlock correct collection '/org/freedesktop/secrets/aliases/default'"), "not unlocked"},
		"no default keyring": {dbus.Error{Name: "org.freedesktop.Secret.Error.NoSuchObject"}, "no default keyring"},
		"stale bus address":  {fmt.Errorf("wrapped: %w", &net.OpError{Op: "dial", Net: "unix", Err: os.ErrNotExist}), "cannot connect"},
		"closed connection":  {dbus.ErrClosed, "cannot connect"},
		"no bus address":     {errors.New("dbus: couldn't determine address of session bus"), "cannot connect"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			mem := newMem()
			k := New(WithBackend(mem))
			if err := k.Set("p", Password, "pw"); err != nil {
				t.Fatal(err)
			}
			mem.fail = c.err
			_, getErr := k.Get("p", Password)
			for op, err := range map[string]error{
				"get": getErr, "set": k.Set("p", Password, "pw2"), "delete": k.Delete("p", Password),
				"deleteall": k.DeleteAll("p"), "available": k.Available(),
			} {
				if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrNotFound) {
					t.Fatalf("%s: %v, want ErrUnavailable and not ErrNotFound", op, err)
				}
				if !wraps(err, c.err) {
					t.Errorf("%s: %v does not wrap the backend error", op, err)
				}
				if !strings.Contains(err.Error(), c.hint) || !strings.Contains(err.Error(), "ask for the secret each time") {
					t.Errorf("%s: %q lacks the hint %q", op, err, c.hint)
				}
			}
		})
	}

	// Other backend failures are neither unavailable nor not-found.
	mem := newMem()
	mem.fail = errors.New("some other failure")
	k := New(WithBackend(mem))
	if _, err := k.Get("p", Password); err == nil || errors.Is(err, ErrUnavailable) || errors.Is(err, ErrNotFound) {
		t.Fatalf("Get: %v", err)
	}
}

// wraps reports whether err wraps target, comparing D-Bus errors (which
// hold a slice, so errors.Is cannot) by name.
func wraps(err, target error) bool {
	if name := dbusErrorName(target); name != "" {
		return dbusErrorName(err) == name
	}
	return errors.Is(err, target)
}

func TestAvailableWithFake(t *testing.T) {
	mem := newMem()
	k := New(WithBackend(mem), WithService("svc"))
	if err := k.Available(); err != nil {
		t.Fatal(err)
	}
	if n := len(mem.keys()); n != 0 {
		t.Fatalf("probe left %v", mem.keys())
	}
}

// TestNoSessionBus checks that, with no D-Bus session bus, the default
// backend reports ErrUnavailable without go-keyring ever running: a fake
// dbus-launch first on PATH records any call, and godbus would also have
// set DBUS_SESSION_BUS_ADDRESS after autolaunching.
func TestNoSessionBus(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the D-Bus session check is for Linux")
	}
	bin := t.TempDir()
	marker := filepath.Join(bin, "dbus-launch-ran")
	script := "#!/bin/sh\ntouch '" + marker + "'\nexit 1\n"
	if err := os.WriteFile(filepath.Join(bin, "dbus-launch"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))

	for _, addr := range []string{"", "autolaunch:"} {
		t.Setenv("DBUS_SESSION_BUS_ADDRESS", addr)
		k := New()
		k.busSocket = filepath.Join(t.TempDir(), "bus") // as if /run/user/<uid>/bus were absent
		_, getErr := k.Get("p", Password)
		for op, err := range map[string]error{
			"available": k.Available(), "get": getErr, "set": k.Set("p", Password, "pw"),
			"delete": k.Delete("p", Password), "deleteall": k.DeleteAll("p"),
		} {
			if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrNotFound) {
				t.Fatalf("%s with DBUS_SESSION_BUS_ADDRESS=%q: %v, want ErrUnavailable", op, addr, err)
			}
			if !strings.Contains(err.Error(), "no D-Bus session bus") {
				t.Errorf("%s: %q does not say what is missing", op, err)
			}
		}
		if got := os.Getenv("DBUS_SESSION_BUS_ADDRESS"); got != addr {
			t.Fatalf("DBUS_SESSION_BUS_ADDRESS changed to %q: a bus was launched", got)
		}
		if _, err := os.Stat(marker); err == nil {
			t.Fatal("dbus-launch was run")
		}
	}
}

// TestRealSecretService runs against the OS keychain through go-keyring.
func TestRealSecretService(t *testing.T) {
	var suffix [6]byte
	if _, err := rand.Read(suffix[:]); err != nil {
		t.Fatal(err)
	}
	k := New(WithService("herald-test-" + hex.EncodeToString(suffix[:])))
	if err := k.Available(); errors.Is(err, ErrUnavailable) {
		t.Skipf("no Secret Service: run under dbus-run-session with gnome-keyring unlocked, as .ci/run does (%v)", err)
	} else if err != nil {
		t.Fatalf("Available: %v", err)
	}
	const id = "real-profile"
	t.Cleanup(func() {
		if err := k.DeleteAll(id); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	big := bigSecret(t, 6*1024)
	if err := k.Set(id, Password, "hunter2 ✓"); err != nil {
		t.Fatal(err)
	}
	if err := k.Set(id, DKIMKey, big); err != nil {
		t.Fatal(err)
	}
	mustGet(t, k, id, Password, "hunter2 ✓")
	mustGet(t, k, id, DKIMKey, big)
	if err := k.Set(id, DKIMKey, "short now"); err != nil {
		t.Fatal(err)
	}
	mustGet(t, k, id, DKIMKey, "short now")
	if _, err := k.backend.Get(k.service, id+"/dkim-key#1"); !errors.Is(err, keyring.ErrNotFound) {
		t.Fatalf("part 1 after short overwrite: %v, want not found", err)
	}
	if err := k.Set(id, DKIMKey, big); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []Kind{Password, DKIMKey} {
		if err := k.Delete(id, kind); err != nil {
			t.Fatal(err)
		}
		if _, err := k.Get(id, kind); !errors.Is(err, ErrNotFound) || errors.Is(err, ErrUnavailable) {
			t.Fatalf("Get %s after Delete: %v, want ErrNotFound", kind, err)
		}
	}
	for i := 1; i <= 4; i++ {
		if _, err := k.backend.Get(k.service, fmt.Sprintf("%s/dkim-key#%d", id, i)); !errors.Is(err, keyring.ErrNotFound) {
			t.Fatalf("part %d after Delete: %v, want not found", i, err)
		}
	}
	if err := k.Delete(id, Password); err != nil {
		t.Fatalf("Delete of a missing secret: %v", err)
	}
}
