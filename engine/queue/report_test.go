package queue

import (
	"strings"
	"testing"
)

func TestReportSaysTheReplyOnce(t *testing.T) {
	it := &Item{State: string(Deferred), LastStage: "rcpt", LastCode: 451, LastEnhanced: "4.3.0", LastError: "recipient refused: 451 4.3.0 try later"}
	rep := Report(it)
	if n := strings.Count(rep, "451"); n != 1 {
		t.Fatalf("the reply code appears %d times:\n%s", n, rep)
	}
	it.LastError = "try later"
	if rep := Report(it); !strings.Contains(rep, "451 4.3.0 try later") {
		t.Fatalf("a bare reply text lost its code:\n%s", rep)
	}
}
