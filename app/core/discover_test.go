package core

import (
	"testing"

	"github.com/herald-smtp/herald/engine/diagnose"
	"github.com/herald-smtp/herald/engine/transport"
)

func TestSortCandidatesGroupsTheUnreachable(t *testing.T) {
	dns := &diagnose.Reach{Kind: transport.KindDNS, Stage: transport.StageConnect, Error: "lookup smtp.x: no such host"}
	d := &diagnose.Discovery{Candidates: []diagnose.Candidate{
		{Server: diagnose.Server{Host: "smtp.x", Port: 465}, Probe: dns},
		{Server: diagnose.Server{Host: "mail.x", Port: 587}, Probe: dns},
		{Server: diagnose.Server{Host: "x", Port: 465}, Probe: &diagnose.Reach{Kind: transport.KindCertSelfSigned, Stage: transport.StageTLS}},
		{Server: diagnose.Server{Host: "x", Port: 587}, Probe: &diagnose.Reach{Kind: transport.KindStartTLSMissing, Stage: transport.StageTLS}},
		{Server: diagnose.Server{Host: "x", Port: 25}, Probe: &diagnose.Reach{Kind: transport.KindRefused, Stage: transport.StageConnect}},
		{Server: diagnose.Server{Host: "x", Port: 2525}, Probe: &diagnose.Reach{OK: true}},
		{Server: diagnose.Server{Host: "y", Port: 2525}, Probe: &diagnose.Reach{Skipped: true}},
	}}
	got := SortCandidates(d)
	if len(got.Usable) != 1 || len(got.Unusable) != 2 || len(got.NotNeeded) != 1 {
		t.Fatalf("usable %d, unusable %d, not needed %d", len(got.Usable), len(got.Unusable), len(got.NotNeeded))
	}
	if len(got.Unreachable) != 2 || len(got.Unreachable[0].Servers) != 2 || got.Unreachable[0].Why != "the name does not resolve" {
		t.Fatalf("unreachable = %+v", got.Unreachable)
	}
}
