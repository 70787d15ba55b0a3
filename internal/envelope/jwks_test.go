package envelope_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/tenantry/tenantry/internal/envelope"
	"github.com/tenantry/tenantry/internal/envelope/envelopetest"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: epoch} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// jwksServer serves a key set that tests can change, fail, or inflate.
type jwksServer struct {
	*httptest.Server
	mu     sync.Mutex
	body   []byte
	status int
	hits   atomic.Int64
}

func newJWKSServer(t *testing.T, keys ...envelope.PublicKey) *jwksServer {
	s := &jwksServer{status: http.StatusOK}
	s.set(t, keys...)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		body, status := s.body, s.status
		s.mu.Unlock()
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, "/jwks", http.StatusFound)
			return
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(t *testing.T, keys ...envelope.PublicKey) {
	t.Helper()
	ring, err := envelope.NewKeyRing(keys...)
	if err != nil {
		t.Fatal(err)
	}
	body, err := ring.JWKS()
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.body = body
	s.mu.Unlock()
}

func (s *jwksServer) fail(status int) {
	s.mu.Lock()
	s.status = status
	s.mu.Unlock()
}

// TestJWKSRotation: the backend publishes a new key, starts signing with
// it, and retires the old one; tenantry follows without a restart, and an
// attacker's unknown kids do not turn into a fetch each.
func TestJWKSRotation(t *testing.T) {
	t.Parallel()
	k := newKit(t)
	clk := newClock()
	srv := newJWKSServer(t, k.ES256.PublicKey())
	src, err := envelope.NewJWKSSource(envelope.JWKSConfig{URL: srv.URL + "/jwks", Now: clk.Now, TTL: 5 * time.Minute, MinRefresh: 30 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := k.Config()
	cfg.Keys, cfg.Now = src, clk.Now
	v, err := envelope.NewVerifier(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tenant := uuid.New()
	key := tenant.String() + "/d/f"
	oldTok := k.Sign(t, k.ObjectClaims(tenant, "b", key))
	newTok := k.SignEdDSA(t, k.ObjectClaims(tenant, "b", key))
	strangerTok := k.SignWith(t, k.Stranger, k.ObjectClaims(tenant, "b", key))

	step := func(name, tok string, want envelope.Reason, wantHits int64) {
		t.Helper()
		_, err := v.VerifyObject(ctx, tok, "b", key)
		if got := envelope.ReasonOf(err); got != string(want) {
			t.Fatalf("%s: reason %q (%v), want %q", name, got, err, want)
		}
		if h := srv.hits.Load(); h != wantHits {
			t.Fatalf("%s: %d fetches, want %d", name, h, wantHits)
		}
	}
	step("old key, first load", oldTok, "", 1)
	step("old key, cached", oldTok, "", 1)
	for i := 0; i < 50; i++ {
		step("unknown kids within MinRefresh cause no fetch", strangerTok, envelope.ReasonUnknownKey, 1)
	}
	srv.set(t, k.ES256.PublicKey(), k.EdDSA.PublicKey()) // publish the new key
	step("new key before MinRefresh passed", newTok, envelope.ReasonUnknownKey, 1)
	clk.Advance(31 * time.Second)
	step("new key after MinRefresh: refetch on unknown kid", newTok, "", 2)
	step("old key still valid during rotation", oldTok, "", 2)
	srv.set(t, k.EdDSA.PublicKey()) // retire the old key
	clk.Advance(5 * time.Minute)
	step("TTL passed: reload, new key", newTok, "", 3)
	step("old key retired", oldTok, envelope.ReasonUnknownKey, 3)
}

func TestJWKSOutage(t *testing.T) {
	t.Parallel()
	k := newKit(t)
	clk := newClock()
	srv := newJWKSServer(t, k.ES256.PublicKey())
	core, logs := observer.New(zap.WarnLevel)
	src, err := envelope.NewJWKSSource(envelope.JWKSConfig{URL: srv.URL, Now: clk.Now}, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	kid := k.ES256.KeyID()
	if err := src.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	srv.fail(http.StatusServiceUnavailable)
	clk.Advance(time.Hour)
	if _, err := src.PublicKey(ctx, kid); err != nil {
		t.Fatalf("stale key not served during an outage: %v", err)
	}
	if logs.Len() != 1 || strings.Contains(logs.All()[0].Message, kid) {
		t.Fatalf("want one generic warning, got %v", logs.All())
	}
	hits := srv.hits.Load()
	for i := 0; i < 20; i++ {
		_, _ = src.PublicKey(ctx, kid)
	}
	if srv.hits.Load() != hits {
		t.Fatal("an outage turned into a fetch storm")
	}
}

func TestJWKSNeverLoaded(t *testing.T) {
	t.Parallel()
	k := newKit(t)
	srv := newJWKSServer(t, k.ES256.PublicKey())
	srv.fail(http.StatusInternalServerError)
	src, err := envelope.NewJWKSSource(envelope.JWKSConfig{URL: srv.URL}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := k.Config()
	cfg.Keys = src
	v, _ := envelope.NewVerifier(cfg, nil)
	_, err = v.Verify(context.Background(), anyObject(t, k))
	if !errors.Is(err, envelope.ErrKeysUnavailable) || envelope.ReasonOf(err) != "" {
		t.Fatalf("err = %v, want ErrKeysUnavailable and no reason", err)
	}
}

func TestJWKSConcurrentFirstLoad(t *testing.T) {
	t.Parallel()
	k := newKit(t)
	srv := newJWKSServer(t, k.ES256.PublicKey())
	src, _ := envelope.NewJWKSSource(envelope.JWKSConfig{URL: srv.URL}, nil)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := src.PublicKey(context.Background(), k.ES256.KeyID())
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if h := srv.hits.Load(); h != 1 {
		t.Fatalf("%d fetches for one cold start", h)
	}
}

func TestJWKSRefusals(t *testing.T) {
	t.Parallel()
	k := newKit(t)
	srv := newJWKSServer(t, k.ES256.PublicKey())
	big := newJWKSServer(t, k.ES256.PublicKey())
	big.mu.Lock()
	big.body = []byte(`{"keys":[],"pad":"` + strings.Repeat("x", 70<<10) + `"}`)
	big.mu.Unlock()
	tests := []struct {
		name      string
		cfg       envelope.JWKSConfig
		configErr bool
	}{
		{"plain http to a remote host", envelope.JWKSConfig{URL: "http://keys.example.com/jwks"}, true},
		{"both URL and path", envelope.JWKSConfig{URL: srv.URL, Path: "/tmp/x"}, true},
		{"neither", envelope.JWKSConfig{}, true},
		{"relative URL", envelope.JWKSConfig{URL: "/jwks"}, true},
		{"redirects are not followed", envelope.JWKSConfig{URL: srv.URL + "/redirect"}, false},
		{"oversized document", envelope.JWKSConfig{URL: big.URL}, false},
		{"missing file", envelope.JWKSConfig{Path: filepath.Join(t.TempDir(), "none.json")}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src, err := envelope.NewJWKSSource(tt.cfg, nil)
			if tt.configErr {
				if err == nil {
					t.Fatal("config accepted")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := src.Refresh(context.Background()); !errors.Is(err, envelope.ErrKeysUnavailable) {
				t.Fatalf("Refresh = %v", err)
			}
		})
	}
	if _, err := envelope.NewJWKSSource(envelope.JWKSConfig{URL: "https://keys.example.com/jwks"}, nil); err != nil {
		t.Fatalf("https refused: %v", err)
	}
}

func TestJWKSFile(t *testing.T) {
	t.Parallel()
	k := envelopetest.New(t)
	path := filepath.Join(t.TempDir(), "jwks.json")
	write := func(keys ...envelope.PublicKey) {
		ring, _ := envelope.NewKeyRing(keys...)
		b, _ := ring.JWKS()
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(k.ES256.PublicKey())
	clk := newClock()
	src, err := envelope.NewJWKSSource(envelope.JWKSConfig{Path: path, Now: clk.Now}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := src.PublicKey(ctx, k.ES256.KeyID()); err != nil {
		t.Fatal(err)
	}
	write(k.EdDSA.PublicKey())
	clk.Advance(time.Minute)
	if _, err := src.PublicKey(ctx, k.EdDSA.KeyID()); err != nil {
		t.Fatalf("rotated file not picked up: %v", err)
	}
}
