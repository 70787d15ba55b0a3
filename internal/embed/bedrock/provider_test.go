package bedrock_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"go.uber.org/goleak"

	"github.com/tenantry/tenantry/internal/embed"
	"github.com/tenantry/tenantry/internal/embed/bedrock"
	"github.com/tenantry/tenantry/internal/embed/openai/openaitest"
	"github.com/tenantry/tenantry/pipeline"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fault is a scripted answer for one InvokeModel call.
type fault struct {
	status     int
	errType    string // X-Amzn-ErrorType
	retryAfter string
	body       string // raw 200 body
	vectors    int    // Cohere: this many vectors (-1: one too few)
	dims       int
	delay      time.Duration
}

// fakeBedrock speaks the runtime's REST-JSON InvokeModel:
// POST /model/{modelId}/invoke with the model's own JSON body. It does not
// check SigV4.
type fakeBedrock struct {
	*httptest.Server
	mu       sync.Mutex
	calls    int
	paths    []string
	bodies   []map[string]any
	faults   func(n int) *fault
	lastAuth string
}

func newFake(t *testing.T, faults func(n int) *fault) *fakeBedrock {
	f := &fakeBedrock{faults: faults}
	f.Server = httptest.NewServer(http.HandlerFunc(f.handle))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeBedrock) handle(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	_ = json.NewDecoder(r.Body).Decode(&body)
	f.mu.Lock()
	f.calls++
	n := f.calls
	f.paths = append(f.paths, r.URL.EscapedPath())
	f.bodies = append(f.bodies, body)
	f.lastAuth = r.Header.Get("Authorization")
	f.mu.Unlock()
	if r.Method != http.MethodPost || !strings.HasPrefix(r.URL.Path, "/model/") || !strings.HasSuffix(r.URL.Path, "/invoke") {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	var ft *fault
	if f.faults != nil {
		ft = f.faults(n)
	}
	if ft == nil {
		ft = &fault{}
	}
	if ft.delay > 0 {
		select {
		case <-time.After(ft.delay):
		case <-r.Context().Done():
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-RequestId", "req-"+strconv.Itoa(n))
	if ft.status != 0 {
		w.Header().Set("X-Amzn-ErrorType", ft.errType)
		if ft.retryAfter != "" {
			w.Header().Set("Retry-After", ft.retryAfter)
		}
		w.WriteHeader(ft.status)
		fmt.Fprintf(w, `{"message":"fake %s"}`, ft.errType)
		return
	}
	if ft.body != "" {
		_, _ = w.Write([]byte(ft.body))
		return
	}
	if text, ok := body["inputText"].(string); ok { // Titan
		dims := int(body["dimensions"].(float64))
		if ft.dims > 0 {
			dims = ft.dims
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"embedding": openaitest.Vector(text, dims), "inputTextTokenCount": len(strings.Fields(text))})
		return
	}
	texts, _ := body["texts"].([]any)
	count, dims := len(texts), 1024
	if ft.vectors > 0 {
		count = ft.vectors
	} else if ft.vectors < 0 {
		count = len(texts) - 1
	}
	if ft.dims > 0 {
		dims = ft.dims
	}
	vecs := make([][]float32, count)
	for i := range vecs {
		s := ""
		if i < len(texts) {
			s, _ = texts[i].(string)
		}
		vecs[i] = openaitest.Vector(s, dims)
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"id": "x", "response_type": "embeddings_floats", "texts": texts, "embeddings": vecs})
}

func client(url string) *bedrockruntime.Client {
	return bedrockruntime.New(bedrockruntime.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
	})
}

func newEmbedder(t *testing.T, url string, cfg bedrock.Config, ecfg embed.Config) *embed.Embedder {
	t.Helper()
	p, err := bedrock.New(client(url), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if ecfg.BaseBackoff == 0 {
		ecfg.BaseBackoff, ecfg.MaxBackoff = time.Millisecond, 5*time.Millisecond
	}
	e, err := embed.New(p, ecfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func texts(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("chunk %d", i)
	}
	return out
}

func TestTitan(t *testing.T) {
	t.Parallel()
	f := newFake(t, nil)
	e := newEmbedder(t, f.URL, bedrock.Config{Model: bedrock.TitanTextV2, Dimensions: 256}, embed.Config{})
	in := texts(3)
	got, err := e.Embed(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range got {
		if len(v) != 256 || v[0] != openaitest.Vector(in[i], 256)[0] {
			t.Fatalf("vector %d wrong", i)
		}
	}
	if f.calls != 3 {
		t.Fatalf("%d calls, want one per text", f.calls)
	}
	if f.paths[0] != "/model/amazon.titan-embed-text-v2%3A0/invoke" {
		t.Errorf("path %q", f.paths[0])
	}
	b := f.bodies[0]
	if b["dimensions"] != float64(256) || b["normalize"] != true {
		t.Errorf("body %v", b)
	}
	if !strings.HasPrefix(f.lastAuth, "AWS4-HMAC-SHA256 ") {
		t.Errorf("not SigV4-signed: %q", f.lastAuth)
	}
}

func TestCohere(t *testing.T) {
	t.Parallel()
	f := newFake(t, nil)
	e := newEmbedder(t, f.URL, bedrock.Config{Model: bedrock.CohereEnglishV3}, embed.Config{})
	in := texts(200)
	got, err := e.Embed(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 200 || got[150][0] != openaitest.Vector(in[150], 1024)[0] {
		t.Fatal("vectors out of order")
	}
	if f.calls != 3 { // 96 + 96 + 8
		t.Fatalf("%d calls, want 3 batches of at most 96", f.calls)
	}
	for _, b := range f.bodies {
		if b["input_type"] != "search_document" || b["truncate"] != "END" || len(b["texts"].([]any)) > 96 {
			t.Errorf("body: input_type %v truncate %v texts %d", b["input_type"], b["truncate"], len(b["texts"].([]any)))
		}
	}
}

func TestCohereEmbeddingsByType(t *testing.T) {
	t.Parallel()
	v := openaitest.Vector("x", 1024)
	raw, _ := json.Marshal(map[string]any{"response_type": "embeddings_by_type", "embeddings": map[string]any{"float": [][]float32{v}}})
	f := newFake(t, func(int) *fault { return &fault{body: string(raw)} })
	e := newEmbedder(t, f.URL, bedrock.Config{Model: bedrock.CohereMultilingual, InputType: "search_query"}, embed.Config{})
	got, err := e.Embed(context.Background(), []string{"x"})
	if err != nil {
		t.Fatal(err)
	}
	if got[0][5] != v[5] || f.bodies[0]["input_type"] != "search_query" {
		t.Fatal("embeddings_by_type not read")
	}
}

func TestFailures(t *testing.T) {
	t.Parallel()
	type want struct {
		ok        bool
		class     error
		transient bool
		calls     int
		atLeast   bool // calls is a minimum (a connection dropped by a timeout may cost a retry)
	}
	throttle := &fault{status: 429, errType: "ThrottlingException", retryAfter: "0"}
	tests := []struct {
		name   string
		model  string
		faults map[int]*fault
		all    *fault
		ecfg   embed.Config
		n      int
		want   want
	}{
		{name: "throttled then ok", model: bedrock.TitanTextV2, faults: map[int]*fault{1: throttle, 2: throttle}, n: 1, want: want{ok: true, calls: 3}},
		{name: "throttled until attempts run out (SDK does not retry)", model: bedrock.TitanTextV2, all: throttle, ecfg: embed.Config{MaxAttempts: 3}, n: 1, want: want{transient: true, calls: 3}},
		{name: "Retry-After too long", model: bedrock.CohereEnglishV3, all: &fault{status: 429, errType: "ThrottlingException", retryAfter: "3600"}, n: 2, want: want{transient: true, calls: 1}},
		{name: "service unavailable then ok", model: bedrock.CohereEnglishV3, faults: map[int]*fault{1: {status: 503, errType: "ServiceUnavailableException"}}, n: 2, want: want{ok: true, calls: 2}},
		{name: "internal error then ok", model: bedrock.TitanTextV2, faults: map[int]*fault{1: {status: 500, errType: "InternalServerException"}}, n: 1, want: want{ok: true, calls: 2}},
		{name: "model timeout then ok", model: bedrock.TitanTextV2, faults: map[int]*fault{1: {status: 408, errType: "ModelTimeoutException"}}, n: 1, want: want{ok: true, calls: 2}},
		{name: "client timeout then ok", model: bedrock.TitanTextV2, faults: map[int]*fault{1: {delay: 30 * time.Second}}, ecfg: embed.Config{RequestTimeout: time.Second}, n: 1, want: want{ok: true, calls: 2, atLeast: true}},
		{name: "validation is rejected", model: bedrock.TitanTextV2, all: &fault{status: 400, errType: "ValidationException"}, n: 1, want: want{class: pipeline.ErrRejected, calls: 1}},
		{name: "access denied is rejected", model: bedrock.CohereEnglishV3, all: &fault{status: 403, errType: "AccessDeniedException"}, n: 1, want: want{class: pipeline.ErrRejected, calls: 1}},
		{name: "malformed Titan body", model: bedrock.TitanTextV2, all: &fault{body: `{"embedding": [0.1,`}, n: 1, want: want{class: embed.ErrBadResponse, transient: true, calls: 1}},
		{name: "malformed Cohere body", model: bedrock.CohereEnglishV3, all: &fault{body: `{"embeddings": "nope"}`}, n: 1, want: want{class: embed.ErrBadResponse, transient: true, calls: 1}},
		{name: "Cohere one vector too few", model: bedrock.CohereEnglishV3, all: &fault{vectors: -1}, n: 3, want: want{class: embed.ErrBadResponse, transient: true, calls: 1}},
		{name: "Cohere wrong dimension", model: bedrock.CohereEnglishV3, all: &fault{dims: 384}, n: 1, want: want{class: embed.ErrBadResponse, transient: true, calls: 1}},
		{name: "Titan wrong dimension", model: bedrock.TitanTextV2, all: &fault{dims: 512}, n: 1, want: want{class: embed.ErrBadResponse, transient: true, calls: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, func(n int) *fault {
				if tt.all != nil {
					return tt.all
				}
				return tt.faults[n]
			})
			e := newEmbedder(t, f.URL, bedrock.Config{Model: tt.model}, tt.ecfg)
			_, err := e.Embed(context.Background(), texts(tt.n))
			f.mu.Lock()
			calls := f.calls
			f.mu.Unlock()
			if calls != tt.want.calls && !(tt.want.atLeast && calls > tt.want.calls) {
				t.Errorf("calls = %d, want %d", calls, tt.want.calls)
			}
			if tt.want.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err != nil && tt.want.ok {
				t.Logf("err: %#v", err)
			}
			if tt.want.class != nil && !errors.Is(err, tt.want.class) {
				t.Errorf("err = %v, want %v", err, tt.want.class)
			}
			var te *pipeline.TransientError
			if errors.As(err, &te) != tt.want.transient {
				t.Errorf("transient = %v, want %v (err %v)", !tt.want.transient, tt.want.transient, err)
			}
			if tt.name == "Retry-After too long" && (te == nil || te.RetryAfter != time.Hour) {
				t.Errorf("Retry-After not passed on: %+v", te)
			}
			if strings.Contains(err.Error(), "chunk 0") {
				t.Errorf("error leaks input text: %v", err)
			}
		})
	}
}

func TestConfigRejects(t *testing.T) {
	t.Parallel()
	c := client("http://127.0.0.1:1")
	for _, cfg := range []bedrock.Config{
		{Model: "amazon.titan-embed-text-v1"},
		{Model: bedrock.TitanTextV2, Dimensions: 300},
		{Model: bedrock.CohereEnglishV3, Dimensions: 384},
		{Model: bedrock.CohereEnglishV3, InputType: "weird"},
		{Model: ""},
	} {
		if _, err := bedrock.New(c, cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
	if _, err := bedrock.New(nil, bedrock.Config{Model: bedrock.TitanTextV2}); err == nil {
		t.Error("nil client accepted")
	}
}

func TestIAMActions(t *testing.T) {
	t.Parallel()
	if len(bedrock.IAMActions) != 1 || bedrock.IAMActions[0] != "bedrock:InvokeModel" {
		t.Fatalf("IAMActions = %v", bedrock.IAMActions)
	}
}

func ExampleNew() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"embedding":[0.6,0.8],"inputTextTokenCount":2}`))
	}))
	defer srv.Close()
	// In production: bedrockruntime.NewFromConfig(awsConfig).
	rt := bedrockruntime.New(bedrockruntime.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", ""),
	})
	p, err := bedrock.New(rt, bedrock.Config{Model: bedrock.TitanTextV2, Dimensions: 256})
	if err != nil {
		panic(err)
	}
	e, err := embed.New(p, embed.Config{Concurrency: 8}, nil)
	if err != nil {
		panic(err)
	}
	fmt.Println(e.Model(), e.Dimensions())
	// Output: amazon.titan-embed-text-v2:0 256
}
