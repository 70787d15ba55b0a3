package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// Event is one audit row.
type Event struct {
	TenantID    uuid.UUID `json:"tenant_id"`
	Seq         int64     `json:"seq"`
	OccurredAt  time.Time `json:"occurred_at"`
	Actor       string    `json:"actor"`
	JobID       string    `json:"job_id"`
	Action      string    `json:"action"`
	Resource    string    `json:"resource"`
	PayloadHash string    `json:"payload_hash"`
	Detail      string    `json:"detail"`
	PrevHash    []byte    `json:"prev_hash"`
	Hash        []byte    `json:"hash"`
}

// Genesis is the prev_hash of a tenant's first row.
var Genesis = make([]byte, sha256.Size)

// Hash computes the canonical hash of e (ignoring e.Hash). It must agree byte
// for byte with the SQL function tenantry_audit_hash.
func Hash(e Event) []byte {
	h := sha256.New()
	h.Write([]byte("tenantry-audit-v1\n"))
	field := func(s string) {
		h.Write([]byte(strconv.Itoa(len(s))))
		h.Write([]byte{':'})
		h.Write([]byte(s))
		h.Write([]byte{'\n'})
	}
	field(e.TenantID.String())
	field(strconv.FormatInt(e.Seq, 10))
	field(hex.EncodeToString(e.PrevHash))
	field(e.OccurredAt.UTC().Format("2006-01-02T15:04:05.000000Z"))
	field(e.Actor)
	field(e.JobID)
	field(e.Action)
	field(e.Resource)
	field(e.PayloadHash)
	field(e.Detail)
	return h.Sum(nil)
}

// ErrBroken is wrapped by every chain verification failure.
var ErrBroken = errors.New("audit chain broken")

// BrokenError says where and how a chain is broken.
type BrokenError struct {
	TenantID uuid.UUID
	Seq      int64
	Problem  string
}

func (e *BrokenError) Error() string {
	return fmt.Sprintf("%v: tenant %s at seq %d: %s", ErrBroken, e.TenantID, e.Seq, e.Problem)
}

func (e *BrokenError) Unwrap() error { return ErrBroken }

// Chain verifies one tenant's events fed in seq order.
type Chain struct {
	tenant uuid.UUID
	seq    int64
	prev   []byte
}

// NewChain starts verifying tenant's chain.
func NewChain(tenant uuid.UUID) *Chain {
	return &Chain{tenant: tenant, prev: Genesis}
}

// Add checks the next event.
func (c *Chain) Add(e Event) error {
	broken := func(p string) error { return &BrokenError{TenantID: c.tenant, Seq: e.Seq, Problem: p} }
	switch {
	case e.TenantID != c.tenant:
		return broken("row of another tenant")
	case e.Seq != c.seq+1:
		return broken(fmt.Sprintf("expected seq %d (row missing or reordered)", c.seq+1))
	case !bytes.Equal(e.PrevHash, c.prev):
		return broken("prev_hash does not link to the previous row")
	case !bytes.Equal(Hash(e), e.Hash):
		return broken("hash does not match the row's content (row altered)")
	}
	c.seq, c.prev = e.Seq, e.Hash
	return nil
}

// Close checks the chain against the stored head (seq, hash). A head ahead of
// the last row means rows were deleted from the end.
func (c *Chain) Close(headSeq int64, headHash []byte) error {
	if headSeq != c.seq || (headSeq > 0 && !bytes.Equal(headHash, c.prev)) {
		return &BrokenError{TenantID: c.tenant, Seq: c.seq, Problem: fmt.Sprintf("head is at seq %d, chain ends at %d", headSeq, c.seq)}
	}
	return nil
}

// Len is the number of events verified so far.
func (c *Chain) Len() int64 { return c.seq }
