package cli

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestPanicReportCarriesNoSecret(t *testing.T) {
	const secret = "Sup3r-Secret-Pa55"
	var b bytes.Buffer
	if code := reportPanic(&b, errors.New("login failed with "+secret)); code != ExitFailure {
		t.Fatalf("exit %d", code)
	}
	if strings.Contains(b.String(), secret) || !strings.Contains(b.String(), "internal error") {
		t.Fatalf("report:\n%s", b.String())
	}
	b.Reset()
	var m map[string]int
	func() {
		defer func() { reportPanic(&b, recover()) }()
		m["x"]++ // a runtime panic: its own text is shown
	}()
	if !strings.Contains(b.String(), "assignment to entry in nil map") {
		t.Fatalf("runtime panic report:\n%s", b.String())
	}
}
