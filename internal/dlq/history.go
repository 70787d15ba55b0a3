package dlq

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/tenantry/tenantry/worker"
)

// Names of the attributes a replay adds. Together with the worker's
// dead-letter attributes they make a replay loop visible and bounded.
const (
	// AttrReplayCount is how many times the message was replayed (SQS
	// Number attribute).
	AttrReplayCount = "tenantry-replay-count"
	// AttrHistory is the replay history: a JSON array of HistoryEntry,
	// oldest first, at most MaxHistoryEntries and MaxHistoryBytes.
	AttrHistory = "tenantry-history"
)

// Bounds of the history attribute.
const (
	MaxHistoryEntries = 8
	MaxHistoryBytes   = 2048
	// maxHistoryInput is the largest history attribute parsed (anything
	// longer is ignored as foreign).
	maxHistoryInput = 4 * MaxHistoryBytes
)

// deadLetterAttrs are the worker's dead-letter attributes: a replayed copy
// drops them (they move into the history).
var deadLetterAttrs = []string{
	worker.AttrReason, worker.AttrStage, worker.AttrAttempts, worker.AttrError,
	worker.AttrDeadLetteredAt, worker.AttrOriginalMessageID,
}

// HistoryEntry is one dead-lettering that was followed by a replay.
type HistoryEntry struct {
	// Reason and Stage are the worker's dead-letter reason and stage.
	Reason string `json:"reason"`
	Stage  string `json:"stage,omitempty"`
	// Attempts is how often the worker handled the message before it
	// dead-lettered it.
	Attempts int `json:"attempts,omitempty"`
	// DeadLetteredAt is when it was dead-lettered (zero if unknown).
	DeadLetteredAt time.Time `json:"dead_lettered_at,omitzero"`
	// ReplayedAt is when it was replayed.
	ReplayedAt time.Time `json:"replayed_at"`
	// MessageID is the DLQ message id that was replayed.
	MessageID string `json:"message_id,omitempty"`
}

// ErrMalformedHistory is returned by ParseHistory for a value that is not a
// history this package wrote.
var ErrMalformedHistory = errors.New("dlq: malformed replay history")

// ParseHistory reads an AttrHistory value. It accepts at most
// MaxHistoryEntries entries (4 KiB); reason and stage are re-sanitised, so a
// forged history can only ever show safe codes.
func ParseHistory(s string) ([]HistoryEntry, error) {
	if s == "" {
		return nil, nil
	}
	if len(s) > maxHistoryInput {
		return nil, ErrMalformedHistory
	}
	var h []HistoryEntry
	if err := json.Unmarshal([]byte(s), &h); err != nil || len(h) > MaxHistoryEntries {
		return nil, ErrMalformedHistory
	}
	for i := range h {
		h[i] = h[i].clean()
	}
	return h, nil
}

func (e HistoryEntry) clean() HistoryEntry {
	e.Reason = worker.SanitizeReason(e.Reason)
	if e.Stage != "" {
		e.Stage = worker.SanitizeReason(e.Stage)
	}
	e.Attempts = max(e.Attempts, 0)
	e.MessageID = worker.TruncateText(e.MessageID, 128)
	e.DeadLetteredAt = e.DeadLetteredAt.UTC().Truncate(time.Second)
	e.ReplayedAt = e.ReplayedAt.UTC().Truncate(time.Second)
	return e
}

// FormatHistory encodes h for AttrHistory, keeping the newest entries that
// fit MaxHistoryEntries and MaxHistoryBytes.
func FormatHistory(h []HistoryEntry) string {
	if len(h) > MaxHistoryEntries {
		h = h[len(h)-MaxHistoryEntries:]
	}
	clean := make([]HistoryEntry, len(h))
	for i, e := range h {
		clean[i] = e.clean()
	}
	for len(clean) > 0 {
		b, err := json.Marshal(clean)
		if err == nil && len(b) <= MaxHistoryBytes {
			return string(b)
		}
		clean = clean[1:]
	}
	return "[]"
}

// parseReplayCount reads AttrReplayCount (0 if absent or not a count).
func parseReplayCount(s string) int {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 {
		return 0
	}
	return n
}
