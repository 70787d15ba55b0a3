package tenantdb

import (
	"context"
	"fmt"
	"unicode/utf8"
)

// SecurityEvent records a rejected envelope. It is not tenant-scoped: the
// tenant was not verified. The worker role may insert these but not read them.
type SecurityEvent struct {
	Reason        string // stable reason code, e.g. bad_signature
	Source        string // sqs, s3, sfn, dlq-replay
	MessageID     string
	ClaimedTenant string // unverified; for investigation only
	Resource      string // unverified
	Detail        string // short, no document text, no token
}

// RecordSecurityEvent inserts ev outside any tenant scope.
func (db *DB) RecordSecurityEvent(ctx context.Context, ev SecurityEvent) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO security_events (reason, source, message_id, claimed_tenant, resource, detail)
		VALUES ($1, $2, $3, $4, $5, $6)`,
		clip(ev.Reason, 64), clip(ev.Source, 32), clip(ev.MessageID, 256), clip(ev.ClaimedTenant, 64),
		clip(ev.Resource, 1024), clip(ev.Detail, 1024))
	if err != nil {
		return fmt.Errorf("tenantdb: record security event: %w", err)
	}
	return nil
}

// clip bounds a string to n bytes without splitting a rune, and drops invalid UTF-8.
func clip(s string, n int) string {
	if !utf8.ValidString(s) {
		s = fmt.Sprintf("%q", s)
	}
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
