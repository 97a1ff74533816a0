// Package message turns a Draft into RFC 5322 bytes with go-mail, validates
// every field first (naming the field in each error), reads and writes .eml
// files, and prepares a stored message for resending with Resent-* headers.
// It also reads any message back for showing (Parse: header fields in order,
// text, HTML and other parts, decoded to UTF-8; DraftFromMessage), and turns
// HTML into a safe document of styled blocks with the message's own images
// (HTMLDocument) or plain text (HTMLText): nothing fetched or run.
//
// Header injection is refused, never encoded: a CR or LF in any header value,
// address, display name or attachment name is a validation error. Bodies are
// normalised to CRLF line endings and quoted-printable encoded, so a bare
// "\r.\r\n" can never reach the wire as an end-of-data marker.
package message
