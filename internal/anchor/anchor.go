package anchor

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Type is the JWS typ header of an anchor. Envelope verifiers refuse it, and
// anchors are opened only under it.
const Type = "tenantry-anchor+jws"

// Version is the anchor payload version this package writes and reads.
const Version = 1

// Anchor is the signed payload: one tenant's chain head at one time.
type Anchor struct {
	V          int       `json:"v"`
	Tenant     uuid.UUID `json:"tenant"`
	Seq        int64     `json:"seq"`
	Hash       string    `json:"hash"` // hex SHA-256 of the row at Seq
	AnchoredAt time.Time `json:"anchored_at"`
	// Prev links the tenant's previous anchor (nil for the first).
	Prev *Link `json:"prev,omitempty"`
}

// Link names an anchor file by its seq and the SHA-256 of its bytes.
type Link struct {
	Seq    int64  `json:"seq"`
	SHA256 string `json:"sha256"`
}

// FileSHA256 is the hex SHA-256 of an anchor file's bytes (what Link holds).
func FileSHA256(file []byte) string {
	s := sha256.Sum256(file)
	return hex.EncodeToString(s[:])
}

var hexHash = regexp.MustCompile(`^[0-9a-f]{64}$`)

// parsePayload decodes an anchor payload strictly: known fields only, a
// version this package reads, a non-nil tenant, a positive seq, lower-case
// hex hashes.
func parsePayload(p []byte) (Anchor, error) {
	dec := json.NewDecoder(bytes.NewReader(p))
	dec.DisallowUnknownFields()
	var a Anchor
	if err := dec.Decode(&a); err != nil {
		return Anchor{}, errors.New("payload is not an anchor")
	}
	if dec.More() {
		return Anchor{}, errors.New("payload has trailing data")
	}
	switch {
	case a.V != Version:
		return Anchor{}, fmt.Errorf("anchor version %d not supported", a.V)
	case a.Tenant == uuid.Nil:
		return Anchor{}, errors.New("anchor has no tenant")
	case a.Seq < 1:
		return Anchor{}, errors.New("anchor seq is not positive")
	case !hexHash.MatchString(a.Hash):
		return Anchor{}, errors.New("anchor hash is not hex SHA-256")
	case a.AnchoredAt.IsZero():
		return Anchor{}, errors.New("anchor has no time")
	case a.Prev != nil && (a.Prev.Seq < 1 || a.Prev.Seq >= a.Seq || !hexHash.MatchString(a.Prev.SHA256)):
		return Anchor{}, errors.New("anchor's link to its previous anchor is invalid")
	}
	return a, nil
}

// Key is the object key of tenant's anchor at seq under prefix ("anchors/").
// Zero-padded, so keys sort by seq.
func Key(prefix string, tenant uuid.UUID, seq int64) string {
	return TenantPrefix(prefix, tenant) + fmt.Sprintf("%020d.jws", seq)
}

// TenantPrefix is the key prefix of tenant's anchors.
func TenantPrefix(prefix string, tenant uuid.UUID) string {
	return prefix + tenant.String() + "/"
}

// seqOfKey parses the seq out of an anchor key of tenant (false if the key
// is not an anchor key of that tenant).
func seqOfKey(prefix string, tenant uuid.UUID, key string) (int64, bool) {
	name, ok := strings.CutPrefix(key, TenantPrefix(prefix, tenant))
	if !ok {
		return 0, false
	}
	digits, ok := strings.CutSuffix(name, ".jws")
	if !ok || len(digits) != 20 {
		return 0, false
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n < 1 {
		return 0, false
	}
	return n, true
}
