package dnstest

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

func TestResolverAnswersFromZone(t *testing.T) {
	long := strings.Repeat("k", 700)
	s, err := Start(Zone{
		A:     map[string][]string{"mail.example.com": {"192.0.2.10", "2001:db8::10"}},
		TXT:   map[string][]string{"example.com": {"v=spf1 -all", long}},
		MX:    map[string][]net.MX{"example.com.": {{Host: "mx1.example.com", Pref: 10}}},
		SRV:   map[string][]net.SRV{"_submissions._tcp.example.com": {{Target: "mail.example.com", Port: 465, Priority: 0, Weight: 1}}},
		PTR:   map[string][]string{"192.0.2.10": {"mail.example.com"}},
		CNAME: map[string]string{"smtp.example.com": "mail.example.com"},
		Fail:  map[string]dnsmessage.RCode{"broken.example.com": dnsmessage.RCodeServerFailure},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r := s.Resolver()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	ips, err := r.LookupIPAddr(ctx, "smtp.example.com")
	if err != nil || len(ips) != 2 {
		t.Fatalf("LookupIPAddr via CNAME = %v, %v", ips, err)
	}
	txt, err := r.LookupTXT(ctx, "example.com")
	if err != nil || len(txt) != 2 {
		t.Fatalf("LookupTXT = %d records, %v", len(txt), err)
	}
	if txt[0] != "v=spf1 -all" && txt[1] != "v=spf1 -all" {
		t.Errorf("TXT = %q", txt)
	}
	if txt[0] != long && txt[1] != long {
		t.Errorf("a 700-byte TXT record was not joined back")
	}
	mx, err := r.LookupMX(ctx, "example.com")
	if err != nil || len(mx) != 1 || mx[0].Host != "mx1.example.com." {
		t.Fatalf("LookupMX = %v, %v", mx, err)
	}
	_, srv, err := r.LookupSRV(ctx, "submissions", "tcp", "example.com")
	if err != nil || len(srv) != 1 || srv[0].Port != 465 {
		t.Fatalf("LookupSRV = %v, %v", srv, err)
	}
	names, err := r.LookupAddr(ctx, "192.0.2.10")
	if err != nil || len(names) != 1 || names[0] != "mail.example.com." {
		t.Fatalf("LookupAddr = %v, %v", names, err)
	}
	_, err = r.LookupTXT(ctx, "nothing.example.com")
	var dnsErr *net.DNSError
	if !errors.As(err, &dnsErr) || !dnsErr.IsNotFound {
		t.Errorf("unknown name: err = %v, want not found", err)
	}
	_, err = r.LookupTXT(ctx, "broken.example.com")
	if !errors.As(err, &dnsErr) || dnsErr.IsNotFound {
		t.Errorf("SERVFAIL name: err = %v, want a server failure", err)
	}
	if len(s.Questions()) == 0 {
		t.Error("Questions() is empty")
	}
}
