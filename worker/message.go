package worker

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Message is one delivery of a queued message. A message delivered twice is
// two Message values with the same ID and different Handles.
type Message struct {
	// ID is the queue's message id; it is the same on every delivery.
	ID string
	// Body is the message body, exactly as sent.
	Body []byte
	// Attributes are the message attributes with a string value (SQS
	// String and Number types). Binary attributes are kept by the Source
	// (see Raw) and preserved when the message is dead-lettered.
	Attributes map[string]string
	// ReceiveCount is how many times the message has been delivered,
	// this delivery included (1 on the first delivery).
	ReceiveCount int
	// SentAt is when the producer sent the message (zero if unknown).
	SentAt time.Time
	// FirstReceivedAt is when the message was first delivered (zero if
	// unknown).
	FirstReceivedAt time.Time
	// ReceivedAt is when this delivery was received by this process.
	ReceivedAt time.Time
	// Handle identifies this delivery to the Source (the SQS receipt
	// handle). It changes on every delivery; never log it.
	Handle string
	// Raw is the Source's own representation of the delivery (for SQS,
	// the message attributes with their types). Handlers must not rely
	// on it; Sources use it to dead-letter the message faithfully.
	Raw any
}

// Attribute is one named string attribute.
type Attribute struct {
	Name  string
	Value string
}

// Names of the attributes a Source adds when it dead-letters a message.
// Consumers of the DLQ (tenantry dlq) read them with ParseDeadLetterInfo.
const (
	AttrReason            = "tenantry-reason"
	AttrStage             = "tenantry-stage"
	AttrAttempts          = "tenantry-attempts"
	AttrError             = "tenantry-error"
	AttrDeadLetteredAt    = "tenantry-dead-lettered-at"
	AttrOriginalMessageID = "tenantry-original-message-id"
)

// MaxAttributes is the number of message attributes SQS accepts on one
// message. DeadLetterAttributes never makes a message exceed it.
const MaxAttributes = 10

// maxErrorAttr bounds the error text stored on a dead-lettered message.
const maxErrorAttr = 256

// DeadLetterInfo says why a message is being dead-lettered. It travels as
// message attributes on the dead-lettered copy.
type DeadLetterInfo struct {
	// Reason is a stable, text-free code (e.g. "max_receives",
	// "bad_signature", "malformed_event").
	Reason string
	// Stage is where processing failed (e.g. "handler", "envelope",
	// "decode", "receive").
	Stage string
	// Error is a short description of the last error. It must not contain
	// document text or secrets; it is truncated to 256 bytes.
	Error string
	// Attempts is how many times the message was handled (its receive
	// count when dead-lettered).
	Attempts int
	// At is when the message was dead-lettered (now, if zero).
	At time.Time
}

// DeadLetterAttributes returns the attributes a Source adds to a
// dead-lettered copy of a message, most important first, limited so that
// together with the message's own attributes (existing, by name) the copy
// has at most MaxAttributes. Existing attributes with the same names (a
// message dead-lettered before, replayed, and failing again) are replaced,
// so they do not count. The original attributes always win: if the message
// already has MaxAttributes attributes of its own, the list may be empty.
func DeadLetterAttributes(existing []string, info DeadLetterInfo, originalID string) []Attribute {
	at := info.At
	if at.IsZero() {
		at = time.Now()
	}
	reason := SanitizeReason(info.Reason)
	all := []Attribute{
		{AttrReason, reason},
		{AttrStage, SanitizeReason(orDefault(info.Stage, "handler"))},
		{AttrAttempts, strconv.Itoa(info.Attempts)},
		{AttrError, TruncateText(orDefault(info.Error, reason), maxErrorAttr)},
		{AttrDeadLetteredAt, at.UTC().Format(time.RFC3339Nano)},
		{AttrOriginalMessageID, TruncateText(originalID, maxErrorAttr)},
	}
	ours := make(map[string]bool, len(all))
	for _, a := range all {
		ours[a.Name] = true
	}
	kept := 0
	for _, n := range existing {
		if !ours[n] {
			kept++
		}
	}
	room := max(MaxAttributes-kept, 0)
	out := make([]Attribute, 0, len(all))
	for _, a := range all {
		if len(out) == room {
			break
		}
		if a.Value == "" {
			continue
		}
		out = append(out, a)
	}
	return out
}

// ParseDeadLetterInfo reads the attributes DeadLetterAttributes wrote. ok
// is false when the message carries no reason attribute (it was moved by the
// queue's redrive policy, not by a runner).
func ParseDeadLetterInfo(attrs map[string]string) (info DeadLetterInfo, originalID string, ok bool) {
	info.Reason, ok = attrs[AttrReason]
	if !ok {
		return DeadLetterInfo{}, "", false
	}
	info.Stage = attrs[AttrStage]
	info.Error = attrs[AttrError]
	info.Attempts, _ = strconv.Atoi(attrs[AttrAttempts])
	info.At, _ = time.Parse(time.RFC3339Nano, attrs[AttrDeadLetteredAt])
	return info, attrs[AttrOriginalMessageID], true
}

// SanitizeReason maps s to a reason code that is safe as a metric label and
// an attribute value: lower-case ASCII letters, digits, '_', '-' and '.',
// at most 64 bytes; other runes become '_'. An empty result is "unknown".
func SanitizeReason(s string) string {
	const maxLen = 64
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= maxLen {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_', r == '-', r == '.':
			b.WriteRune(r)
		case r >= 'A' && r <= 'Z':
			b.WriteRune(r + ('a' - 'A'))
		default:
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "unknown"
	}
	return b.String()
}

// TruncateText cuts s to at most n bytes on a rune boundary and replaces
// invalid UTF-8 and control characters, so it is safe as an SQS attribute
// value and a log field.
func TruncateText(s string, n int) string {
	var b strings.Builder
	for _, r := range s {
		if r == utf8.RuneError || r < 0x20 || r == 0x7f || r == 0xfffe || r == 0xffff {
			r = ' '
		}
		if b.Len()+utf8.RuneLen(r) > n {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
