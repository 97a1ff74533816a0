// Package message turns a Draft into RFC 5322 bytes with go-mail, validates
// every field first (naming the field in each error), reads and writes .eml
// files, and prepares a stored message for resending with Resent-* headers.
//
// Header injection is refused, never encoded: a CR or LF in any header value,
// address, display name or attachment name is a validation error. Bodies are
// normalised to CRLF line endings and quoted-printable encoded, so a bare
// "\r.\r\n" can never reach the wire as an end-of-data marker.
package message
