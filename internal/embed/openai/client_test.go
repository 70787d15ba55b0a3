package openai_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tenantry/tenantry/internal/embed"
	"github.com/tenantry/tenantry/internal/embed/openai"
	"github.com/tenantry/tenantry/internal/embed/openai/openaitest"
	"github.com/tenantry/tenantry/pipeline"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newEmbedder(t *testing.T, base string, ocfg openai.Config, ecfg embed.Config) *embed.Embedder {
	t.Helper()
	ocfg.BaseURL = base
	if ocfg.Model == "" {
		ocfg.Model = "text-embedding-3-small"
	}
	if ocfg.Dimensions == 0 {
		ocfg.Dimensions = 8
	}
	c, err := openai.New(ocfg)
	if err != nil {
		t.Fatal(err)
	}
	if ecfg.BaseBackoff == 0 {
		ecfg.BaseBackoff, ecfg.MaxBackoff = time.Millisecond, 10*time.Millisecond
	}
	e, err := embed.New(c, ecfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func texts(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("text %d", i)
	}
	return out
}

func TestEmbed(t *testing.T) {
	t.Parallel()
	type want struct {
		ok        bool
		class     error // errors.Is target when !ok
		transient bool
		requests  int64
		atLeast   bool // requests is a minimum (a connection dropped by a timeout may cost a retry)
	}
	tests := []struct {
		name   string
		faults map[int]*openaitest.Fault
		ecfg   embed.Config
		n      int
		want   want
	}{
		{name: "batched", ecfg: embed.Config{MaxInputs: 2}, n: 5, want: want{ok: true, requests: 3}},
		{name: "429 with Retry-After then ok", faults: map[int]*openaitest.Fault{1: {Status: 429, RetryAfter: 30 * time.Millisecond}}, n: 1, want: want{ok: true, requests: 2}},
		{name: "500 and 503 then ok", faults: map[int]*openaitest.Fault{1: {Status: 500}, 2: {Status: 503}}, n: 3, want: want{ok: true, requests: 3}},
		{name: "502 and 504 and 408 then ok", faults: map[int]*openaitest.Fault{1: {Status: 502}, 2: {Status: 504}, 3: {Status: 408}}, n: 1, want: want{ok: true, requests: 4}},
		{name: "timeout then ok", faults: map[int]*openaitest.Fault{1: {Delay: 30 * time.Second}}, ecfg: embed.Config{RequestTimeout: time.Second}, n: 1, want: want{ok: true, requests: 2, atLeast: true}},
		{name: "throttled until attempts run out", faults: always(&openaitest.Fault{Status: 429, RetryAfter: time.Millisecond}), ecfg: embed.Config{MaxAttempts: 3}, n: 1, want: want{transient: true, requests: 3}},
		{name: "503 until attempts run out", faults: always(&openaitest.Fault{Status: 503}), ecfg: embed.Config{MaxAttempts: 4}, n: 2, want: want{transient: true, requests: 4}},
		{name: "Retry-After too long to wait", faults: map[int]*openaitest.Fault{1: {Status: 429, RetryAfter: time.Hour}}, n: 1, want: want{transient: true, requests: 1}},
		{name: "400 is rejected", faults: map[int]*openaitest.Fault{1: {Status: 400}}, n: 1, want: want{class: pipeline.ErrRejected, requests: 1}},
		{name: "404 model is rejected", faults: map[int]*openaitest.Fault{1: {Status: 404}}, n: 1, want: want{class: pipeline.ErrRejected, requests: 1}},
		{name: "413 is rejected", faults: map[int]*openaitest.Fault{1: {Status: 413}}, n: 1, want: want{class: pipeline.ErrRejected, requests: 1}},
		{name: "malformed JSON", faults: map[int]*openaitest.Fault{1: {Body: `{"data": [`}}, n: 1, want: want{class: embed.ErrBadResponse, transient: true, requests: 1}},
		{name: "not JSON at all", faults: map[int]*openaitest.Fault{1: {Body: `<html>gateway</html>`}}, n: 1, want: want{class: embed.ErrBadResponse, transient: true, requests: 1}},
		{name: "one vector too few", faults: map[int]*openaitest.Fault{1: {Vectors: -1}}, n: 3, want: want{class: embed.ErrBadResponse, transient: true, requests: 1}},
		{name: "too many vectors", faults: map[int]*openaitest.Fault{1: {Vectors: 5}}, n: 3, want: want{class: embed.ErrBadResponse, transient: true, requests: 1}},
		{name: "wrong dimension", faults: map[int]*openaitest.Fault{1: {Dims: 7}}, n: 2, want: want{class: embed.ErrBadResponse, transient: true, requests: 1}},
		{name: "repeated index", faults: map[int]*openaitest.Fault{1: {Body: `{"data":[{"index":0,"embedding":[1,0,0,0,0,0,0,0]},{"index":0,"embedding":[1,0,0,0,0,0,0,0]}]}`}}, n: 2, want: want{class: embed.ErrBadResponse, transient: true, requests: 1}},
		{name: "NaN-free check", faults: map[int]*openaitest.Fault{1: {Body: `{"data":[{"index":0,"embedding":[1e39,0,0,0,0,0,0,0]}]}`}}, n: 1, want: want{class: embed.ErrBadResponse, transient: true, requests: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := openaitest.New(openaitest.Options{Dims: 8, Faults: func(n int) *openaitest.Fault { return tt.faults[n] }})
			defer srv.Close()
			if tt.faults != nil && tt.faults[0] != nil { // "always"
				f := tt.faults[0]
				srv.Close()
				srv = openaitest.New(openaitest.Options{Dims: 8, Faults: func(int) *openaitest.Fault { return f }})
				defer srv.Close()
			}
			e := newEmbedder(t, srv.URL, openai.Config{}, tt.ecfg)
			in := texts(tt.n)
			begin := time.Now()
			got, err := e.Embed(context.Background(), in)
			if st := srv.Stats(); st.Requests != tt.want.requests && !(tt.want.atLeast && st.Requests > tt.want.requests) {
				t.Errorf("requests = %d, want %d", st.Requests, tt.want.requests)
			}
			if tt.want.ok {
				if err != nil {
					t.Fatal(err)
				}
				for i, v := range got {
					want := openaitest.Vector(in[i], 8)
					for k := range v {
						if v[k] != want[k] {
							t.Fatalf("vector %d differs at %d", i, k)
						}
					}
				}
				if f := tt.faults[1]; f != nil && f.RetryAfter > 0 && time.Since(begin) < f.RetryAfter {
					t.Errorf("retried after %v, before Retry-After %v", time.Since(begin), f.RetryAfter)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			if tt.want.class != nil && !errors.Is(err, tt.want.class) {
				t.Errorf("err = %v, want %v", err, tt.want.class)
			}
			var te *pipeline.TransientError
			if got := errors.As(err, &te); got != tt.want.transient {
				t.Errorf("transient = %v, want %v (err %v)", got, tt.want.transient, err)
			}
			if errors.Is(tt.want.class, pipeline.ErrRejected) && !pipeline.IsPermanent(err) {
				t.Errorf("err %v is not permanent", err)
			}
			if tt.name == "Retry-After too long to wait" && (te == nil || te.RetryAfter != time.Hour) {
				t.Errorf("the hint is not passed on: %+v", te)
			}
			if strings.Contains(err.Error(), "text 0") {
				t.Errorf("error leaks input text: %v", err)
			}
		})
	}
}

// always scripts the same fault for every request (key 0).
func always(f *openaitest.Fault) map[int]*openaitest.Fault { return map[int]*openaitest.Fault{0: f} }

func TestAPIKey(t *testing.T) {
	t.Parallel()
	srv := openaitest.New(openaitest.Options{APIKey: "sk-right"})
	defer srv.Close()
	if _, err := newEmbedder(t, srv.URL, openai.Config{APIKey: "sk-right"}, embed.Config{}).Embed(context.Background(), texts(1)); err != nil {
		t.Fatal(err)
	}
	_, err := newEmbedder(t, srv.URL, openai.Config{APIKey: "sk-wrong"}, embed.Config{}).Embed(context.Background(), texts(1))
	if !errors.Is(err, pipeline.ErrRejected) {
		t.Fatalf("wrong key: %v, want ErrRejected", err)
	}
	if strings.Contains(err.Error(), "sk-wrong") {
		t.Fatal("error leaks the key")
	}
}

// TestWireFormat checks the request a real server sees.
func TestWireFormat(t *testing.T) {
	t.Parallel()
	var got struct {
		path, auth, azure string
		body              map[string]any
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.path, got.auth, got.azure = r.URL.Path, r.Header.Get("Authorization"), r.Header.Get("api-key")
		got.body = nil
		_ = json.NewDecoder(r.Body).Decode(&got.body)
		_, _ = w.Write([]byte(`{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.5,0.5,0.5,0.5]}],"model":"m"}`))
	}))
	defer srv.Close()
	for _, tc := range []struct {
		base string
		cfg  openai.Config
		auth string
	}{
		{srv.URL, openai.Config{APIKey: "k", SendDimensions: true}, "Bearer k"},
		{srv.URL + "/v1/", openai.Config{}, ""},
		{srv.URL + "/v1", openai.Config{APIKey: "az", APIKeyHeader: "api-key"}, ""},
	} {
		tc.cfg.Dimensions, tc.cfg.Model = 4, "m"
		e := newEmbedder(t, tc.base, tc.cfg, embed.Config{})
		if _, err := e.Embed(context.Background(), []string{"hello"}); err != nil {
			t.Fatal(err)
		}
		if got.path != "/v1/embeddings" || got.auth != tc.auth {
			t.Errorf("base %q: path %q auth %q", tc.base, got.path, got.auth)
		}
		if got.body["model"] != "m" || got.body["encoding_format"] != "float" {
			t.Errorf("body %v", got.body)
		}
		if _, ok := got.body["dimensions"]; ok != tc.cfg.SendDimensions {
			t.Errorf("dimensions sent = %v, want %v", ok, tc.cfg.SendDimensions)
		}
		if tc.cfg.APIKeyHeader != "" && got.azure != "az" {
			t.Errorf("api-key header %q", got.azure)
		}
	}
}

func TestCallerCancelDuringBackoff(t *testing.T) {
	t.Parallel()
	srv := openaitest.New(openaitest.Options{Faults: func(int) *openaitest.Fault { return &openaitest.Fault{Status: 503} }})
	defer srv.Close()
	e := newEmbedder(t, srv.URL, openai.Config{}, embed.Config{BaseBackoff: time.Second, MaxBackoff: time.Second, MaxAttempts: 100})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for srv.Stats().Requests == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	_, err := e.Embed(ctx, texts(1))
	if !errors.Is(err, context.Canceled) || pipeline.IsPermanent(err) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestConfigRejects(t *testing.T) {
	t.Parallel()
	for _, c := range []openai.Config{
		{BaseURL: "ftp://x", Model: "m", Dimensions: 8},
		{BaseURL: "http://", Model: "m", Dimensions: 8},
		{BaseURL: "http://x", Dimensions: 8},
		{BaseURL: "http://x", Model: "m"},
		{BaseURL: "http://x", Model: "m", Dimensions: 8, MaxInputs: -1},
	} {
		if _, err := openai.New(c); err == nil {
			t.Errorf("New(%+v) accepted", c)
		}
	}
}

func ExampleNew() {
	srv := openaitest.New(openaitest.Options{Dims: 4})
	defer srv.Close()
	client, err := openai.New(openai.Config{BaseURL: srv.URL, Model: "nomic-embed-text", Dimensions: 4})
	if err != nil {
		panic(err)
	}
	e, err := embed.New(client, embed.Config{Concurrency: 2}, nil)
	if err != nil {
		panic(err)
	}
	vecs, err := e.Embed(context.Background(), []string{"hello", "world"})
	if err != nil {
		panic(err)
	}
	fmt.Println(e.Model(), len(vecs), len(vecs[0]))
	// Output: nomic-embed-text 2 4
}
