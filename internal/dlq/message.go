package dlq

import (
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/binding"
	"github.com/tenantry/tenantry/internal/envelope"
	"github.com/tenantry/tenantry/internal/outcome"
	"github.com/tenantry/tenantry/worker"
)

// ReasonRedrivePolicy is the reason shown for a message that carries no
// dead-letter attributes: the queue's redrive policy moved it (the worker
// never dead-lettered it itself).
const ReasonRedrivePolicy = "redrive_policy"

// Unverified is the tenant shown (and grouped) for messages whose envelope
// did not verify.
const Unverified = "unverified"

// Message is what the DLQ tools know about one dead-lettered message. It
// never holds the body or the token.
type Message struct {
	// ID is the DLQ message id.
	ID string `json:"id"`
	// OriginalID is the message id in the source queue before the worker
	// dead-lettered it ("" if unknown).
	OriginalID string `json:"original_id,omitempty"`
	// Verified is true when the envelope verified; Tenant, Action and
	// Resource are then the signed claims.
	Verified bool      `json:"verified"`
	Tenant   uuid.UUID `json:"tenant,omitzero"`
	Action   string    `json:"action,omitempty"`
	Resource string    `json:"resource,omitempty"`
	// MoreResources counts the S3 objects of an event message beyond the first
	// (Resource names the first).
	MoreResources int `json:"more_resources,omitempty"`
	// UnverifiedReason is the reason code when Verified is false.
	UnverifiedReason string `json:"unverified_reason,omitempty"`
	// Reason and Stage are the worker's dead-letter reason and failed stage
	// (ReasonRedrivePolicy and "" for a message the queue moved itself).
	Reason string `json:"reason"`
	Stage  string `json:"stage,omitempty"`
	// Attempts is how often the worker handled the message before it was
	// dead-lettered (its receive count in the source queue when known).
	Attempts int `json:"attempts"`
	// ReceiveCount is the DLQ's ApproximateReceiveCount (inspections count).
	ReceiveCount int `json:"receive_count"`
	// SentAt is when the message entered the DLQ (the original send time for
	// a message the queue moved itself).
	SentAt time.Time `json:"sent_at,omitzero"`
	// DeadLetteredAt is the worker's dead-letter time (zero if unknown).
	DeadLetteredAt time.Time `json:"dead_lettered_at,omitzero"`
	// Age is how long ago it was dead-lettered (DeadLetteredAt, else SentAt).
	Age time.Duration `json:"-"`
	// ReplayCount is how often it was replayed before (AttrReplayCount).
	ReplayCount int `json:"replay_count"`
	// History lists earlier dead-letterings that were replayed.
	History []HistoryEntry `json:"history,omitempty"`
	// Expires is the envelope's expiry (verified messages only; zero for an
	// S3 removal, which has no envelope).
	Expires time.Time `json:"expires,omitzero"`
}

// TenantLabel is the tenant id, or "unverified".
func (m Message) TenantLabel() string {
	if !m.Verified {
		return Unverified
	}
	return m.Tenant.String()
}

// delivery is one received DLQ message.
type delivery struct {
	msg     Message
	handle  string
	body    []byte
	attrs   map[string]types.MessageAttributeValue
	str     map[string]string // String and Number attributes
	groupID string
	// verified holds the message's verified envelopes (one per job or
	// object), verr why there are none.
	verified []envelope.Verified
	verr     error
}

// newDelivery converts a received message; ok is false for an entry
// without id, handle or body (a broken server).
func newDelivery(sm *types.Message, now time.Time) (*delivery, bool) {
	if sm.MessageId == nil || sm.ReceiptHandle == nil || sm.Body == nil {
		return nil, false
	}
	d := &delivery{
		handle: *sm.ReceiptHandle,
		body:   []byte(*sm.Body),
		attrs:  sm.MessageAttributes,
		str:    make(map[string]string, len(sm.MessageAttributes)),
	}
	for name, v := range sm.MessageAttributes {
		if v.StringValue != nil && v.DataType != nil && !strings.HasPrefix(*v.DataType, "Binary") {
			d.str[name] = *v.StringValue
		}
	}
	sys := sm.Attributes
	d.groupID = sys[string(types.MessageSystemAttributeNameMessageGroupId)]
	m := Message{ID: *sm.MessageId}
	m.ReceiveCount, _ = strconv.Atoi(sys[string(types.MessageSystemAttributeNameApproximateReceiveCount)])
	m.SentAt = millis(sys[string(types.MessageSystemAttributeNameSentTimestamp)])
	if info, orig, ok := worker.ParseDeadLetterInfo(d.str); ok {
		m.Reason = worker.SanitizeReason(info.Reason)
		if info.Stage != "" {
			m.Stage = worker.SanitizeReason(info.Stage)
		}
		m.Attempts = max(info.Attempts, 0)
		m.DeadLetteredAt = info.At.UTC()
		m.OriginalID = worker.TruncateText(orig, 128)
	} else {
		m.Reason = ReasonRedrivePolicy
		m.Attempts = m.ReceiveCount
	}
	from := m.DeadLetteredAt
	if from.IsZero() {
		from = m.SentAt
	}
	if !from.IsZero() {
		m.Age = max(now.Sub(from), 0)
	}
	m.History, _ = ParseHistory(d.str[AttrHistory])
	m.ReplayCount = max(parseReplayCount(d.str[AttrReplayCount]), len(m.History))
	d.msg = m
	return d, true
}

// setVerified records the resolver's answer on the message view.
func (d *delivery) setVerified(vs []envelope.Verified, err error) {
	d.verified, d.verr = vs, err
	if err != nil || len(vs) == 0 {
		d.msg.Verified = false
		d.msg.UnverifiedReason = outcome.Classify(err).Reason
		if err == nil {
			d.msg.UnverifiedReason = binding.ReasonMissingEnvelope
		}
		return
	}
	c := vs[0].Claims
	d.msg.Verified = true
	d.msg.Tenant = c.TenantID
	d.msg.Action = string(c.Action)
	d.msg.Resource = c.Resource
	d.msg.MoreResources = len(vs) - 1
	d.msg.Expires = time.Time{}
	for _, v := range vs {
		// Removal scopes (envelope.VerifyRemoval) carry no expiry.
		if e := v.Claims.Expiry; !e.IsZero() && (d.msg.Expires.IsZero() || e.Before(d.msg.Expires)) {
			d.msg.Expires = e
		}
	}
}

func millis(s string) time.Time {
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil || ms <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}
