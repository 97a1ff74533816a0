// Package diagnose answers "why does my mail not work?": it discovers a
// domain's submission server, walks a connection step by step with a
// plain-language hint for each failure, and checks the sender domain's DNS
// (SPF, DKIM, DMARC, MX, reverse DNS, blocklists, MTA-STS, TLS-RPT).
package diagnose
