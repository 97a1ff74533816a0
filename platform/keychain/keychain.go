// Package keychain stores Herald's secrets (SMTP passwords, OAuth refresh
// tokens, DKIM private keys) in the operating system's keychain: the Secret
// Service over D-Bus on Linux (gnome-keyring, KeePassXC), the login keychain
// on macOS and the Credential Manager on Windows, all through
// github.com/zalando/go-keyring. It is the only code in Herald that touches
// secrets; nothing is ever written to a plaintext file.
//
// Each secret lives under the service "herald" and the user
// "<profileID>/<kind>", i.e. herald/<profile-id>/<kind>. A value longer than
// the chunk size (2000 bytes by default, below Windows' 2560-byte cap) is
// split: the main entry then holds a header
// "herald-chunked:v1:<N>:<sha256 hex of the whole value>" and the parts live
// under "<profileID>/<kind>#1" … "#N". Get joins the parts and checks the
// hash, so a damaged secret gives an error wrapping ErrCorrupt, never a
// truncated one.
//
// When no keychain can be reached, every call returns an error wrapping
// ErrUnavailable whose text says what is missing and how to fix it; callers
// should then offer to ask for the secret each time. ErrUnavailable is never
// reported as ErrNotFound. Error texts never contain a secret.
package keychain

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"unicode"
	"unicode/utf8"

	dbus "github.com/godbus/dbus/v5"
	"github.com/zalando/go-keyring"
)

// Kind names which secret of a profile an entry holds.
type Kind string

// The kinds of secret Herald stores per profile.
const (
	// Password is an account's SMTP password.
	Password Kind = "password"
	// RefreshToken is an OAuth 2 refresh token.
	RefreshToken Kind = "oauth-refresh-token"
	// DKIMKey is a PEM-encoded DKIM private key.
	DKIMKey Kind = "dkim-key"
	// ClientSecret is an OAuth 2 client secret (Google's desktop clients).
	ClientSecret Kind = "oauth-client-secret"
)

// kinds lists every Kind, for validation and DeleteAll.
var kinds = [...]Kind{Password, RefreshToken, DKIMKey, ClientSecret}

var (
	// ErrNotFound is wrapped by errors for a secret that is not stored.
	ErrNotFound = errors.New("secret not found in keychain")
	// ErrUnavailable is wrapped by errors when no keychain can be reached.
	ErrUnavailable = errors.New("no keychain reachable")
	// ErrCorrupt is wrapped by errors for a stored secret whose parts are missing or do not match its hash.
	ErrCorrupt = errors.New("stored secret is damaged")
)

const (
	defaultService   = "herald"
	defaultChunkSize = 2000
	minChunkSize     = 8
	maxParts         = 1000
	headerPrefix     = "herald-chunked:"
	headerV1         = headerPrefix + "v1:"
	probeUser        = ".herald-probe" // has no "/", so never clashes with a secret's key
	probeValue       = "herald keychain probe"
	askEachTime      = "Herald can still ask for the secret each time instead"
)

// Backend is the store the Keychain writes to (by default the OS keychain through go-keyring); its Get and Delete must return an error wrapping keyring.ErrNotFound for a missing entry.
type Backend interface {
	Set(service, user, value string) error
	Get(service, user string) (string, error)
	Delete(service, user string) error
}

// goKeyring is the default Backend.
type goKeyring struct{}

func (goKeyring) Set(service, user, value string) error    { return keyring.Set(service, user, value) }
func (goKeyring) Get(service, user string) (string, error) { return keyring.Get(service, user) }
func (goKeyring) Delete(service, user string) error        { return keyring.Delete(service, user) }

// Keychain reads and writes the secrets of Herald's profiles.
type Keychain struct {
	service   string
	chunkSize int
	backend   Backend
	// busSocket is the per-user D-Bus socket that godbus falls back to when
	// DBUS_SESSION_BUS_ADDRESS is unset; empty when the bus check is off
	// (a Backend was given, or the OS has no Secret Service).
	busSocket string
	busCheck  bool
}

// Option configures a Keychain made by New.
type Option func(*Keychain)

// WithService sets the keychain service name (default "herald"); an empty name is ignored.
func WithService(name string) Option {
	return func(k *Keychain) {
		if name != "" {
			k.service = name
		}
	}
}

// WithChunkSize sets the largest value stored in one entry (default 2000 bytes, minimum 8).
func WithChunkSize(n int) Option {
	return func(k *Keychain) { k.chunkSize = max(n, minChunkSize) }
}

// WithBackend replaces the OS keychain with b (a nil b is ignored).
func WithBackend(b Backend) Option {
	return func(k *Keychain) {
		if b != nil {
			k.backend = b
			k.busCheck = false
		}
	}
}

// New returns a Keychain on the OS keychain, changed by opts.
func New(opts ...Option) *Keychain {
	k := &Keychain{service: defaultService, chunkSize: defaultChunkSize, backend: goKeyring{}}
	switch runtime.GOOS {
	case "linux", "freebsd", "openbsd", "netbsd", "dragonfly": // go-keyring uses the Secret Service
		k.busCheck = true
		k.busSocket = fmt.Sprintf("/run/user/%d/bus", os.Getuid())
	}
	for _, o := range opts {
		o(k)
	}
	return k
}

// Set stores secret as the kind secret of the profile, replacing any earlier one.
func (k *Keychain) Set(profileID string, kind Kind, secret string) error {
	user, err := key(profileID, kind)
	if err != nil {
		return fmt.Errorf("keychain set: %w", err)
	}
	if err := k.checkBus("set", user); err != nil {
		return err
	}
	if len(secret) <= k.chunkSize && !strings.HasPrefix(secret, headerPrefix) {
		if err := k.backend.Set(k.service, user, secret); err != nil {
			return k.fail("set", user, err, secret)
		}
		return k.deleteParts("set", user, 1)
	}
	parts := split(secret, k.chunkSize)
	if len(parts) > maxParts {
		return fmt.Errorf("keychain set %s: secret of %d bytes is too large", user, len(secret))
	}
	// Parts first, header last: if a write fails the old header no longer
	// matches its parts, so Get reports ErrCorrupt rather than a wrong secret.
	for i, p := range parts {
		if err := k.backend.Set(k.service, partKey(user, i+1), p); err != nil {
			return k.fail("set", partKey(user, i+1), err, secret, p)
		}
	}
	sum := sha256.Sum256([]byte(secret))
	header := headerV1 + strconv.Itoa(len(parts)) + ":" + hex.EncodeToString(sum[:])
	if err := k.backend.Set(k.service, user, header); err != nil {
		return k.fail("set", user, err)
	}
	return k.deleteParts("set", user, len(parts)+1)
}

// Get returns the kind secret of the profile; the error wraps ErrNotFound when none is stored.
func (k *Keychain) Get(profileID string, kind Kind) (string, error) {
	user, err := key(profileID, kind)
	if err != nil {
		return "", fmt.Errorf("keychain get: %w", err)
	}
	if err := k.checkBus("get", user); err != nil {
		return "", err
	}
	v, err := k.backend.Get(k.service, user)
	if err != nil {
		return "", k.fail("get", user, err)
	}
	if !strings.HasPrefix(v, headerPrefix) {
		return v, nil
	}
	n, sum, err := parseHeader(v)
	if err != nil {
		return "", fmt.Errorf("keychain get %s: %w", user, err)
	}
	var b strings.Builder
	for i := 1; i <= n; i++ {
		p, err := k.backend.Get(k.service, partKey(user, i))
		if errors.Is(err, keyring.ErrNotFound) {
			return "", fmt.Errorf("keychain get %s: %w: part %d of %d is missing; store the secret again", user, ErrCorrupt, i, n)
		}
		if err != nil {
			return "", k.fail("get", partKey(user, i), err)
		}
		b.WriteString(p)
	}
	got := sha256.Sum256([]byte(b.String()))
	if hex.EncodeToString(got[:]) != sum {
		return "", fmt.Errorf("keychain get %s: %w: its %d parts do not match the stored hash; store the secret again", user, ErrCorrupt, n)
	}
	return b.String(), nil
}

// Delete removes the kind secret of the profile and its parts; a missing secret is not an error.
func (k *Keychain) Delete(profileID string, kind Kind) error {
	user, err := key(profileID, kind)
	if err != nil {
		return fmt.Errorf("keychain delete: %w", err)
	}
	if err := k.checkBus("delete", user); err != nil {
		return err
	}
	// Parts first: if this fails half way, the header still leads a later
	// Delete to the parts that are left.
	if err := k.deleteParts("delete", user, 1); err != nil {
		return err
	}
	if err := k.backend.Delete(k.service, user); err != nil && !errors.Is(err, keyring.ErrNotFound) {
		return k.fail("delete", user, err)
	}
	return nil
}

// DeleteAll removes every kind of secret of the profile.
func (k *Keychain) DeleteAll(profileID string) error {
	var errs []error
	for _, kind := range kinds {
		err := k.Delete(profileID, kind)
		if errors.Is(err, ErrUnavailable) || errors.Is(err, errInvalid) {
			return err // the same for every kind: say it once
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Available returns nil when the keychain works (it stores, reads back and removes a probe entry), else an error wrapping ErrUnavailable or saying what failed.
func (k *Keychain) Available() error {
	if err := k.checkBus("probe", probeUser); err != nil {
		return err
	}
	if err := k.backend.Set(k.service, probeUser, probeValue); err != nil {
		return k.fail("probe", probeUser, err)
	}
	v, err := k.backend.Get(k.service, probeUser)
	if err != nil {
		return k.fail("probe", probeUser, err)
	}
	if err := k.backend.Delete(k.service, probeUser); err != nil && !errors.Is(err, keyring.ErrNotFound) {
		return k.fail("probe", probeUser, err)
	}
	if v != probeValue {
		return fmt.Errorf("keychain probe %s: read back a different value than was stored", probeUser)
	}
	return nil
}

// deleteParts deletes user#from, user#from+1, … up to the first one that is
// not stored. Parts are written and deleted in order, so they stay contiguous.
func (k *Keychain) deleteParts(op, user string, from int) error {
	for i := from; i <= maxParts; i++ {
		err := k.backend.Delete(k.service, partKey(user, i))
		if errors.Is(err, keyring.ErrNotFound) {
			return nil
		}
		if err != nil {
			return k.fail(op, partKey(user, i), err)
		}
	}
	return nil
}

// checkBus keeps go-keyring away from a Linux session without a D-Bus
// session bus: godbus would then run dbus-launch, which leaves a daemon
// behind. godbus uses DBUS_SESSION_BUS_ADDRESS or else /run/user/<uid>/bus
// before it autolaunches, so either one is enough.
func (k *Keychain) checkBus(op, user string) error {
	if !k.busCheck {
		return nil
	}
	if a := os.Getenv("DBUS_SESSION_BUS_ADDRESS"); a != "" && a != "autolaunch:" {
		return nil
	}
	if fi, err := os.Stat(k.busSocket); err == nil && fi.Mode().Type() == os.ModeSocket {
		return nil
	}
	return fmt.Errorf("keychain %s %s: %w: no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set; start Herald from a desktop session, or under dbus-run-session with gnome-keyring unlocked); %s",
		op, user, ErrUnavailable, askEachTime)
}

// fail wraps a backend error with the operation and key, as ErrNotFound or
// ErrUnavailable where it means that, with any of secrets cut out of its text.
func (k *Keychain) fail(op, user string, err error, secrets ...string) error {
	if errors.Is(err, keyring.ErrNotFound) {
		return fmt.Errorf("keychain %s %s: %w", op, user, ErrNotFound)
	}
	cause := redact(err, secrets)
	if why := unavailable(err); why != "" {
		return fmt.Errorf("keychain %s %s: %w: %s; %s (%w)", op, user, ErrUnavailable, why, askEachTime, cause)
	}
	if errors.Is(err, keyring.ErrSetDataTooBig) {
		return fmt.Errorf("keychain %s %s: value too large for this keychain, use a smaller chunk size: %w", op, user, cause)
	}
	return fmt.Errorf("keychain %s %s: %w", op, user, cause)
}

// redact returns err, or a plain error with the secrets' text replaced if
// err's text contains any of them (no backend is known to do so; this is a
// guard).
func redact(err error, secrets []string) error {
	msg := err.Error()
	hit := false
	for _, s := range secrets {
		if s != "" && strings.Contains(msg, s) {
			msg = strings.ReplaceAll(msg, s, "[secret]")
			hit = true
		}
	}
	if !hit {
		return err
	}
	return errors.New(msg)
}

// unavailable says in plain words why err means no keychain can be reached,
// or returns "" when it does not.
func unavailable(err error) string {
	const noService = "no Secret Service on the D-Bus session bus (install and unlock gnome-keyring, or KeePassXC with its Secret Service integration)"
	if name := dbusErrorName(err); name != "" {
		switch {
		case name == "org.freedesktop.DBus.Error.ServiceUnknown",
			name == "org.freedesktop.DBus.Error.NameHasNoOwner",
			strings.HasPrefix(name, "org.freedesktop.DBus.Error.Spawn."):
			return noService
		case name == "org.freedesktop.DBus.Error.NoReply",
			name == "org.freedesktop.DBus.Error.Timeout",
			name == "org.freedesktop.DBus.Error.TimedOut":
			return "the Secret Service did not answer in time (it may be waiting on an unlock prompt; unlock the keyring and retry)"
		case name == "org.freedesktop.DBus.Error.Disconnected":
			return "the D-Bus session bus connection was lost (retry; restart the desktop session if it persists)"
		case name == "org.freedesktop.Secret.Error.IsLocked":
			return "the keyring is locked (unlock it, e.g. in Passwords and Keys or KeePassXC, and retry)"
		case name == "org.freedesktop.Secret.Error.NoSuchObject",
			name == "org.freedesktop.DBus.Error.UnknownObject":
			return "the Secret Service has no default keyring (create one, e.g. in Passwords and Keys, or open a KeePassXC database with Secret Service enabled)"
		case name == "org.freedesktop.DBus.Error.AccessDenied":
			return "the keychain refused access (allow Herald when the keychain asks, then retry)"
		}
		return ""
	}
	msg := err.Error()
	var opErr *net.OpError
	switch {
	case strings.HasPrefix(msg, "failed to unlock correct collection"): // go-keyring: unlock refused, dismissed or impossible
		return "the keyring is locked and was not unlocked (unlock it, e.g. in Passwords and Keys or KeePassXC, and retry)"
	case errors.As(err, &opErr), errors.Is(err, dbus.ErrClosed), strings.HasPrefix(msg, "dbus: "):
		return "cannot connect to the D-Bus session bus (is the desktop session running? DBUS_SESSION_BUS_ADDRESS may be stale)"
	case errors.Is(err, exec.ErrNotFound) && runtime.GOOS == "darwin":
		return "the macOS security tool (/usr/bin/security) is missing"
	case strings.HasPrefix(msg, "unsupported platform"): // go-keyring's fallback provider
		return "this operating system has no keychain Herald can use"
	}
	var errno syscall.Errno
	if runtime.GOOS == "windows" && errors.As(err, &errno) && errno == 1312 { // ERROR_NO_SUCH_LOGON_SESSION
		return "Windows Credential Manager is not available in this logon session (sign in interactively)"
	}
	return ""
}

// dbusErrorName returns the D-Bus error name inside err, or "".
func dbusErrorName(err error) string {
	var v dbus.Error
	if errors.As(err, &v) {
		return v.Name
	}
	var p *dbus.Error
	if errors.As(err, &p) && p != nil {
		return p.Name
	}
	return ""
}

// errInvalid is wrapped by errors for a bad profile ID or kind.
var errInvalid = errors.New("invalid key")

// key returns the keychain user "<profileID>/<kind>" after checking both.
func key(profileID string, kind Kind) (string, error) {
	switch {
	case profileID == "":
		return "", fmt.Errorf("%w: empty profile ID", errInvalid)
	case !utf8.ValidString(profileID):
		return "", fmt.Errorf("%w: profile ID %q is not valid UTF-8", errInvalid, profileID)
	case strings.Contains(profileID, "/"):
		return "", fmt.Errorf("%w: profile ID %q contains '/'", errInvalid, profileID)
	case strings.IndexFunc(profileID, unicode.IsControl) >= 0:
		return "", fmt.Errorf("%w: profile ID %q contains a control character", errInvalid, profileID)
	}
	for _, k := range kinds {
		if kind == k {
			return profileID + "/" + string(kind), nil
		}
	}
	return "", fmt.Errorf("%w: unknown secret kind %q", errInvalid, kind)
}

// partKey returns the user of part i (from 1) of a chunked secret.
func partKey(user string, i int) string { return user + "#" + strconv.Itoa(i) }

// parseHeader reads "herald-chunked:v1:<N>:<sha256 hex>".
func parseHeader(h string) (n int, sum string, err error) {
	rest, ok := strings.CutPrefix(h, headerV1)
	if !ok {
		return 0, "", fmt.Errorf("%w: unknown chunk header version", ErrCorrupt)
	}
	count, sum, ok := strings.Cut(rest, ":")
	n, convErr := strconv.Atoi(count)
	if !ok || convErr != nil || n < 1 || n > maxParts || len(sum) != 2*sha256.Size {
		return 0, "", fmt.Errorf("%w: malformed chunk header", ErrCorrupt)
	}
	return n, sum, nil
}

// split cuts s into pieces of at most size bytes, at rune boundaries where
// s is valid UTF-8.
func split(s string, size int) []string {
	var parts []string
	for len(s) > 0 {
		n := min(size, len(s))
		for m := n; n < len(s) && m > 0 && m > n-utf8.UTFMax; m-- {
			if utf8.RuneStart(s[m]) {
				n = m
				break
			}
		}
		parts = append(parts, s[:n])
		s = s[n:]
	}
	return parts
}
