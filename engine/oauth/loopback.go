package oauth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"html"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// LoopbackOptions shape the browser sign-in.
type LoopbackOptions struct {
	// Open opens the URL in the system browser; nil (or an error) leaves it
	// to the user, who gets the URL through Show.
	Open func(url string) error
	// Show is given the URL to open, for printing or copying; always called
	// before Open.
	Show func(url string)
	// Timeout bounds the wait for the browser (default 5 minutes).
	Timeout time.Duration
}

// ErrDenied is wrapped when the user (or the provider) refuses the sign-in.
var ErrDenied = errors.New("the sign-in was refused")

// ErrTimeout is wrapped when the sign-in did not complete in time.
var ErrTimeout = errors.New("the sign-in did not complete in time")

// page is the plain page the browser shows at the end.
func page(w http.ResponseWriter, status int, title, text string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<!doctype html><html><head><meta charset=\"utf-8\"><title>Herald: %s</title></head><body style=\"font-family:sans-serif;margin:3em\"><h1>%s</h1><p>%s</p></body></html>",
		html.EscapeString(title), html.EscapeString(title), html.EscapeString(text))
}

func randomState() string {
	var b [24]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// SignInLoopback runs the authorization-code flow with PKCE (S256) for a
// native app (RFC 8252): a listener on 127.0.0.1 with a random port is the
// redirect URI, the provider's page is opened in the browser, the reply's
// state is checked and the code exchanged for tokens there, and the
// browser shows a plain page saying how it went. It ends at the reply, at
// o.Timeout or when ctx ends.
func (c Config) SignInLoopback(ctx context.Context, o LoopbackOptions) (*oauth2.Token, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if !c.SupportsLoopback() {
		return nil, errors.New("this provider has no browser sign-in (authorization URL): use the device code")
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Minute
	}
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, ErrTimeout)
	defer cancel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("open the loopback listener for the sign-in: %w", err)
	}
	redirect := "http://127.0.0.1:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port) + "/"
	oc := c.oauth2Config(redirect)
	verifier := oauth2.GenerateVerifier()
	state := randomState()
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}
	if c.Provider == Google {
		// A refresh token, every time (Google gives one only with consent).
		opts = append(opts, oauth2.AccessTypeOffline, oauth2.SetAuthURLParam("prompt", "consent"))
	}
	authURL := oc.AuthCodeURL(state, opts...)

	type result struct {
		tok *oauth2.Token
		err error
	}
	done := make(chan result, 1)
	var once sync.Once
	finish := func(r result) { once.Do(func() { done <- r }) }
	xctx := c.withClient(ctx)
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if r.URL.Path != "/" || (!q.Has("code") && !q.Has("error")) {
			http.NotFound(w, r)
			return
		}
		if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(state)) != 1 {
			// Not the reply to this sign-in (a forged or stale request):
			// refuse it and keep waiting for the real one.
			page(w, http.StatusBadRequest, "Sign-in not accepted", "This reply does not belong to the sign-in Herald started (its state does not match). Start the sign-in again from Herald if it does not complete.")
			return
		}
		if e := q.Get("error"); e != "" {
			desc := printable(q.Get("error_description"))
			page(w, http.StatusOK, "Sign-in refused", "The provider refused the sign-in: "+printable(e)+" "+desc+". You can close this page and try again in Herald.")
			err := fmt.Errorf("%w: %s %s", ErrDenied, printable(e), desc)
			if e != "access_denied" {
				err = fmt.Errorf("the provider refused the sign-in: %s %s", printable(e), desc)
			}
			finish(result{err: err})
			return
		}
		tok, err := oc.Exchange(xctx, q.Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			err = classify(err)
			page(w, http.StatusOK, "Sign-in failed", "Herald could not complete the sign-in: "+err.Error()+". You can close this page and try again in Herald.")
			finish(result{err: fmt.Errorf("exchange the authorization code: %w", err)})
			return
		}
		page(w, http.StatusOK, "Signed in", "Herald is signed in. You can close this page.")
		finish(result{tok: tok})
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer func() {
		sctx, c := context.WithTimeout(context.Background(), 2*time.Second)
		defer c()
		srv.Shutdown(sctx)
	}()
	if o.Show != nil {
		o.Show(authURL)
	}
	if o.Open != nil {
		_ = o.Open(authURL) // the URL was shown: the user can open it
	}
	select {
	case r := <-done:
		return r.tok, r.err
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}
