package core

import (
	"net"
	"strconv"

	"github.com/herald-smtp/herald/engine/diagnose"
	"github.com/herald-smtp/herald/engine/transport"
)

// Candidates sorts a discovery's candidates for a report: the usable ones,
// those that answered but cannot be used (each with its reason), those not
// needed once a better one answered, and the unreachable ones grouped by
// one reason each, so that twelve names that do not resolve are one line.
type Candidates struct {
	Usable, Unusable, NotNeeded []diagnose.Candidate
	Unreachable                 []Unreachable
}

// Unreachable is a group of servers that could not be reached for one
// reason.
type Unreachable struct {
	// Why says the reason in plain words.
	Why string
	// Servers are "host:port", in discovery order.
	Servers []string
}

// unreachableKinds are the failures that mean nothing answered.
var unreachableKinds = map[transport.Kind]string{
	transport.KindDNS:     "the name does not resolve",
	transport.KindRefused: "nothing listens on the port",
	transport.KindTimeout: "no answer in time",
	transport.KindNetwork: "the network connection failed",
}

// SortCandidates sorts d's candidates (see Candidates).
func SortCandidates(d *diagnose.Discovery) Candidates {
	var out Candidates
	index := map[string]int{}
	for _, c := range d.Candidates {
		r := c.Probe
		switch {
		case r == nil:
			out.NotNeeded = append(out.NotNeeded, c)
		case r.OK:
			out.Usable = append(out.Usable, c)
		case r.Skipped:
			out.NotNeeded = append(out.NotNeeded, c)
		default:
			why, nothing := unreachableKinds[r.Kind]
			switch {
			case r.Kind == transport.KindTimeout && r.Stage != transport.StageConnect:
				nothing = false // it answered, then went silent
			case r.Kind == "" && r.Stage == transport.StageConnect:
				why, nothing = "could not connect", true
			}
			if !nothing {
				out.Unusable = append(out.Unusable, c)
				continue
			}
			i, ok := index[why]
			if !ok {
				i = len(out.Unreachable)
				index[why] = i
				out.Unreachable = append(out.Unreachable, Unreachable{Why: why})
			}
			out.Unreachable[i].Servers = append(out.Unreachable[i].Servers, net.JoinHostPort(c.Host, strconv.Itoa(c.Port)))
		}
	}
	return out
}
