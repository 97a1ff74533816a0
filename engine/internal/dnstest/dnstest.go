// Package dnstest runs a small authoritative DNS server on loopback for
// tests, and hands out a *net.Resolver that asks it and nothing else. Tests
// of discovery and deliverability checks thereby exercise Go's real DNS
// client (wire format, TXT joining, SRV sorting, NXDOMAIN handling) without
// touching the network.
package dnstest

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// Zone holds the records the server answers with. Names are case-insensitive
// and may be given with or without the trailing dot.
type Zone struct {
	A     map[string][]string                  // name -> IPv4 or IPv6 addresses (A and AAAA)
	TXT   map[string][]string                  // name -> TXT strings (each one record)
	MX    map[string][]net.MX                  // name -> MX records
	SRV   map[string][]net.SRV                 // "_submission._tcp.example.com" -> SRV records
	PTR   map[string][]string                  // IP address -> host names
	CNAME map[string]string                    // name -> target
	Fail  map[string]dnsmessage.RCode          // name -> forced error code (e.g. RCodeServerFailure)
	Stall map[string]bool                      // name -> never answer
	Hook  func(name string, t dnsmessage.Type) // optional, called for every question
}

// Server is a running DNS server.
type Server struct {
	zone Zone
	udp  net.PacketConn
	tcp  net.Listener
	wg   sync.WaitGroup
	mu   sync.Mutex
	qs   []string
}

// Start serves z on 127.0.0.1 (UDP and TCP on the same port) until Close.
func Start(z Zone) (*Server, error) {
	// The UDP port the system picks may be taken for TCP (another test's
	// connection uses it as its local port): try another until both bind.
	var udp net.PacketConn
	var tcp net.Listener
	var err error
	for try := 0; try < 50; try++ {
		if udp, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			return nil, err
		}
		port := udp.LocalAddr().(*net.UDPAddr).Port
		if tcp, err = net.Listen("tcp", net.JoinHostPort("127.0.0.1", itoa(port))); err == nil {
			break
		}
		udp.Close()
	}
	if err != nil {
		return nil, err
	}
	s := &Server{zone: z, udp: udp, tcp: tcp}
	s.wg.Add(2)
	go s.serveUDP()
	go s.serveTCP()
	return s, nil
}

func itoa(n int) string {
	var b [8]byte
	i := len(b)
	for n > 0 || i == len(b) {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

// Addr is the server's address (the same port for UDP and TCP).
func (s *Server) Addr() string { return s.udp.LocalAddr().String() }

// Resolver returns a resolver that sends every query to this server.
func (s *Server) Resolver() *net.Resolver {
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			if strings.HasPrefix(network, "tcp") {
				return d.DialContext(ctx, "tcp", s.Addr())
			}
			return d.DialContext(ctx, "udp", s.Addr())
		},
	}
}

// Questions returns the names asked so far, as "TYPE name" strings.
func (s *Server) Questions() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.qs...)
}

// Close stops the server.
func (s *Server) Close() error {
	s.udp.Close()
	s.tcp.Close()
	s.wg.Wait()
	return nil
}

func (s *Server) serveUDP() {
	defer s.wg.Done()
	buf := make([]byte, 4096)
	for {
		n, addr, err := s.udp.ReadFrom(buf)
		if err != nil {
			return
		}
		resp, ok := s.answer(buf[:n], 1232)
		if ok {
			s.udp.WriteTo(resp, addr)
		}
	}
}

func (s *Server) serveTCP() {
	defer s.wg.Done()
	for {
		c, err := s.tcp.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			for {
				var l [2]byte
				if _, err := io.ReadFull(c, l[:]); err != nil {
					return
				}
				q := make([]byte, binary.BigEndian.Uint16(l[:]))
				if _, err := io.ReadFull(c, q); err != nil {
					return
				}
				resp, ok := s.answer(q, 65535)
				if !ok {
					return
				}
				out := binary.BigEndian.AppendUint16(nil, uint16(len(resp)))
				if _, err := c.Write(append(out, resp...)); err != nil {
					return
				}
			}
		}()
	}
}

func norm(name string) string { return strings.ToLower(strings.TrimSuffix(name, ".")) }

func lookup[T any](m map[string]T, name string) (T, bool) {
	for k, v := range m {
		if norm(k) == name {
			return v, true
		}
	}
	var zero T
	return zero, false
}

// answer builds the response to one query; ok is false for a stalled name.
func (s *Server) answer(q []byte, max int) ([]byte, bool) {
	var p dnsmessage.Parser
	h, err := p.Start(q)
	if err != nil {
		return nil, false
	}
	question, err := p.Question()
	if err != nil {
		return nil, false
	}
	name := norm(question.Name.String())
	s.mu.Lock()
	s.qs = append(s.qs, question.Type.String()[4:]+" "+name)
	s.mu.Unlock()
	if s.zone.Hook != nil {
		s.zone.Hook(name, question.Type)
	}
	if _, stall := lookup(s.zone.Stall, name); stall {
		return nil, false
	}
	rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired, RecursionAvailable: true}
	if code, ok := lookup(s.zone.Fail, name); ok {
		rh.RCode = code
		b := dnsmessage.NewBuilder(nil, rh)
		b.StartQuestions()
		b.Question(question)
		out, _ := b.Finish()
		return out, true
	}
	answers, exists := s.records(name, question.Type, question.Name)
	if !exists {
		rh.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(nil, rh)
	b.EnableCompression()
	b.StartQuestions()
	b.Question(question)
	b.StartAnswers()
	for _, a := range answers {
		if err := a(&b); err != nil {
			return nil, false
		}
	}
	out, err := b.Finish()
	if err != nil {
		return nil, false
	}
	if len(out) > max {
		rh.Truncated = true
		b := dnsmessage.NewBuilder(nil, rh)
		b.StartQuestions()
		b.Question(question)
		out, _ = b.Finish()
	}
	return out, true
}

type rr func(b *dnsmessage.Builder) error

func (s *Server) records(name string, t dnsmessage.Type, qname dnsmessage.Name) ([]rr, bool) {
	hdr := func(n dnsmessage.Name) dnsmessage.ResourceHeader {
		return dnsmessage.ResourceHeader{Name: n, Class: dnsmessage.ClassINET, TTL: 60}
	}
	var out []rr
	exists := false
	if target, ok := lookup(s.zone.CNAME, name); ok {
		tn := dnsmessage.MustNewName(fqdn(target))
		out = append(out, func(b *dnsmessage.Builder) error {
			return b.CNAMEResource(hdr(qname), dnsmessage.CNAMEResource{CNAME: tn})
		})
		more, _ := s.records(norm(target), t, tn)
		return append(out, more...), true
	}
	if addrs, ok := lookup(s.zone.A, name); ok {
		exists = true
		for _, a := range addrs {
			ip, err := netip.ParseAddr(a)
			if err != nil {
				continue
			}
			switch {
			case t == dnsmessage.TypeA && ip.Is4():
				out = append(out, func(b *dnsmessage.Builder) error {
					return b.AResource(hdr(qname), dnsmessage.AResource{A: ip.As4()})
				})
			case t == dnsmessage.TypeAAAA && ip.Is6():
				out = append(out, func(b *dnsmessage.Builder) error {
					return b.AAAAResource(hdr(qname), dnsmessage.AAAAResource{AAAA: ip.As16()})
				})
			}
		}
	}
	if txts, ok := lookup(s.zone.TXT, name); ok {
		exists = true
		if t == dnsmessage.TypeTXT {
			for _, txt := range txts {
				parts := chunk(txt)
				out = append(out, func(b *dnsmessage.Builder) error {
					return b.TXTResource(hdr(qname), dnsmessage.TXTResource{TXT: parts})
				})
			}
		}
	}
	if mxs, ok := lookup(s.zone.MX, name); ok {
		exists = true
		if t == dnsmessage.TypeMX {
			for _, mx := range mxs {
				mn := dnsmessage.MustNewName(fqdn(mx.Host))
				pref := mx.Pref
				out = append(out, func(b *dnsmessage.Builder) error {
					return b.MXResource(hdr(qname), dnsmessage.MXResource{Pref: pref, MX: mn})
				})
			}
		}
	}
	if srvs, ok := lookup(s.zone.SRV, name); ok {
		exists = true
		if t == dnsmessage.TypeSRV {
			for _, srv := range srvs {
				tn := dnsmessage.MustNewName(fqdn(srv.Target))
				r := dnsmessage.SRVResource{Priority: srv.Priority, Weight: srv.Weight, Port: srv.Port, Target: tn}
				out = append(out, func(b *dnsmessage.Builder) error {
					return b.SRVResource(hdr(qname), r)
				})
			}
		}
	}
	if t == dnsmessage.TypePTR {
		for ipStr, names := range s.zone.PTR {
			ip, err := netip.ParseAddr(ipStr)
			if err != nil || reverseName(ip) != name {
				continue
			}
			exists = true
			for _, n := range names {
				pn := dnsmessage.MustNewName(fqdn(n))
				out = append(out, func(b *dnsmessage.Builder) error {
					return b.PTRResource(hdr(qname), dnsmessage.PTRResource{PTR: pn})
				})
			}
		}
	}
	return out, exists
}

func fqdn(s string) string {
	if strings.HasSuffix(s, ".") {
		return s
	}
	return s + "."
}

// chunk splits a TXT value into the 255-byte character strings DNS carries.
func chunk(s string) []string {
	var parts []string
	for len(s) > 255 {
		parts = append(parts, s[:255])
		s = s[255:]
	}
	return append(parts, s)
}

// reverseName returns the in-addr.arpa or ip6.arpa name of ip, without the
// trailing dot.
func reverseName(ip netip.Addr) string {
	if ip.Is4() {
		b := ip.As4()
		return itoa(int(b[3])) + "." + itoa(int(b[2])) + "." + itoa(int(b[1])) + "." + itoa(int(b[0])) + ".in-addr.arpa"
	}
	const hexd = "0123456789abcdef"
	b := ip.As16()
	var sb strings.Builder
	for i := len(b) - 1; i >= 0; i-- {
		sb.WriteByte(hexd[b[i]&0xf])
		sb.WriteByte('.')
		sb.WriteByte(hexd[b[i]>>4])
		sb.WriteByte('.')
	}
	sb.WriteString("ip6.arpa")
	return sb.String()
}
