package sfnlambda_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/breaker"
	"github.com/tenantry/tenantry/internal/chaos/harness"
	"github.com/tenantry/tenantry/internal/sfntask"
	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/internal/tenantdb/tenantdbtest"
	"github.com/tenantry/tenantry/statemachine"
)

func TestMain(m *testing.M) { harness.Main(m) }

// runtimeAPI is a Lambda Runtime API (2018-06-01) on loopback: it hands out
// queued invocations on GET .../invocation/next and records what the
// function posts to .../{id}/response and .../{id}/error.
type runtimeAPI struct {
	srv     *httptest.Server
	pending chan invocation
	mu      sync.Mutex
	results map[string]result
}

type invocation struct {
	id      string
	payload []byte
}

type result struct {
	ok        bool   // posted to /response
	body      string // the response, or the error document
	errorType string // the error document's errorType
}

func newRuntimeAPI(t *testing.T) *runtimeAPI {
	r := &runtimeAPI{pending: make(chan invocation, 16), results: map[string]result{}}
	const base = "/2018-06-01/runtime/invocation/"
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		rest := strings.TrimPrefix(req.URL.Path, base)
		switch {
		case req.Method == http.MethodGet && rest == "next":
			select {
			case inv := <-r.pending:
				w.Header().Set("Lambda-Runtime-Aws-Request-Id", inv.id)
				w.Header().Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(time.Now().Add(time.Minute).UnixMilli(), 10))
				w.Header().Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:tenantry-task")
				_, _ = w.Write(inv.payload)
			case <-req.Context().Done():
			}
		case req.Method == http.MethodPost && strings.HasSuffix(rest, "/response"), req.Method == http.MethodPost && strings.HasSuffix(rest, "/error"):
			id, kind, _ := strings.Cut(rest, "/")
			b, _ := io.ReadAll(req.Body)
			res := result{ok: kind == "response", body: string(b)}
			if !res.ok {
				var doc struct {
					Type string `json:"errorType"`
				}
				_ = json.Unmarshal(b, &doc)
				res.errorType = doc.Type
			}
			r.mu.Lock()
			r.results[id] = res
			r.mu.Unlock()
			w.WriteHeader(http.StatusAccepted)
		default:
			http.Error(w, "not part of this fake", http.StatusNotFound)
		}
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *runtimeAPI) invoke(id string, payload []byte) {
	r.pending <- invocation{id: id, payload: payload}
}

func (r *runtimeAPI) result(id string) (result, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	res, ok := r.results[id]
	return res, ok
}

// The real binary (`tenantry lambda`) serves Express task invocations
// through aws-lambda-go against the Runtime API's wire format, on the local
// stack: a verify task of a signed upload answers the document, a task whose
// object carries another object's envelope fails with the error type the
// definition catches (Tenantry.EnvelopeRejected), a malformed task with
// Tenantry.Permanent, and a task of a paused tenant with the error the
// definition retries (Tenantry.BreakerOpen). The verified document's
// extract, chunk and embed tasks follow: by the time the embed invocation
// has answered, its provider usage is in the tenant's provider_usage rows
// (the tally is flushed before an invocation returns: a frozen Lambda
// would keep it in memory).
func TestLambdaServesExpressTasks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	harness.LoadStack(t)
	env := harness.NewEnv(t, harness.EnvConfig{Prefix: "lambda-"})
	api := newRuntimeAPI(t)

	tenant := uuid.New()
	good, err := env.PutSigned(ctx, tenant, "doc-1", "a.txt", "text/plain", []byte("a document for the Express variant"))
	if err != nil {
		t.Fatal(err)
	}
	forged := harness.Key(tenant, "doc-2", "b.txt")
	other := harness.Key(tenant, "doc-3", "c.txt")
	if err := env.Put(ctx, forged, "text/plain", []byte("carries another object's envelope"), env.Kit.Object(t, tenant, env.Bucket, other)); err != nil {
		t.Fatal(err)
	}
	paused := uuid.New()
	held, err := env.PutSigned(ctx, paused, "doc-4", "d.txt", "text/plain", []byte("a paused tenant's document"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := tenantdb.OpenOperator(ctx, env.DB.OwnerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if err := breaker.NewOperator(raw, nil, nil).Pause(ctx, paused, "alice", "maintenance"); err != nil {
		t.Fatal(err)
	}
	task := func(execution, key string) []byte {
		b, err := json.Marshal(map[string]any{"stage": "verify", "execution": execution,
			"input": json.RawMessage(statemachine.Input{Bucket: env.Bucket, Key: key}.JSON())})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	api.invoke("req-good", task("exec-1", good))
	api.invoke("req-forged", task("exec-2", forged))
	api.invoke("req-malformed", []byte(`{"stage":"verify"}`))
	api.invoke("req-paused", task("exec-4", held))

	logf, err := os.Create(filepath.Join(t.TempDir(), "lambda.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	vars := append(env.WorkerEnv(harness.WorkerConfig{}, ""), "AWS_LAMBDA_RUNTIME_API="+strings.TrimPrefix(api.srv.URL, "http://"))
	p, err := harness.Start(harness.Binary(t), []string{"lambda"}, vars, "", logf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Kill() })

	want := map[string]func(result) error{
		"req-good": func(r result) error {
			if !r.ok || !strings.Contains(r.body, `"documentId":"doc-1"`) {
				return fmt.Errorf("want the verified document, got %+v", r)
			}
			return nil
		},
		"req-forged": func(r result) error {
			if r.ok || r.errorType != sfntask.ErrorEnvelopeRejected || !strings.Contains(r.body, "binding_mismatch") {
				return fmt.Errorf("want %s (binding_mismatch), got %+v", sfntask.ErrorEnvelopeRejected, r)
			}
			return nil
		},
		"req-malformed": func(r result) error {
			if r.ok || r.errorType != sfntask.ErrorPermanent {
				return fmt.Errorf("want %s, got %+v", sfntask.ErrorPermanent, r)
			}
			return nil
		},
		"req-paused": func(r result) error {
			if r.ok || r.errorType != sfntask.ErrorBreakerOpen || !strings.Contains(r.body, breaker.ReasonOpen) {
				return fmt.Errorf("want %s (%s), got %+v", sfntask.ErrorBreakerOpen, breaker.ReasonOpen, r)
			}
			return nil
		},
	}
	err = harness.Eventually(ctx, "four invocations answered", 2*time.Minute, 50*time.Millisecond, func(context.Context) (bool, error) {
		select {
		case <-p.Done():
			return false, fmt.Errorf("tenantry lambda exited: %w", p.ExitErr())
		default:
		}
		for id := range want {
			if _, ok := api.result(id); !ok {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		b, _ := os.ReadFile(logf.Name())
		t.Fatalf("%v\nlog:\n%s", err, b)
	}
	for id, check := range want {
		r, _ := api.result(id)
		if err := check(r); err != nil {
			t.Errorf("%s: %v", id, err)
		}
	}
	var n int
	if err := tenantdbtest.Conn(t, env.DB.AdminURL).QueryRow(ctx,
		"SELECT count(*) FROM security_events WHERE reason = 'binding_mismatch'").Scan(&n); err != nil || n != 1 {
		t.Errorf("%d security events for the forged task (%v), want 1", n, err)
	}

	// The verified document's next stages, one invocation at a time.
	c := tenantdbtest.Conn(t, env.DB.AdminURL)
	r, _ := api.result("req-good")
	doc := json.RawMessage(r.body)
	next := func(id string, task map[string]any) string {
		t.Helper()
		task["execution"], task["doc"] = "exec-1", doc
		b, err := json.Marshal(task)
		if err != nil {
			t.Fatal(err)
		}
		api.invoke(id, b)
		var res result
		err = harness.Eventually(ctx, id+" answered", time.Minute, 20*time.Millisecond, func(context.Context) (bool, error) {
			var ok bool
			res, ok = api.result(id)
			return ok, nil
		})
		if err != nil || !res.ok {
			b, _ := os.ReadFile(logf.Name())
			t.Fatalf("%s: %v %+v\nlog:\n%s", id, err, res, b)
		}
		return res.body
	}
	next("req-extract", map[string]any{"stage": "extract"})
	var ch sfntask.ChunkOutput
	if err := json.Unmarshal([]byte(next("req-chunk", map[string]any{"stage": "chunk"})), &ch); err != nil || len(ch.Batches) == 0 {
		t.Fatalf("chunk output %+v (%v)", ch, err)
	}
	next("req-embed", map[string]any{"stage": "embed", "batch": ch.Batches[0]})
	var requests, tokens int64
	if err := c.QueryRow(ctx, `SELECT coalesce(sum(requests), 0), coalesce(sum(tokens), 0)
		FROM provider_usage WHERE tenant_id = $1`, tenant).Scan(&requests, &tokens); err != nil {
		t.Fatal(err)
	}
	if requests < 1 || tokens < 1 {
		t.Fatalf("after the embed invocation: %d requests, %d tokens in the tenant's provider_usage, want some", requests, tokens)
	}
}
