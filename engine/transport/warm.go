package transport

import (
	"crypto/x509"
	"sync"
)

// WarmRoots loads the system's trusted certificates in the background, once
// per process. Loading them takes tens of milliseconds; a front end calls
// this as soon as it knows a session will follow, so the load overlaps with
// parsing input, opening the store and connecting instead of delaying the
// TLS handshake.
func WarmRoots() { warmOnce.Do(func() { go x509.SystemCertPool() }) }

var warmOnce sync.Once
