package console

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/tenantry/tenantry/internal/audit"
)

// Support access events (migration 0007, internal/tenantdb SupportAdmin and
// SupportReader) as the timeline names them.
const (
	supportGranted = "support.granted"
	supportRead    = "support.read"
	supportRevoked = "support.revoked"
)

// supportNote is the timeline's plain-words line for a support access event
// ("" for any other event): who read what, under which grant, and why. It
// shows only the event's own fields (operator, reason, what was read, a row
// count), never what was read.
func supportNote(e audit.Event) string {
	if !strings.HasPrefix(e.Action, "support.") {
		return ""
	}
	var d struct {
		Operator  string `json:"operator"`
		Reason    string `json:"reason"`
		Grant     string `json:"grant"`
		Read      string `json:"read"`
		Document  string `json:"document"`
		Rows      int64  `json:"rows"`
		ExpiresAt string `json:"expires_at"`
		GrantedBy string `json:"granted_by"`
		RevokedBy string `json:"revoked_by"`
	}
	if err := json.Unmarshal([]byte(e.Detail), &d); err != nil {
		return "support access (unreadable detail)"
	}
	switch e.Action {
	case supportGranted:
		return fmt.Sprintf("support access GRANTED to %s by %s until %s, reason: %s (grant %s)",
			orUnknown(d.Operator), orUnknown(d.GrantedBy), orUnknown(d.ExpiresAt), orUnknown(d.Reason), short(d.Grant))
	case supportRead:
		what := d.Read
		if d.Read == "chunks" {
			what = "the chunks of " + d.Document
		}
		return fmt.Sprintf("support READ by %s: %s (%d rows), reason: %s (grant %s)",
			orUnknown(d.Operator), orUnknown(what), d.Rows, orUnknown(d.Reason), short(d.Grant))
	case supportRevoked:
		return fmt.Sprintf("support access of %s REVOKED by %s (grant %s)",
			orUnknown(d.Operator), orUnknown(d.RevokedBy), short(d.Grant))
	}
	return "support access: " + e.Action
}

func orUnknown(s string) string {
	if s == "" {
		return "?"
	}
	return s
}

func short(s string) string {
	if len(s) > 8 {
		return s[:8]
	}
	return orUnknown(s)
}
