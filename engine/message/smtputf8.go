package message

import "bytes"

// NeedsSMTPUTF8 reports whether a message must go through a server that
// offers SMTPUTF8 (RFC 6531): an envelope address, or the header of the
// message raw (up to its first empty line), holds non-ASCII characters.
func NeedsSMTPUTF8(from string, to []string, raw []byte) bool {
	if !isASCII(from) {
		return true
	}
	for _, a := range to {
		if !isASCII(a) {
			return true
		}
	}
	head := raw
	if i := bytes.Index(raw, []byte("\r\n\r\n")); i >= 0 {
		head = raw[:i]
	} else if i := bytes.Index(raw, []byte("\n\n")); i >= 0 {
		head = raw[:i]
	}
	for _, b := range head {
		if b >= 0x80 {
			return true
		}
	}
	return false
}
