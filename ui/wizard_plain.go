package ui

import "strings"

// Offline kinds the wizard recognises in the engine's texts.
const (
	netOK       = ""
	netNoDNS    = "no-dns"
	netOffline  = "offline"
	netTimeout  = "timeout"
	netRefused  = "refused"
	netNotFound = "not-found"
)

// netProblem classifies a finding or error text from the engine as a
// network condition a person can act on, netOK when it is none of them.
// The engine reports resolver and socket errors in Go's words ("lookup x on
// 127.0.0.53:53: server misbehaving"); the wizard says them plainly.
func netProblem(s string) string {
	l := strings.ToLower(s)
	has := func(subs ...string) bool {
		for _, x := range subs {
			if strings.Contains(l, x) {
				return true
			}
		}
		return false
	}
	switch {
	case has("network is unreachable", "no route to host", "host is unreachable", "network is down"):
		return netOffline
	case has("server misbehaving", "temporary failure in name resolution", "no dns servers", "dial udp", ":53: ", "could not look up", "lookup failed", "dns lookup failed") && !has("no such host"):
		return netNoDNS
	case has("lookup ") && has("i/o timeout", "connection refused"):
		return netNoDNS
	case has("no such host", "has no address"):
		return netNotFound
	case has("connection refused"):
		return netRefused
	case has("i/o timeout", "deadline exceeded", "timed out", "timeout"):
		return netTimeout
	}
	return netOK
}

// plainWords says a network condition in a person's words; "" for netOK.
func plainWords(kind string) string {
	switch kind {
	case netOffline:
		return "No network: this computer cannot reach the internet right now. Check that you are online, then try again."
	case netNoDNS:
		return "No DNS: names cannot be looked up right now (this computer seems to be offline, or its DNS server does not answer). Check the connection, then try again."
	case netNotFound:
		return "This server name does not exist: check it for typos (the smtp. or mail. prefix?)."
	case netRefused:
		return "The server refused the connection on this port: nothing listens there, or a firewall rejects it. Try another port or TLS mode."
	case netTimeout:
		return "No answer in time: the server is down, a firewall drops this port (many networks block port 25), or this computer is offline."
	}
	return ""
}

// plainFinding returns the finding in plain words when it is a network
// condition, keeping the engine's text for the details; otherwise the
// finding itself and "".
func plainFinding(finding string) (summary, detail string) {
	if w := plainWords(netProblem(finding)); w != "" {
		return w, finding
	}
	return finding, ""
}
