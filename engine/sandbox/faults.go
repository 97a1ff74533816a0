package sandbox

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-smtp"
)

// Stages at which a fault can act.
const (
	// StageAuth is the end of an AUTH exchange.
	StageAuth = "auth"
	// StageMail is the MAIL FROM command.
	StageMail = "mail"
	// StageRcpt is each RCPT TO command.
	StageRcpt = "rcpt"
	// StageData is the end of the message content.
	StageData = "data"
)

// maxFaultDelay bounds injected delays so that a typo ("5000s") cannot hang
// a client for hours.
const maxFaultDelay = time.Hour

// Fault is one injected misbehaviour. Exactly one kind is set:
//   - a reply fault: Stage and Code (EnhancedCode optional, "X.Y.Z");
//   - a stage delay: Stage and Delay;
//   - a delay of every reply from MAIL on: Delay with Stage "";
//   - a dropped reply: Drop (Stage is "data" or "").
//
// Percent is the probability in percent that the fault fires each time it
// is reached; 0 is taken as 100.
type Fault struct {
	// Stage is auth, mail, rcpt or data.
	Stage string
	// Code is the reply code of a reply fault (400-599).
	Code int
	// EnhancedCode is the RFC 3463 status "X.Y.Z"; empty means the default
	// for Code.
	EnhancedCode string
	// Percent is the probability of firing, 1-100 (0 means 100).
	Percent int
	// Delay is the pause before the reply of a delay fault.
	Delay time.Duration
	// Drop marks drop-after-data.
	Drop bool
}

func (f Fault) percent() int {
	if f.Percent == 0 {
		return 100
	}
	return f.Percent
}

// String returns the fault in the syntax ParseFaults reads.
func (f Fault) String() string {
	var s string
	switch {
	case f.Drop:
		s = "drop-after-data"
	case f.Delay > 0 && f.Stage == "":
		s = "delay:" + f.Delay.String()
	case f.Delay > 0:
		s = "delay-" + f.Stage + ":" + f.Delay.String()
	default:
		s = f.Stage + ":" + strconv.Itoa(f.Code)
		if f.EnhancedCode != "" {
			s += "/" + f.EnhancedCode
		}
	}
	if p := f.percent(); p != 100 {
		s += ":" + strconv.Itoa(p)
	}
	return s
}

func validStage(s string) bool {
	switch s {
	case StageAuth, StageMail, StageRcpt, StageData:
		return true
	}
	return false
}

// validate checks a fault built in code or by ParseFaults.
func (f Fault) validate() error {
	if f.Percent < 0 || f.Percent > 100 {
		return fmt.Errorf("percent %d is not between 1 and 100", f.Percent)
	}
	switch {
	case f.Drop:
		if f.Stage != "" && f.Stage != StageData {
			return fmt.Errorf("a dropped reply is only possible after data, not at stage %q", f.Stage)
		}
		if f.Code != 0 || f.Delay != 0 || f.EnhancedCode != "" {
			return errors.New("a dropped reply cannot also have a code or a delay")
		}
	case f.Delay != 0:
		if f.Delay < 0 || f.Delay > maxFaultDelay {
			return fmt.Errorf("delay %s is not between 0 and %s", f.Delay, maxFaultDelay)
		}
		if f.Stage != "" && !validStage(f.Stage) {
			return fmt.Errorf("unknown stage %q (want auth, mail, rcpt or data)", f.Stage)
		}
		if f.Code != 0 || f.EnhancedCode != "" {
			return errors.New("a delay cannot also have a reply code")
		}
	default:
		if !validStage(f.Stage) {
			return fmt.Errorf("unknown stage %q (want auth, mail, rcpt or data)", f.Stage)
		}
		if f.Code < 400 || f.Code > 599 {
			return fmt.Errorf("code %d is not a 4xx or 5xx reply code", f.Code)
		}
		if f.EnhancedCode != "" {
			if _, err := parseEnhanced(f.EnhancedCode, f.Code); err != nil {
				return err
			}
		}
	}
	return nil
}

// parseEnhanced parses "X.Y.Z" (RFC 3463) whose class X must match the
// reply code's first digit.
func parseEnhanced(s string, code int) (smtp.EnhancedCode, error) {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return smtp.EnhancedCode{}, fmt.Errorf("enhanced code %q is not of the form X.Y.Z", s)
	}
	var ec smtp.EnhancedCode
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 999 || p == "" || (p[0] == '+') {
			return smtp.EnhancedCode{}, fmt.Errorf("enhanced code %q is not of the form X.Y.Z", s)
		}
		ec[i] = n
	}
	if ec[0] != code/100 {
		return smtp.EnhancedCode{}, fmt.Errorf("enhanced code %s does not match reply code %d (class must be %d)", s, code, code/100)
	}
	return ec, nil
}

// ParseFaults parses a fault specification (see the package documentation
// for the syntax). An empty or blank spec means no faults. Errors name the
// position and text of the bad item.
func ParseFaults(spec string) ([]Fault, error) {
	if strings.TrimSpace(spec) == "" {
		return nil, nil
	}
	var out []Fault
	for i, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		f, err := parseFault(item)
		if err != nil {
			return nil, fmt.Errorf("fault %d %q: %w", i+1, item, err)
		}
		out = append(out, f)
	}
	return out, nil
}

func parsePercent(s string) (int, error) {
	s = strings.TrimSuffix(strings.TrimSpace(s), "%")
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 100 {
		return 0, fmt.Errorf("percent %q is not a whole number from 1 to 100", s)
	}
	return n, nil
}

func parseFault(item string) (Fault, error) {
	if item == "" {
		return Fault{}, errors.New("empty item (stray comma?)")
	}
	parts := strings.Split(item, ":")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	head := strings.ToLower(parts[0])
	f := Fault{Percent: 100}
	optionalPercent := func(idx int) error {
		switch {
		case len(parts) == idx:
			return nil
		case len(parts) == idx+1:
			p, err := parsePercent(parts[idx])
			if err != nil {
				return err
			}
			f.Percent = p
			return nil
		default:
			return fmt.Errorf("too many ':' parts (%d)", len(parts))
		}
	}
	switch {
	case head == "drop-after-data":
		f.Drop = true
		f.Stage = StageData
		if err := optionalPercent(1); err != nil {
			return Fault{}, err
		}
	case head == "delay" || strings.HasPrefix(head, "delay-"):
		if head != "delay" {
			f.Stage = strings.TrimPrefix(head, "delay-")
			if !validStage(f.Stage) {
				return Fault{}, fmt.Errorf("unknown stage %q in %q (want delay-auth, delay-mail, delay-rcpt or delay-data)", f.Stage, head)
			}
		}
		if len(parts) < 2 || parts[1] == "" {
			return Fault{}, errors.New("missing duration (e.g. delay:2s)")
		}
		d, err := time.ParseDuration(parts[1])
		if err != nil {
			return Fault{}, fmt.Errorf("bad duration %q (use e.g. 500ms, 2s, 1m)", parts[1])
		}
		if d <= 0 || d > maxFaultDelay {
			return Fault{}, fmt.Errorf("duration %s is not between 0 and %s", d, maxFaultDelay)
		}
		f.Delay = d
		if err := optionalPercent(2); err != nil {
			return Fault{}, err
		}
	case validStage(head):
		f.Stage = head
		if len(parts) < 2 || parts[1] == "" {
			return Fault{}, fmt.Errorf("missing reply code (e.g. %s:550)", head)
		}
		codeText, enh, hasEnh := strings.Cut(parts[1], "/")
		code, err := strconv.Atoi(codeText)
		if err != nil || len(codeText) != 3 {
			return Fault{}, fmt.Errorf("reply code %q is not a three-digit number", codeText)
		}
		if code < 400 || code > 599 {
			return Fault{}, fmt.Errorf("code %d is not a 4xx or 5xx reply code", code)
		}
		f.Code = code
		if hasEnh {
			if _, err := parseEnhanced(enh, code); err != nil {
				return Fault{}, err
			}
			f.EnhancedCode = enh
		} else {
			ec, _ := defaultReply(f.Stage, code)
			f.EnhancedCode = fmt.Sprintf("%d.%d.%d", ec[0], ec[1], ec[2])
		}
		if err := optionalPercent(2); err != nil {
			return Fault{}, err
		}
	default:
		return Fault{}, fmt.Errorf("unknown fault %q (want auth, mail, rcpt, data, delay, delay-STAGE or drop-after-data)", parts[0])
	}
	return f, nil
}

// defaultReply gives the enhanced code and text a real server would use
// with code at stage.
func defaultReply(stage string, code int) (smtp.EnhancedCode, string) {
	switch code {
	case 421:
		return smtp.EnhancedCode{4, 4, 2}, "Service not available, closing transmission channel"
	case 450:
		return smtp.EnhancedCode{4, 2, 1}, "Mailbox temporarily unavailable, try again later"
	case 451:
		return smtp.EnhancedCode{4, 3, 0}, "Local error in processing, try again later"
	case 452:
		return smtp.EnhancedCode{4, 2, 2}, "Insufficient storage, mailbox full"
	case 454:
		return smtp.EnhancedCode{4, 7, 0}, "Temporary authentication failure"
	case 530:
		return smtp.EnhancedCode{5, 7, 0}, "Authentication required"
	case 535:
		return smtp.EnhancedCode{5, 7, 8}, "Authentication credentials invalid"
	case 550:
		switch stage {
		case StageRcpt:
			return smtp.EnhancedCode{5, 1, 1}, "Mailbox unavailable: no such user here"
		case StageMail:
			return smtp.EnhancedCode{5, 1, 0}, "Sender address rejected"
		case StageData:
			return smtp.EnhancedCode{5, 7, 1}, "Message rejected by policy"
		}
		return smtp.EnhancedCode{5, 7, 0}, "Requested action not taken"
	case 551:
		return smtp.EnhancedCode{5, 1, 6}, "User not local"
	case 552:
		return smtp.EnhancedCode{5, 3, 4}, "Message size exceeds fixed limit"
	case 553:
		return smtp.EnhancedCode{5, 1, 3}, "Mailbox name not allowed"
	case 554:
		return smtp.EnhancedCode{5, 6, 0}, "Transaction failed: message content rejected"
	}
	if code/100 == 4 {
		return smtp.EnhancedCode{4, 0, 0}, "Temporary failure (injected by the Herald sandbox)"
	}
	return smtp.EnhancedCode{5, 0, 0}, "Permanent failure (injected by the Herald sandbox)"
}

// reply builds the SMTP error a reply fault sends.
func (f Fault) reply() *smtp.SMTPError {
	ec, text := defaultReply(f.Stage, f.Code)
	if f.EnhancedCode != "" {
		if parsed, err := parseEnhanced(f.EnhancedCode, f.Code); err == nil {
			ec = parsed
		}
	}
	return &smtp.SMTPError{Code: f.Code, EnhancedCode: ec, Message: text + " (sandbox fault " + f.Stage + ":" + strconv.Itoa(f.Code) + ")"}
}

// Describe says in words what the fault does to a client, for a form or a
// listing: "refuses each recipient with 550 5.1.1 (Mailbox unavailable: no
// such user here), about 20% of the time".
func (f Fault) Describe() string {
	var s string
	switch {
	case f.Drop:
		s = "reads and stores the whole message, then closes the connection without replying (the client cannot tell whether it arrived)"
	case f.Delay > 0 && f.Stage == "":
		s = "waits " + f.Delay.String() + " before every reply from MAIL FROM on"
	case f.Delay > 0:
		s = "waits " + f.Delay.String() + " before replying to " + stageWords(f.Stage)
	default:
		e := f.reply()
		what := map[string]string{
			StageAuth: "answers the login (right or wrong credentials)",
			StageMail: "refuses the sender (MAIL FROM)",
			StageRcpt: "refuses each recipient (RCPT TO)",
			StageData: "refuses the message after it was sent whole (it is not stored)",
		}[f.Stage]
		if f.Code/100 == 4 && f.Stage != StageAuth {
			what = strings.Replace(what, "refuses", "temporarily refuses", 1)
		}
		text, _, _ := strings.Cut(e.Message, " (sandbox fault")
		s = fmt.Sprintf("%s with %d %d.%d.%d (%s)", what, e.Code, e.EnhancedCode[0], e.EnhancedCode[1], e.EnhancedCode[2], text)
		if f.Code == 421 {
			s += ", then closes the connection"
		}
		if f.Code/100 == 4 {
			s += "; a client should retry later"
		} else {
			s += "; a client should give up"
		}
	}
	if p := f.percent(); p < 100 {
		s += fmt.Sprintf(", about %d%% of the time", p)
	}
	return s
}

func stageWords(stage string) string {
	switch stage {
	case StageAuth:
		return "the login"
	case StageMail:
		return "MAIL FROM"
	case StageRcpt:
		return "each RCPT TO"
	case StageData:
		return "the end of the message"
	}
	return stage
}

// FaultExample is a ready-made fault specification with its effect in
// words, for a form to offer.
type FaultExample struct {
	// Spec is the specification, as ParseFaults reads it.
	Spec string
	// Label names the situation it imitates.
	Label string
}

// FaultExamples lists common faults a sender should survive.
func FaultExamples() []FaultExample {
	return []FaultExample{
		{"rcpt:550", "Every recipient unknown (550 5.1.1)"},
		{"rcpt:550:20", "A fifth of the recipients unknown"},
		{"rcpt:452", "Too many recipients / mailbox full (452, retry)"},
		{"mail:550", "Sender refused (550 5.1.0)"},
		{"mail:421", "Server closing down (421, retry)"},
		{"data:451:30", "Temporary failure after the message (451, 30%)"},
		{"data:554", "Message content rejected (554 5.6.0)"},
		{"data:552", "Message too large (552 5.3.4)"},
		{"auth:535", "Login refused (535 5.7.8; needs required AUTH)"},
		{"auth:454", "Temporary login failure (454 4.7.0; needs required AUTH)"},
		{"delay:2s", "Slow server: 2 s before every reply"},
		{"delay-data:35s", "Very slow after the message (35 s)"},
		{"drop-after-data:10", "Connection lost after the message (10%)"},
	}
}
