package anchor_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/anchor"
	"github.com/tenantry/tenantry/internal/audit"
	"github.com/tenantry/tenantry/internal/envelope"
	"github.com/tenantry/tenantry/internal/objects"
)

// memSource is an in-memory audit.Source.
type memSource struct {
	mu     sync.Mutex
	chains map[uuid.UUID][]audit.Event
}

func newSource() *memSource { return &memSource{chains: map[uuid.UUID][]audit.Event{}} }

func (m *memSource) append(t uuid.UUID, n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ev := m.chains[t]
	prev := audit.Genesis
	if len(ev) > 0 {
		prev = ev[len(ev)-1].Hash
	}
	for i := 0; i < n; i++ {
		e := audit.Event{TenantID: t, Seq: int64(len(ev) + 1), OccurredAt: time.Date(2026, 12, 1, 0, 0, len(ev), 123456000, time.UTC),
			Actor: "worker", JobID: "j", Action: "document.ingested", Resource: "doc:d" + fmt.Sprint(len(ev)), Detail: "{}", PrevHash: prev}
		e.Hash = audit.Hash(e)
		prev = e.Hash
		ev = append(ev, e)
	}
	m.chains[t] = ev
}

// rewrite changes row seq and recomputes every hash after it: the attack a
// holder of the owner role can make.
func (m *memSource) rewrite(t uuid.UUID, seq int64, detail string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ev := m.chains[t]
	prev := audit.Genesis
	for i := range ev {
		if ev[i].Seq == seq {
			ev[i].Detail = detail
		}
		ev[i].PrevHash = prev
		ev[i].Hash = audit.Hash(ev[i])
		prev = ev[i].Hash
	}
}

func (m *memSource) AuditTenants(context.Context) ([]uuid.UUID, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []uuid.UUID
	for t := range m.chains {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out, nil
}

func (m *memSource) AuditHead(_ context.Context, t uuid.UUID) (int64, []byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ev := m.chains[t]
	if len(ev) == 0 {
		return 0, nil, nil
	}
	return ev[len(ev)-1].Seq, ev[len(ev)-1].Hash, nil
}

func (m *memSource) ScanAudit(_ context.Context, t uuid.UUID, fn func(audit.Event) error) error {
	m.mu.Lock()
	ev := append([]audit.Event(nil), m.chains[t]...)
	m.mu.Unlock()
	for _, e := range ev {
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

// memStore is an in-memory anchor.Store (no Object Lock: tests delete and
// replace files as an attacker without it could).
type memStore struct {
	mu    sync.Mutex
	files map[string][]byte
	// lists and reads count List and Read calls.
	lists, reads int
}

// calls returns the List and Read calls so far.
func (s *memStore) calls() (lists, reads int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lists, s.reads
}

func newStore() *memStore { return &memStore{files: map[string][]byte{}} }

func (s *memStore) Prefix() string { return "anchors/" }

func (s *memStore) Tenants(context.Context) ([]uuid.UUID, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[uuid.UUID]bool{}
	var out []uuid.UUID
	for k := range s.files {
		id, err := uuid.Parse(strings.Split(strings.TrimPrefix(k, "anchors/"), "/")[0])
		if err == nil && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out, nil
}

func (s *memStore) List(_ context.Context, t uuid.UUID) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lists++
	var out []string
	for k := range s.files {
		if strings.HasPrefix(k, anchor.TenantPrefix("anchors/", t)) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out, nil
}

func (s *memStore) Read(_ context.Context, key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	b, ok := s.files[key]
	if !ok {
		return nil, objects.ErrNotFound
	}
	return append([]byte(nil), b...), nil
}

func (s *memStore) Write(_ context.Context, key string, body []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.files[key]; ok {
		return errors.New("locked")
	}
	s.files[key] = append([]byte(nil), body...)
	return nil
}

type fixture struct {
	src    *memSource
	store  *memStore
	signer *envelope.KeySigner
	ring   *envelope.KeyRing
	anch   *anchor.Anchorer
	now    time.Time
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	signer, err := envelope.GenerateKey(envelope.AlgES256, "anchor-key")
	if err != nil {
		t.Fatal(err)
	}
	ring, err := envelope.NewKeyRing(signer.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{src: newSource(), store: newStore(), signer: signer, ring: ring, now: time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)}
	f.anch, err = anchor.New(anchor.Config{CheckConfig: f.checkConfig(), Signer: signer})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) checkConfig() anchor.CheckConfig {
	return anchor.CheckConfig{Source: f.src, Store: f.store, Keys: f.ring, Now: func() time.Time { return f.now }}
}

func (f *fixture) run(t *testing.T, want string, tenants ...uuid.UUID) []anchor.Result {
	t.Helper()
	f.now = f.now.Add(time.Hour)
	res, err := f.anch.Run(context.Background(), tenants)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Status != want {
			t.Fatalf("anchor run: %+v, want status %s", r, want)
		}
	}
	return res
}

func (f *fixture) check(t *testing.T, tenant uuid.UUID) anchor.Report {
	t.Helper()
	reps, err := anchor.Check(context.Background(), f.checkConfig(), []uuid.UUID{tenant})
	if err != nil {
		t.Fatal(err)
	}
	return reps[0]
}

// The owner rewrites a whole chain consistently: the plain verification
// passes, the anchored one names the tenant and the first anchored seq that
// no longer matches.
func TestConsistentRewriteIsCaughtOnlyByAnchors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	victim, bystander := uuid.New(), uuid.New()
	f.src.append(victim, 5)
	f.src.append(bystander, 3)
	f.run(t, "anchored") // anchors at seq 5 and 3
	f.src.append(victim, 5)
	f.run(t, "anchored", victim) // seq 10, linked to 5
	f.run(t, "unchanged", victim)
	f.src.append(victim, 2) // 11, 12: not anchored yet

	if r := f.check(t, victim); !r.OK || r.Anchors != 2 || r.AnchoredSeq != 10 || r.Unanchored != 2 {
		t.Fatalf("before the rewrite: %+v", r)
	}
	f.src.rewrite(victim, 7, `{"rewritten":true}`)
	plain, err := audit.VerifyAll(ctx, f.src, nil)
	if err != nil || audit.Broken(plain) {
		t.Fatalf("plain verification should pass a consistent rewrite: %+v %v", plain, err)
	}
	r := f.check(t, victim)
	if r.OK || r.MismatchSeq != 10 || r.AnchoredSeq != 5 || !strings.Contains(r.Problem, victim.String()) ||
		!strings.Contains(r.Problem, "seq 10") {
		t.Fatalf("anchored verification: %+v", r)
	}
	if r := f.check(t, bystander); !r.OK {
		t.Fatalf("bystander: %+v", r)
	}
	// The anchorer refuses to bless the rewritten head.
	res := f.run(t, "refused", victim)
	if res[0].Problem == "" {
		t.Fatal("refusal without a problem")
	}
	// All tenants at once: one broken.
	all, err := anchor.Check(ctx, f.checkConfig(), nil)
	if err != nil || len(all) != 2 || !anchor.Broken(all) {
		t.Fatalf("all: %+v %v", all, err)
	}
}

// Forged, tampered, foreign, missing and replaced anchors, each reported.
func TestTamperedAnchorsAreRejected(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	stranger, err := envelope.GenerateKey(envelope.AlgES256, "anchor-key") // same kid, other key
	if err != nil {
		t.Fatal(err)
	}
	unknown, err := envelope.GenerateKey(envelope.AlgEdDSA, "")
	if err != nil {
		t.Fatal(err)
	}
	signAs := func(t *testing.T, s envelope.PayloadSigner, a anchor.Anchor) []byte {
		p, _ := json.Marshal(a)
		tok, err := s.SignPayload(ctx, anchor.Type, p)
		if err != nil {
			t.Fatal(err)
		}
		return []byte(tok)
	}
	cases := []struct {
		name   string
		attack func(t *testing.T, f *fixture, victim, other uuid.UUID)
		want   string
	}{
		{"payload altered", func(t *testing.T, f *fixture, v, _ uuid.UUID) {
			k := anchor.Key("anchors/", v, 3)
			parts := strings.Split(string(f.store.files[k]), ".")
			parts[1] = parts[1][:len(parts[1])-2] + "AA"
			f.store.files[k] = []byte(strings.Join(parts, "."))
		}, "refused"},
		{"signed by another key under the trusted kid", func(t *testing.T, f *fixture, v, _ uuid.UUID) {
			k := anchor.Key("anchors/", v, 3)
			f.store.files[k] = signAs(t, stranger, anchor.Anchor{V: 1, Tenant: v, Seq: 3, Hash: strings.Repeat("0", 64), AnchoredAt: f.now})
		}, "refused: bad_signature"},
		{"signed by an unknown key", func(t *testing.T, f *fixture, v, _ uuid.UUID) {
			k := anchor.Key("anchors/", v, 3)
			f.store.files[k] = signAs(t, unknown, anchor.Anchor{V: 1, Tenant: v, Seq: 3, Hash: strings.Repeat("0", 64), AnchoredAt: f.now})
		}, "refused: unknown_key"},
		{"another tenant's anchor swapped in", func(t *testing.T, f *fixture, v, o uuid.UUID) {
			f.store.files[anchor.Key("anchors/", v, 3)] = f.store.files[anchor.Key("anchors/", o, 3)]
		}, "signed for another tenant"},
		{"an envelope instead of an anchor", func(t *testing.T, f *fixture, v, _ uuid.UUID) {
			iss, _ := envelope.NewIssuer(f.signer, envelope.IssuerConfig{Issuer: "x", Audience: "tenantry"})
			tok, _, err := iss.Job(ctx, v, "a", envelope.ActionDelete, "doc:d", []byte("{}"))
			if err != nil {
				t.Fatal(err)
			}
			f.store.files[anchor.Key("anchors/", v, 3)] = []byte(tok)
		}, "refused: malformed"},
		{"middle anchor deleted", func(t *testing.T, f *fixture, v, _ uuid.UUID) {
			delete(f.store.files, anchor.Key("anchors/", v, 6))
		}, "anchor missing: seq 6"},
		{"first anchor deleted", func(t *testing.T, f *fixture, v, _ uuid.UUID) {
			delete(f.store.files, anchor.Key("anchors/", v, 3))
		}, "anchor missing: seq 3"},
		{"every anchor deleted", func(t *testing.T, f *fixture, v, _ uuid.UUID) {
			for _, s := range []int64{3, 6, 9} {
				delete(f.store.files, anchor.Key("anchors/", v, s))
			}
		}, "no anchors"},
		{"anchor re-signed with the real key", func(t *testing.T, f *fixture, v, _ uuid.UUID) {
			// Whoever holds the signing key re-signs seq 6 after a rewrite:
			// seq 9 still links the original bytes.
			f.store.files[anchor.Key("anchors/", v, 6)] = signAs(t, f.signer, anchor.Anchor{V: 1, Tenant: v, Seq: 6,
				Hash: strings.Repeat("1", 64), AnchoredAt: f.now, Prev: &anchor.Link{Seq: 3, SHA256: anchor.FileSHA256(f.store.files[anchor.Key("anchors/", v, 3)])}})
		}, "was replaced"},
		{"anchor file renamed to another seq", func(t *testing.T, f *fixture, v, _ uuid.UUID) {
			f.store.files[anchor.Key("anchors/", v, 4)] = f.store.files[anchor.Key("anchors/", v, 3)]
		}, "claims seq 3"},
		{"junk under the tenant's prefix", func(t *testing.T, f *fixture, v, _ uuid.UUID) {
			f.store.files[anchor.TenantPrefix("anchors/", v)+"x.jws"] = []byte("x")
		}, "is not an anchor"},
		{"chain truncated after the last anchor", func(t *testing.T, f *fixture, v, _ uuid.UUID) {
			f.src.chains[v] = f.src.chains[v][:8]
		}, "chain ends at seq 8, but seq 9 was anchored"},
		{"whole chain deleted", func(t *testing.T, f *fixture, v, _ uuid.UUID) {
			delete(f.src.chains, v)
		}, "chain ends at seq 0"},
		{"anchor dated in the future", func(t *testing.T, f *fixture, v, _ uuid.UUID) {
			f.now = f.now.Add(-48 * time.Hour)
		}, "in the future"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			victim, other := uuid.New(), uuid.New()
			for i := 0; i < 3; i++ {
				f.src.append(victim, 3)
				f.src.append(other, 3)
				f.run(t, "anchored")
			}
			if r := f.check(t, victim); !r.OK || r.Anchors != 3 {
				t.Fatalf("before: %+v", r)
			}
			tc.attack(t, f, victim, other)
			reps, err := anchor.Check(ctx, f.checkConfig(), nil)
			if err != nil {
				t.Fatal(err)
			}
			var r anchor.Report
			for _, x := range reps {
				if x.TenantID == victim {
					r = x
				}
			}
			if r.TenantID != victim || r.OK || !strings.Contains(r.Problem, tc.want) {
				t.Fatalf("report %+v (of %d), want a problem containing %q", r, len(reps), tc.want)
			}
		})
	}
}

func TestBundleVerifiesOffline(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	tenant := uuid.New()
	f.src.append(tenant, 4)
	f.run(t, "anchored")
	f.src.append(tenant, 3)
	f.run(t, "anchored")
	dir := t.TempDir()
	if err := anchor.WriteBundle(ctx, dir, f.src, f.store, f.ring, tenant); err != nil {
		t.Fatal(err)
	}
	if err := anchor.WriteBundle(ctx, dir, f.src, f.store, f.ring, tenant); err == nil {
		t.Fatal("wrote a bundle over another")
	}
	jwks, err := os.ReadFile(filepath.Join(dir, anchor.BundleJWKS))
	if err != nil {
		t.Fatal(err)
	}
	ring, _, err := envelope.ParseJWKS(jwks, envelope.JWKSLimits{})
	if err != nil || ring.Len() != 1 {
		t.Fatalf("bundle jwks: %v", err)
	}
	r, err := anchor.CheckBundle(ctx, dir, ring)
	if err != nil || !r.OK || r.AnchoredSeq != 7 || r.Anchors != 2 {
		t.Fatalf("bundle: %+v %v", r, err)
	}
	// The auditor's copy rewritten consistently (every hash recomputed).
	f.src.rewrite(tenant, 2, `{"x":1}`)
	dir2 := t.TempDir()
	if err := anchor.WriteBundle(ctx, dir2, f.src, f.store, f.ring, tenant); err != nil {
		t.Fatal(err)
	}
	r, err = anchor.CheckBundle(ctx, dir2, ring)
	if err != nil || r.OK || r.MismatchSeq != 4 {
		t.Fatalf("rewritten bundle: %+v %v", r, err)
	}
	// A bundle line that is not an event is refused.
	if err := os.WriteFile(filepath.Join(dir2, anchor.BundleEvents), []byte(`{"seq":1,"extra":true}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := anchor.CheckBundle(ctx, dir2, ring); err == nil {
		t.Fatal("accepted a malformed events file")
	}
}

// An anchoring run lists and reads a tenant's anchors once: the new anchor
// links the newest anchor the verification loaded, and the link verifies.
func TestAnchoringListsEachTenantOnce(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		anchors int // anchors before the measured run
	}{
		{"first anchor", 0},
		{"one anchor", 1},
		{"three anchors", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			tenant := uuid.New()
			for i := 0; i < tc.anchors; i++ {
				f.src.append(tenant, 2)
				f.run(t, "anchored", tenant)
			}
			f.src.append(tenant, 2)
			lists0, reads0 := f.store.calls()
			res := f.run(t, "anchored", tenant)
			lists, reads := f.store.calls()
			if lists-lists0 != 1 || reads-reads0 != tc.anchors {
				t.Fatalf("the run listed %d times and read %d files, want 1 and %d", lists-lists0, reads-reads0, tc.anchors)
			}
			if r := f.check(t, tenant); !r.OK || r.Anchors != tc.anchors+1 || r.AnchoredSeq != res[0].Seq {
				t.Fatalf("after the run: %+v", r)
			}
		})
	}
}

// The periodic mode anchors new heads on every round and stops with its
// context.
func TestRunEvery(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tenant := uuid.New()
	f.src.append(tenant, 2)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var rounds [][]anchor.Result
	err := f.anch.RunEvery(ctx, nil, time.Millisecond, func(r []anchor.Result) error {
		rounds = append(rounds, r)
		switch len(rounds) {
		case 1:
			f.src.append(tenant, 1) // a new event before the next round
		case 3:
			cancel()
		}
		return nil
	})
	if err != nil || len(rounds) != 3 {
		t.Fatalf("%d rounds, %v", len(rounds), err)
	}
	got := fmt.Sprint(rounds[0][0].Status, rounds[0][0].Seq, " ", rounds[1][0].Status, rounds[1][0].Seq, " ", rounds[2][0].Status)
	if got != "anchored2 anchored3 unchanged" {
		t.Fatalf("rounds: %s", got)
	}
	// Once, without an interval; a reporting error ends the loop.
	stop := errors.New("stop")
	if err := f.anch.RunEvery(context.Background(), nil, 0, func([]anchor.Result) error { return stop }); !errors.Is(err, stop) {
		t.Fatal(err)
	}
}

func TestParseURI(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, bucket, prefix string }{
		{"s3://b/anchors/", "b", "anchors/"},
		{"s3://b", "b", "anchors/"},
		{"s3://b/x/y", "b", "x/y/"},
	} {
		b, p, err := anchor.ParseURI(tc.in)
		if err != nil || b != tc.bucket || p != tc.prefix {
			t.Errorf("%s: %q %q %v", tc.in, b, p, err)
		}
	}
	for _, bad := range []string{"", "b/anchors", "s3:///anchors/", "https://b/anchors/"} {
		if _, _, err := anchor.ParseURI(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func ExampleCheck() {
	ctx := context.Background()
	signer, _ := envelope.GenerateKey(envelope.AlgEdDSA, "anchor-key")
	ring, _ := envelope.NewKeyRing(signer.PublicKey())
	src, store := newSource(), newStore()
	tenant := uuid.MustParse("6f1c1d2e-0000-4000-8000-000000000001")
	src.append(tenant, 3)
	cfg := anchor.CheckConfig{Source: src, Store: store, Keys: ring}
	a, _ := anchor.New(anchor.Config{CheckConfig: cfg, Signer: signer})
	res, _ := a.Run(ctx, nil)
	fmt.Println(res[0].Status, res[0].Seq)
	src.rewrite(tenant, 2, "{}!")
	reps, _ := anchor.Check(ctx, cfg, nil)
	fmt.Println(reps[0].OK, reps[0].MismatchSeq)
	// Output:
	// anchored 3
	// false 3
}
