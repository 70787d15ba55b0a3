package service_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/tenantry/tenantry/internal/presign"
	"github.com/tenantry/tenantry/internal/service"
	"github.com/tenantry/tenantry/internal/telemetry"
)

// otlpReceiver is an OTLP/HTTP traces endpoint on loopback: it decodes the
// real protobuf export requests the worker sends.
type otlpReceiver struct {
	mu    sync.Mutex
	spans []*tracepb.Span
	bad   []string
}

func (r *otlpReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	var body io.Reader = req.Body
	if req.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	raw, err := io.ReadAll(body)
	var msg collectortrace.ExportTraceServiceRequest
	if err == nil {
		err = proto.Unmarshal(raw, &msg)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if req.URL.Path != "/v1/traces" || req.Header.Get("Content-Type") != "application/x-protobuf" || err != nil {
		r.bad = append(r.bad, req.URL.Path+" "+req.Header.Get("Content-Type"))
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	for _, rs := range msg.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			r.spans = append(r.spans, ss.GetSpans()...)
		}
	}
	out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

// trace returns the spans received of one trace, by name.
func (r *otlpReceiver) trace(id []byte) map[string][]*tracepb.Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string][]*tracepb.Span{}
	for _, s := range r.spans {
		if bytes.Equal(s.GetTraceId(), id) {
			out[s.GetName()] = append(out[s.GetName()], s)
		}
	}
	return out
}

func attr(s *tracepb.Span, key string) (string, bool) {
	for _, kv := range s.GetAttributes() {
		if kv.GetKey() == key {
			return anyString(kv.GetValue()), true
		}
	}
	return "", false
}

func anyString(v *commonpb.AnyValue) string {
	if v == nil {
		return ""
	}
	if s, ok := v.GetValue().(*commonpb.AnyValue_StringValue); ok {
		return s.StringValue
	}
	b, _ := json.Marshal(v.GetValue())
	return string(b)
}

// TestTraceFromProducerToCommit runs the real worker (service.Run) with OTLP
// export to a receiver on loopback: a producer's trace context, sent in the
// SQS message attributes of an S3 notification, is continued by the
// worker's message span, every pipeline stage and every tenant transaction
// are spans of the same trace, the transactions carry the tenant id, and no
// span carries the document's text or SQL.
func TestTraceFromProducerToCommit(t *testing.T) {
	t.Parallel()
	rcv := &otlpReceiver{}
	srv := httptest.NewServer(rcv)
	t.Cleanup(srv.Close)
	var emfOut syncBuffer
	e := newEnv(t, options{configure: func(c *service.Config, d *service.Deps) {
		c.Telemetry = telemetry.Config{OTLPEndpoint: srv.URL, BatchTimeout: 50 * time.Millisecond, ServiceName: "tenantry-e2e"}
		c.EMFInterval = 50 * time.Millisecond
		d.EMFOutput = &emfOut
	}})

	// The producer: its own tracer, its span's context injected as a
	// producer would (telemetry.InjectSQS).
	producerSpans := tracetest.NewInMemoryExporter()
	producer := sdktrace.NewTracerProvider(sdktrace.WithSyncer(producerSpans))
	pctx, span := producer.Tracer("backend").Start(context.Background(), "upload")
	attrs := map[string]string{}
	for k, v := range telemetry.InjectSQS(pctx, nil) {
		attrs[k] = *v.StringValue
	}
	span.End()
	traceID := span.SpanContext().TraceID()
	if attrs["traceparent"] == "" {
		t.Fatal("the producer injected no traceparent")
	}

	tenant := uuid.New()
	const secret = "zebracorn-quartz the confidential clause"
	p, err := e.pre.Presign(e.ctx, presign.Request{TenantID: tenant, DocumentID: "traced", Filename: "traced.txt", Actor: "user:1", ContentType: "text/plain"})
	if err != nil {
		t.Fatal(err)
	}
	if err := presign.Upload(e.ctx, nil, p, strings.NewReader(secret), int64(len(secret))); err != nil {
		t.Fatal(err)
	}
	e.notifyWith("ObjectCreated:Put", p.Key, attrs)
	e.waitStatus(tenant, "traced", "ready")

	want := []string{"documents process", "tenantry.stage.fetch", "tenantry.stage.extract", "tenantry.stage.embed", "tenantdb.tx"}
	var got map[string][]*tracepb.Span
	e.eventually("the trace's spans at the receiver", func() bool {
		got = rcv.trace(traceID[:])
		for _, name := range want {
			if len(got[name]) == 0 {
				return false
			}
		}
		return len(got["tenantry.stage.store"])+len(got["tenantry.stage.flip"]) > 0
	})
	rcv.mu.Lock()
	if len(rcv.bad) > 0 {
		t.Errorf("receiver refused requests: %v", rcv.bad)
	}
	rcv.mu.Unlock()

	msg := got["documents process"][0]
	if hex.EncodeToString(msg.GetParentSpanId()) != span.SpanContext().SpanID().String() {
		t.Errorf("message span's parent = %x, want the producer's span %s", msg.GetParentSpanId(), span.SpanContext().SpanID())
	}
	if v, _ := attr(msg, "tenant_id"); v != tenant.String() {
		t.Errorf("message span tenant_id = %q, want %s", v, tenant)
	}
	for _, tx := range got["tenantdb.tx"] {
		if v, _ := attr(tx, "tenant_id"); v != tenant.String() {
			t.Errorf("transaction span tenant_id = %q, want %s", v, tenant)
		}
	}
	// Stages nest under the message span (directly or through another stage).
	ids := map[string]bool{hex.EncodeToString(msg.GetSpanId()): true}
	for _, spans := range got {
		for _, s := range spans {
			ids[hex.EncodeToString(s.GetSpanId())] = true
		}
	}
	for name, spans := range got {
		for _, s := range spans {
			if s != msg && !ids[hex.EncodeToString(s.GetParentSpanId())] {
				t.Errorf("span %s has a parent outside the trace", name)
			}
			for _, kv := range s.GetAttributes() {
				v := anyString(kv.GetValue())
				for _, leak := range []string{"zebracorn", "confidential", "set_config", "SELECT", "INSERT"} {
					if strings.Contains(v, leak) || strings.Contains(s.GetStatus().GetMessage(), leak) {
						t.Errorf("span %s attribute %s carries %q", name, kv.GetKey(), leak)
					}
				}
			}
		}
	}

	// The metrics reach stdout as CloudWatch EMF lines (the pool's too).
	e.eventually("EMF lines with the pool and document metrics", func() bool {
		out := emfOut.String()
		return strings.Contains(out, `"tenantry_db_pool_acquires_total"`) && strings.Contains(out, `"tenantry_documents_total"`)
	})
	sc := bufio.NewScanner(strings.NewReader(emfOut.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("EMF line is not JSON: %v", err)
		}
		if _, ok := line["_aws"]; !ok {
			t.Fatalf("EMF line without _aws: %s", sc.Text())
		}
		if strings.Contains(sc.Text(), tenant.String()) || strings.Contains(sc.Text(), "zebracorn") {
			t.Fatalf("EMF line carries a tenant id or document text: %s", sc.Text())
		}
	}
	// And /metrics serves the pool.
	resp, err := http.Get("http://" + e.opsAddr.String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, name := range []string{"tenantry_db_pool_acquired_conns", "tenantry_db_pool_idle_conns", "tenantry_db_pool_acquire_waits_total"} {
		if !bytes.Contains(body, []byte(name)) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for the EMF writer and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
