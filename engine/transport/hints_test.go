package transport

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/herald-smtp/herald/engine/hint"
)

// TestEveryHintRowIsReachable builds, for each row of the hint table, an
// error that the row describes, and checks that this row (not an earlier,
// broader one) answers it.
func TestEveryHintRowIsReachable(t *testing.T) {
	for i, r := range hintRules {
		t.Run(fmt.Sprintf("%02d-%s-%s-%d-%s", i, r.Kind, r.Stage, r.Code, r.Enhanced), func(t *testing.T) {
			if strings.TrimSpace(r.Text) == "" {
				t.Fatal("empty hint")
			}
			stages := []Stage{r.Stage}
			if r.Stage == "" {
				stages = stageOrder
			}
			for _, st := range stages {
				e := &Error{Stage: st, Kind: r.Kind, Code: r.Code, EnhancedCode: r.Enhanced, Port: r.Port, Offered: []string{"PLAIN"}}
				if e.Kind == "" {
					e.Kind = KindReply
				}
				if r.Code > 0 && r.Code < 10 {
					e.Code = r.Code*100 + 99
				}
				if e.Port == 0 {
					e.Port = 2526
				}
				got := HintFor(fmt.Errorf("wrapped: %w", e))
				want := strings.NewReplacer("{port}", "2526", "{offered}", "PLAIN").Replace(r.Text)
				if got.Text == want && reflect.DeepEqual(got.Fixes, r.Fixes) && got.Link == r.Link {
					if Hint(e) != want {
						t.Fatalf("Hint = %q, want the text of HintFor", Hint(e))
					}
					return
				}
			}
			t.Fatal("an earlier row always answers first: this row is dead")
		})
	}
}

func TestHintsForCommonFailures(t *testing.T) {
	for _, c := range []struct {
		e    *Error
		want string
	}{
		{&Error{Stage: StageAuth, Kind: KindReply, Code: 535, EnhancedCode: "5.7.8"}, "app password"},
		{&Error{Stage: StageAuth, Kind: KindReply, Code: 534, EnhancedCode: "5.7.9"}, "application-specific password"},
		{&Error{Stage: StageAuth, Kind: KindReply, Code: 535, EnhancedCode: "5.7.139"}, "SMTP AUTH is disabled"},
		{&Error{Stage: StageAuth, Kind: KindReply, Code: 535, EnhancedCode: "5.7.3"}, "SMTP AUTH may be disabled"},
		{&Error{Stage: StageMail, Kind: KindReply, Code: 530, EnhancedCode: "5.7.0"}, "requires authentication"},
		{&Error{Stage: StageAuth, Kind: KindReply, Code: 454, EnhancedCode: "4.7.0"}, "temporarily"},
		{&Error{Stage: StageAuth, Kind: KindReply, Code: 538}, "requires encryption"},
		{&Error{Stage: StageRcpt, Kind: KindReply, Code: 550, EnhancedCode: "5.7.1"}, "Relaying denied"},
		{&Error{Stage: StageMail, Kind: KindReply, Code: 553, EnhancedCode: "5.7.60"}, "may not send as"},
		{&Error{Stage: StageConnect, Kind: KindTimeout, Port: 25}, "block outgoing port 25"},
		{&Error{Stage: StageConnect, Kind: KindTimeout, Port: 587}, "port 587"},
		{&Error{Stage: StageData, Kind: KindUnknownAfterData, Class: ClassUnknown}, "may or may not"},
	} {
		if got := Hint(c.e); !strings.Contains(got, c.want) {
			t.Errorf("%+v: hint %q lacks %q", c.e, got, c.want)
		}
	}
	if Hint(errors.New("plain error")) != "" || Hint(nil) != "" {
		t.Error("hint for a non-session error")
	}
}

// TestHintFixes checks that the common failures name the settings that fix
// them, as data.
func TestHintFixes(t *testing.T) {
	has := func(h hint.Hint, s hint.Setting, v string) bool {
		for _, f := range h.Fixes {
			for _, c := range f.Changes() {
				if c.Setting == s && c.Value == v {
					return true
				}
			}
		}
		return false
	}
	for _, c := range []struct {
		e       *Error
		setting hint.Setting
		value   string
	}{
		{&Error{Stage: StageAuth, Kind: KindInsecureAuth}, hint.AllowInsecureAuth, ""},
		{&Error{Stage: StageAuth, Kind: KindInsecureAuth}, hint.Port, "587"},
		{&Error{Stage: StageTLS, Kind: KindStartTLSMissing}, hint.TLS, "implicit"},
		{&Error{Stage: StageTLS, Kind: KindStartTLSMissing}, hint.Port, "465"},
		{&Error{Stage: StageTLS, Kind: KindCertPinMismatch}, hint.PinCertificate, ""},
		{&Error{Stage: StageTLS, Kind: KindCertUnknownAuth}, hint.CAFile, ""},
		{&Error{Stage: StageTLS, Kind: KindCertUnknownAuth}, hint.PinCertificate, ""},
		{&Error{Stage: StageAuth, Kind: KindReply, Code: 535, EnhancedCode: "5.7.8"}, hint.Password, ""},
		{&Error{Stage: StageAuth, Kind: KindReply, Code: 535, EnhancedCode: "5.7.139"}, hint.OAuthSignIn, ""},
		{&Error{Stage: StageConnect, Kind: KindDNS}, hint.Discover, ""},
		{&Error{Stage: StageMail, Kind: KindPipeliningMissing}, hint.Pipelining, "auto"},
	} {
		if h := HintFor(c.e); !has(h, c.setting, c.value) {
			t.Errorf("%s %s %d: fixes %+v lack %s=%q", c.e.Kind, c.e.Stage, c.e.Code, h.Fixes, c.setting, c.value)
		}
	}
	if h := HintFor(&Error{Stage: StageAuth, Kind: KindReply, Code: 535, EnhancedCode: "5.7.139"}); !strings.HasPrefix(h.Link, "https://") {
		t.Errorf("Microsoft's refusal links no page: %+v", h)
	}
	if !HintFor(errors.New("plain")).Empty() || !HintFor(nil).Empty() {
		t.Error("a hint for a non-session error")
	}
}
