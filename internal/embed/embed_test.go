package embed_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tenantry/tenantry/internal/embed"
	"github.com/tenantry/tenantry/internal/embed/adaptive"
	"github.com/tenantry/tenantry/internal/usage"
	"github.com/tenantry/tenantry/pipeline"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fake is an in-memory Provider: vector i of a request is [len(text), 1].
type fake struct {
	limits   embed.Limits
	dims     int
	mu       sync.Mutex
	requests [][]string
	inFlight atomic.Int32
	peak     atomic.Int32
	delay    time.Duration
	errs     func(n int) error // per request, from 1
}

func (f *fake) Model() string        { return "fake" }
func (f *fake) Dimensions() int      { return f.dims }
func (f *fake) Limits() embed.Limits { return f.limits }

func (f *fake) EmbedBatch(ctx context.Context, texts []string) ([][]float32, error) {
	n := f.inFlight.Add(1)
	defer f.inFlight.Add(-1)
	for {
		p := f.peak.Load()
		if n <= p || f.peak.CompareAndSwap(p, n) {
			break
		}
	}
	f.mu.Lock()
	f.requests = append(f.requests, append([]string(nil), texts...))
	k := len(f.requests)
	f.mu.Unlock()
	if f.delay > 0 {
		select {
		case <-time.After(f.delay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if f.errs != nil {
		if err := f.errs(k); err != nil {
			return nil, err
		}
	}
	out := make([][]float32, len(texts))
	for i, t := range texts {
		out[i] = make([]float32, f.dims)
		out[i][0] = float32(len(t))
	}
	return out, nil
}

func newEmbed(t *testing.T, f *fake, cfg embed.Config) *embed.Embedder {
	t.Helper()
	if f.dims == 0 {
		f.dims = 2
	}
	if cfg.BaseBackoff == 0 {
		cfg.BaseBackoff, cfg.MaxBackoff = time.Millisecond, 2*time.Millisecond
	}
	e, err := embed.New(f, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestBatching(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		limits embed.Limits
		cfg    embed.Config
		texts  []string
		want   []int // texts per request, in order of first text
		counts []int // the chunker's counts the call carries (pipeline.WithTokenCounts)
	}{
		{"one request", embed.Limits{MaxInputs: 10}, embed.Config{}, strings.Fields("a b c"), []int{3}, nil},
		{"by inputs", embed.Limits{MaxInputs: 2}, embed.Config{}, strings.Fields("a b c d e"), []int{2, 2, 1}, nil},
		{"config lowers inputs", embed.Limits{MaxInputs: 10}, embed.Config{MaxInputs: 3}, strings.Fields("a b c d e"), []int{3, 2}, nil},
		{"config cannot raise inputs", embed.Limits{MaxInputs: 1}, embed.Config{MaxInputs: 3}, strings.Fields("a b"), []int{1, 1}, nil},
		{"by tokens", embed.Limits{MaxInputs: 10, MaxTokens: 10}, embed.Config{CountTokens: func(s string) int { return len(s) }},
			[]string{"aaaa", "bbbb", "cc", "dddddddddddd", "e"}, []int{3, 1, 1}, nil},
		// Chunks carry their counts: those batch, CountTokens is not asked.
		{"by the chunker's counts", embed.Limits{MaxInputs: 10, MaxTokens: 10}, embed.Config{CountTokens: func(string) int { return 100 }},
			strings.Fields("a b c d"), []int{2, 2}, []int{6, 4, 9, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := &fake{limits: tt.limits}
			e := newEmbed(t, f, tt.cfg)
			got, err := e.Embed(pipeline.WithTokenCounts(context.Background(), tt.counts), tt.texts)
			if err != nil {
				t.Fatal(err)
			}
			for i, v := range got {
				if int(v[0]) != len(tt.texts[i]) {
					t.Fatalf("vector %d belongs to another text", i)
				}
			}
			sizes := map[string]int{}
			for _, r := range f.requests {
				sizes[r[0]] = len(r)
			}
			var order []int
			for _, text := range tt.texts {
				if n, ok := sizes[text]; ok {
					order = append(order, n)
				}
			}
			if fmt.Sprint(order) != fmt.Sprint(tt.want) {
				t.Fatalf("request sizes %v, want %v", order, tt.want)
			}
		})
	}
}

func TestConcurrencyBound(t *testing.T) {
	t.Parallel()
	f := &fake{limits: embed.Limits{MaxInputs: 1}, delay: 5 * time.Millisecond}
	e := newEmbed(t, f, embed.Config{Concurrency: 3})
	var wg sync.WaitGroup
	for range 4 { // concurrent callers share the bound
		wg.Go(func() {
			if _, err := e.Embed(context.Background(), strings.Fields("a b c d e f g h")); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if p := f.peak.Load(); p > 3 || p < 2 {
		t.Fatalf("peak in flight %d, want at most 3 (and some parallelism)", p)
	}
}

func TestFirstErrorStopsTheRest(t *testing.T) {
	t.Parallel()
	f := &fake{limits: embed.Limits{MaxInputs: 1}, errs: func(n int) error {
		return &embed.StatusError{Status: http.StatusBadRequest}
	}}
	e := newEmbed(t, f, embed.Config{Concurrency: 1})
	_, err := e.Embed(context.Background(), strings.Fields("a b c d e f g h i j"))
	if !errors.Is(err, pipeline.ErrRejected) || !pipeline.IsPermanent(err) || pipeline.Reason(err) != "embedding_rejected" {
		t.Fatalf("err = %v, want ErrRejected", err)
	}
	if n := len(f.requests); n > 2 {
		t.Fatalf("%d requests after the first was rejected", n)
	}
}

func TestRetryClasses(t *testing.T) {
	t.Parallel()
	netErr := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	tests := []struct {
		name      string
		err       error
		requests  int // with MaxAttempts 3
		transient bool
		rejected  bool
		throttles int64 // counted for the tenant's provider usage
	}{
		{"429", &embed.StatusError{Status: 429}, 3, true, false, 3},
		{"529 overloaded", &embed.StatusError{Status: 529}, 3, true, false, 3},
		{"500", &embed.StatusError{Status: 500}, 3, true, false, 0},
		{"408", &embed.StatusError{Status: 408}, 3, true, false, 0},
		{"network", fmt.Errorf("openai: %w", netErr), 3, true, false, 0},
		{"401", &embed.StatusError{Status: 401}, 1, false, true, 0},
		{"422", &embed.StatusError{Status: 422}, 1, false, true, 0},
		{"bad response", embed.BadResponse("x"), 1, true, false, 0},
		{"unknown", errors.New("something else"), 1, true, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := &fake{limits: embed.Limits{MaxInputs: 1}, errs: func(int) error { return tt.err }}
			e := newEmbed(t, f, embed.Config{MaxAttempts: 3})
			ctx, call := usage.WithCall(context.Background())
			_, err := e.Embed(ctx, []string{"x"})
			if len(f.requests) != tt.requests {
				t.Errorf("requests = %d, want %d", len(f.requests), tt.requests)
			}
			if call.Throttles() != tt.throttles {
				t.Errorf("throttles counted = %d, want %d", call.Throttles(), tt.throttles)
			}
			var te *pipeline.TransientError
			if errors.As(err, &te) != tt.transient || errors.Is(err, pipeline.ErrRejected) != tt.rejected {
				t.Errorf("err = %v: transient %v rejected %v", err, tt.transient, tt.rejected)
			}
		})
	}
}

func TestCheckAnswers(t *testing.T) {
	t.Parallel()
	for _, dims := range []int{2, 3} {
		f := &fake{limits: embed.Limits{MaxInputs: 5}, dims: 2}
		e, err := embed.New(&wrongDims{f, dims}, embed.Config{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.Embed(context.Background(), []string{"x"})
		if (err != nil) != (dims != 2) {
			t.Fatalf("declared %d, returned 2: err = %v", dims, err)
		}
		if err != nil && !errors.Is(err, embed.ErrBadResponse) {
			t.Fatalf("err = %v, want ErrBadResponse", err)
		}
	}
}

type wrongDims struct {
	*fake
	declared int
}

func (w *wrongDims) Dimensions() int { return w.declared }

func TestEmptyAndCancelled(t *testing.T) {
	t.Parallel()
	e := newEmbed(t, &fake{limits: embed.Limits{MaxInputs: 1}}, embed.Config{})
	if v, err := e.Embed(context.Background(), nil); err != nil || len(v) != 0 {
		t.Fatalf("empty input: %v %v", v, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.Embed(ctx, []string{"a", "b"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestAdaptiveLimiterIsUsed(t *testing.T) {
	t.Parallel()
	lim, err := adaptive.New(adaptive.Config{InitialRate: 1000})
	if err != nil {
		t.Fatal(err)
	}
	f := &fake{limits: embed.Limits{MaxInputs: 1}, errs: func(n int) error {
		if n == 1 {
			return &embed.StatusError{Status: 429, RetryAfter: time.Millisecond}
		}
		return nil
	}}
	e := newEmbed(t, f, embed.Config{Limiter: lim})
	if _, err := e.Embed(context.Background(), []string{"a"}); err != nil {
		t.Fatal(err)
	}
	if s := lim.Stats(); s.Throttles != 1 || s.Decreases != 1 {
		t.Fatalf("limiter did not see the throttle: %+v", s)
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		h    map[string]string
		want time.Duration
	}{
		{nil, 0},
		{map[string]string{"Retry-After": "2"}, 2 * time.Second},
		{map[string]string{"Retry-After": "0.5"}, 500 * time.Millisecond},
		{map[string]string{"Retry-After": "1", "Retry-After-Ms": "120"}, 120 * time.Millisecond},
		{map[string]string{"Retry-After": now.Add(3 * time.Second).Format(http.TimeFormat)}, 3 * time.Second},
		{map[string]string{"Retry-After": now.Add(-time.Hour).Format(http.TimeFormat)}, 0},
		{map[string]string{"Retry-After": "soon"}, 0},
		{map[string]string{"Retry-After": "-5"}, 0},
		{map[string]string{"Retry-After-Ms": "x", "Retry-After": "1"}, time.Second},
	}
	for _, tt := range tests {
		h := http.Header{}
		for k, v := range tt.h {
			h.Set(k, v)
		}
		if got := embed.ParseRetryAfter(h, now); got != tt.want {
			t.Errorf("ParseRetryAfter(%v) = %v, want %v", tt.h, got, tt.want)
		}
	}
}

func TestConfigRejects(t *testing.T) {
	t.Parallel()
	f := &fake{limits: embed.Limits{MaxInputs: 4}, dims: 2}
	for _, cfg := range []embed.Config{
		{MaxInputs: -1}, {MaxTokens: -1}, {Concurrency: -1}, {MaxAttempts: -1},
		{BaseBackoff: time.Second, MaxBackoff: time.Millisecond}, {RequestTimeout: -1}, {MaxRetryAfter: -1},
	} {
		if _, err := embed.New(f, cfg, nil); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
	if _, err := embed.New(nil, embed.Config{}, nil); err == nil {
		t.Error("nil provider accepted")
	}
	if _, err := embed.New(&fake{limits: embed.Limits{MaxInputs: 1}}, embed.Config{}, nil); err == nil {
		t.Error("provider without dimension accepted")
	}
}

func ExampleNew() {
	p := &fake{limits: embed.Limits{MaxInputs: 2}, dims: 2}
	lim, _ := adaptive.New(adaptive.Config{MaxConcurrency: 8}) // one per provider quota
	e, err := embed.New(p, embed.Config{Limiter: lim, MaxAttempts: 5}, nil)
	if err != nil {
		panic(err)
	}
	vecs, err := e.Embed(context.Background(), []string{"a", "bb", "ccc"})
	if err != nil {
		panic(err)
	}
	fmt.Println(len(vecs), vecs[2][0], len(p.requests))
	// Output: 3 3 2
}
