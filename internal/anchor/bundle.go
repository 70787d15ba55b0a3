package anchor

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/audit"
	"github.com/tenantry/tenantry/internal/envelope"
	"github.com/tenantry/tenantry/internal/objects"
)

// An offline bundle of one tenant, for an auditor (docs/operations.md):
//
//	events.jsonl   the chain, one BundleEvent per line, in seq order
//	anchors/       the tenant's anchor files (<seq>.jws), as stored
//	jwks.json      the public keys that signed them (check them against the
//	               keys the operator publishes)
//	SHA256SUMS     sha256sum -c format, over the files above
const (
	BundleEvents  = "events.jsonl"
	BundleAnchors = "anchors"
	BundleJWKS    = "jwks.json"
	BundleSums    = "SHA256SUMS"
)

// BundleEvent is an audit event as the bundle writes it: hashes in
// lower-case hex, the time exactly as the row hash covers it.
type BundleEvent struct {
	TenantID    string `json:"tenant_id"`
	Seq         int64  `json:"seq"`
	OccurredAt  string `json:"occurred_at"` // 2006-01-02T15:04:05.000000Z
	Actor       string `json:"actor"`
	JobID       string `json:"job_id"`
	Action      string `json:"action"`
	Resource    string `json:"resource"`
	PayloadHash string `json:"payload_hash"`
	Detail      string `json:"detail"`
	PrevHash    string `json:"prev_hash"`
	Hash        string `json:"hash"`
}

const canonicalTime = "2006-01-02T15:04:05.000000Z"

func toBundle(e audit.Event) BundleEvent {
	return BundleEvent{TenantID: e.TenantID.String(), Seq: e.Seq, OccurredAt: e.OccurredAt.UTC().Format(canonicalTime),
		Actor: e.Actor, JobID: e.JobID, Action: e.Action, Resource: e.Resource, PayloadHash: e.PayloadHash,
		Detail: e.Detail, PrevHash: hex.EncodeToString(e.PrevHash), Hash: hex.EncodeToString(e.Hash)}
}

func fromBundle(b BundleEvent) (audit.Event, error) {
	t, err := uuid.Parse(b.TenantID)
	if err != nil {
		return audit.Event{}, errors.New("bad tenant_id")
	}
	at, err := time.Parse(canonicalTime, b.OccurredAt)
	if err != nil {
		return audit.Event{}, errors.New("bad occurred_at")
	}
	prev, err1 := hex.DecodeString(b.PrevHash)
	h, err2 := hex.DecodeString(b.Hash)
	if err1 != nil || err2 != nil {
		return audit.Event{}, errors.New("bad hash")
	}
	return audit.Event{TenantID: t, Seq: b.Seq, OccurredAt: at, Actor: b.Actor, JobID: b.JobID, Action: b.Action,
		Resource: b.Resource, PayloadHash: b.PayloadHash, Detail: b.Detail, PrevHash: prev, Hash: h}, nil
}

// WriteBundle writes tenant's offline bundle into dir (created; must be
// empty or absent). keys resolves the public keys named by the anchors.
func WriteBundle(ctx context.Context, dir string, src audit.Source, store Store, keys envelope.KeySource, tenant uuid.UUID) error {
	if err := os.MkdirAll(filepath.Join(dir, BundleAnchors), 0o750); err != nil {
		return fmt.Errorf("anchor: bundle: %w", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) > 1 {
		return fmt.Errorf("anchor: bundle directory %s is not empty", dir)
	}
	var ev bytes.Buffer
	enc := json.NewEncoder(&ev)
	enc.SetEscapeHTML(false)
	if err := src.ScanAudit(ctx, tenant, func(e audit.Event) error { return enc.Encode(toBundle(e)) }); err != nil {
		return err
	}
	files := map[string][]byte{BundleEvents: ev.Bytes()}
	list, err := store.List(ctx, tenant)
	if err != nil {
		return err
	}
	var pubs []envelope.PublicKey
	seenKid := map[string]bool{}
	for _, key := range list {
		file, err := store.Read(ctx, key)
		if err != nil {
			return err
		}
		files[BundleAnchors+"/"+filepath.Base(key)] = file
		kid, err := kidOf(string(file))
		if err != nil || seenKid[kid] {
			continue // a broken anchor is copied as is; the auditor's check reports it
		}
		seenKid[kid] = true
		pk, err := keys.PublicKey(ctx, kid)
		if err == nil {
			pubs = append(pubs, pk)
		}
	}
	ring, err := envelope.NewKeyRing(pubs...)
	if err != nil {
		return err
	}
	if files[BundleJWKS], err = ring.JWKS(); err != nil {
		return err
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var sums bytes.Buffer
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(n)), files[n], 0o600); err != nil {
			return fmt.Errorf("anchor: bundle: %w", err)
		}
		s := sha256.Sum256(files[n])
		fmt.Fprintf(&sums, "%s  %s\n", hex.EncodeToString(s[:]), n)
	}
	if err := os.WriteFile(filepath.Join(dir, BundleSums), sums.Bytes(), 0o600); err != nil {
		return fmt.Errorf("anchor: bundle: %w", err)
	}
	return nil
}

// kidOf reads the kid of a compact JWS header without trusting it.
func kidOf(tok string) (string, error) {
	h, _, ok := strings.Cut(tok, ".")
	if !ok {
		return "", errors.New("not a JWS")
	}
	raw, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		return "", err
	}
	var hdr struct {
		Kid string `json:"kid"`
	}
	if err := json.Unmarshal(raw, &hdr); err != nil || hdr.Kid == "" {
		return "", errors.New("no kid")
	}
	return hdr.Kid, nil
}

// Bundle is an offline bundle opened for checking: an audit.Source over its
// events and a Store over its anchors.
type Bundle struct {
	dir    string
	tenant uuid.UUID
	events []audit.Event
}

// OpenBundle reads a bundle directory. The tenant is the one of its first
// event.
func OpenBundle(dir string) (*Bundle, error) {
	f, err := os.Open(filepath.Join(dir, BundleEvents))
	if err != nil {
		return nil, fmt.Errorf("anchor: bundle: %w", err)
	}
	defer f.Close()
	b := &Bundle{dir: dir}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for line := 1; sc.Scan(); line++ {
		var be BundleEvent
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&be); err != nil {
			return nil, fmt.Errorf("anchor: bundle: %s line %d is not an event", BundleEvents, line)
		}
		e, err := fromBundle(be)
		if err != nil {
			return nil, fmt.Errorf("anchor: bundle: %s line %d: %w", BundleEvents, line, err)
		}
		if b.tenant == uuid.Nil {
			b.tenant = e.TenantID
		}
		b.events = append(b.events, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("anchor: bundle: %w", err)
	}
	if b.tenant == uuid.Nil {
		return nil, errors.New("anchor: bundle has no events")
	}
	return b, nil
}

// Tenant is the bundle's tenant.
func (b *Bundle) Tenant() uuid.UUID { return b.tenant }

// AuditTenants implements audit.Source.
func (b *Bundle) AuditTenants(context.Context) ([]uuid.UUID, error) {
	return []uuid.UUID{b.tenant}, nil
}

// AuditHead implements audit.Source: the bundle's last event (a bundle has
// no separate head; truncation shows against the anchors).
func (b *Bundle) AuditHead(_ context.Context, t uuid.UUID) (int64, []byte, error) {
	if t != b.tenant || len(b.events) == 0 {
		return 0, nil, nil
	}
	last := b.events[len(b.events)-1]
	return last.Seq, last.Hash, nil
}

// ScanAudit implements audit.Source.
func (b *Bundle) ScanAudit(_ context.Context, t uuid.UUID, fn func(audit.Event) error) error {
	for _, e := range b.events { // a row of another tenant is reported by the chain check
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

// Prefix implements Store: the bundle's anchors are under "<tenant>/".
func (b *Bundle) Prefix() string { return "" }

// Tenants implements Store.
func (b *Bundle) Tenants(context.Context) ([]uuid.UUID, error) { return []uuid.UUID{b.tenant}, nil }

// List implements Store.
func (b *Bundle) List(_ context.Context, t uuid.UUID) ([]string, error) {
	names, err := filepath.Glob(filepath.Join(b.dir, BundleAnchors, "*"))
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(names))
	for _, n := range names {
		out = append(out, TenantPrefix("", t)+filepath.Base(n))
	}
	sort.Strings(out)
	return out, nil
}

// Read implements Store.
func (b *Bundle) Read(_ context.Context, key string) ([]byte, error) {
	raw, err := os.ReadFile(filepath.Join(b.dir, BundleAnchors, filepath.Base(key)))
	if errors.Is(err, os.ErrNotExist) {
		return nil, objects.ErrNotFound
	}
	if len(raw) > MaxFileBytes {
		return nil, fmt.Errorf("anchor: %s is larger than %d bytes", key, MaxFileBytes)
	}
	return raw, err
}

// Write implements Store: a bundle is read-only.
func (b *Bundle) Write(context.Context, string, []byte) error {
	return errors.New("anchor: a bundle is read-only")
}

// CheckBundle verifies an offline bundle with trusted keys.
func CheckBundle(ctx context.Context, dir string, keys envelope.KeySource) (Report, error) {
	b, err := OpenBundle(dir)
	if err != nil {
		return Report{}, err
	}
	reps, err := Check(ctx, CheckConfig{Source: b, Store: b, Keys: keys}, []uuid.UUID{b.tenant})
	if err != nil {
		return Report{}, err
	}
	return reps[0], nil
}
