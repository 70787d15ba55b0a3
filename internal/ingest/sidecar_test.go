package ingest_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tenantry/tenantry/internal/binding"
	"github.com/tenantry/tenantry/internal/envelope/envelopetest"
	"github.com/tenantry/tenantry/internal/ingest"
	"github.com/tenantry/tenantry/internal/objects"
	"github.com/tenantry/tenantry/internal/pgstore"
	"github.com/tenantry/tenantry/internal/retrieval"
	"github.com/tenantry/tenantry/internal/tenantdb/tenantdbtest"
	"github.com/tenantry/tenantry/pipeline"
	"github.com/tenantry/tenantry/worker"
)

// memS3 is an in-memory bucket that counts every request per key.
type memS3 struct {
	mu    sync.Mutex
	objs  map[string]memObj
	calls map[string]int // "op key"
}

type memObj struct {
	body []byte
	meta map[string]string
	tags map[string]string
}

func (m *memS3) put(key string, body string, meta, tags map[string]string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.objs[key] = memObj{body: []byte(body), meta: meta, tags: tags}
}

func (m *memS3) del(key string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.objs, key)
}

func (m *memS3) get(op, key string) (memObj, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls[op+" "+key]++
	o, ok := m.objs[key]
	return o, ok
}

func (m *memS3) count(op, key string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls[op+" "+key]
}

func (m *memS3) HeadObject(_ context.Context, in *s3.HeadObjectInput, _ ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	o, ok := m.get("head", aws.ToString(in.Key))
	if !ok {
		return nil, &s3types.NotFound{}
	}
	return &s3.HeadObjectOutput{ContentLength: aws.Int64(int64(len(o.body))), ContentType: aws.String("text/plain"), Metadata: o.meta}, nil
}

func (m *memS3) GetObject(_ context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	o, ok := m.get("get", aws.ToString(in.Key))
	if !ok {
		return nil, &s3types.NoSuchKey{}
	}
	return &s3.GetObjectOutput{Body: io.NopCloser(bytes.NewReader(o.body)), ContentLength: aws.Int64(int64(len(o.body)))}, nil
}

func (m *memS3) GetObjectTagging(_ context.Context, in *s3.GetObjectTaggingInput, _ ...func(*s3.Options)) (*s3.GetObjectTaggingOutput, error) {
	o, ok := m.get("tags", aws.ToString(in.Key))
	if !ok {
		return nil, &s3types.NoSuchKey{}
	}
	out := &s3.GetObjectTaggingOutput{}
	for k, v := range o.tags {
		out.TagSet = append(out.TagSet, s3types.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	return out, nil
}

type sidecarEnv struct {
	t       *testing.T
	s3      *memS3
	kit     *envelopetest.Kit
	h       *ingest.Handler
	admin   *pgx.Conn
	emb     *embedder
	tenant  uuid.UUID
	msgs    int
	bucket  string
	docKey  string
	sideKey string
}

func newSidecarEnv(t *testing.T) *sidecarEnv {
	t.Helper()
	db := tenantdbtest.NewDatabase(t)
	gw := db.Open(t)
	kit := envelopetest.New(t)
	mem := &memS3{objs: map[string]memObj{}, calls: map[string]int{}}
	r := objects.New(mem)
	emb := &embedder{hang: func(int) bool { return false }}
	h, err := ingest.New(ingest.Config{}, ingest.Deps{
		DB: gw, Gate: &binding.Resolver{Verifier: kit.Verifier(t), Objects: r}, Objects: r, Store: pgstore.New(gw, nil),
		Processor: &pipeline.Processor{Fetcher: r, Extractor: extractor{}, Chunker: chunker{}, Embedder: emb},
	})
	if err != nil {
		t.Fatal(err)
	}
	e := &sidecarEnv{t: t, s3: mem, kit: kit, h: h, admin: tenantdbtest.Conn(t, db.AdminURL), emb: emb, tenant: uuid.New(), bucket: "docs"}
	e.docKey = e.tenant.String() + "/report/q3.txt"
	e.sideKey = e.docKey + retrieval.SidecarSuffix
	return e
}

// upload stores the document, signed for tenant.
func (e *sidecarEnv) upload(key string, tenant uuid.UUID, meta map[string]string) {
	m := map[string]string{objects.EnvelopeMetaKey: e.kit.Object(e.t, tenant, e.bucket, key)}
	for k, v := range meta {
		m[k] = v
	}
	e.s3.put(key, "hello world", m, nil)
}

// event delivers one S3 notification and returns the handler's outcome.
func (e *sidecarEnv) event(name, key, sequencer string) error {
	e.msgs++
	body := fmt.Sprintf(`{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1","eventTime":"2026-01-02T03:04:05.678Z",
		"eventName":%q,"s3":{"s3SchemaVersion":"1.0","bucket":{"name":%q,"arn":"arn:aws:s3:::%s"},"object":{"key":%q,"size":11,"sequencer":%q}}}]}`,
		name, e.bucket, e.bucket, key, sequencer)
	return deliver(context.Background(), e.h, &worker.Message{ID: fmt.Sprintf("m-%d", e.msgs), Body: []byte(body)})
}

func (e *sidecarEnv) must(err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatalf("outcome %v", err)
	}
}

func (e *sidecarEnv) attributes() string {
	e.t.Helper()
	var s string
	if err := e.admin.QueryRow(context.Background(), `SELECT attributes::text FROM documents WHERE tenant_id = $1 AND document_id = 'report'`, e.tenant).Scan(&s); err != nil {
		e.t.Fatal(err)
	}
	return s
}

func (e *sidecarEnv) n(sql string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.admin.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		e.t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// A sidecar written, changed or removed after its document was ingested,
// and a change of the document's tags, change the document's attributes
// (with an audit row), without embedding it again; a redelivered sidecar event changes nothing more; and a
// redelivered document event is recognised before its sidecar is read.
func TestSidecarAndTagsChangeTheDocumentsAttributes(t *testing.T) {
	t.Parallel()
	e := newSidecarEnv(t)
	updates := func() int {
		return e.n(`SELECT count(*) FROM audit_events WHERE tenant_id = $1 AND action = 'document.attributes_updated'`, e.tenant)
	}
	e.upload(e.docKey, e.tenant, map[string]string{"tenantry-attr-team": "finance"})
	e.must(e.event("ObjectCreated:Put", e.docKey, "0001"))
	if got := e.attributes(); got != `{"team": "finance"}` {
		t.Fatalf("attributes %s", got)
	}
	embeds, sideGets := e.emb.calls.Load(), e.s3.count("get", e.sideKey)
	if sideGets != 1 {
		t.Fatalf("%d sidecar GETs for the first ingest, want 1", sideGets)
	}

	// A duplicate delivery: answered from the stored document, no S3 GET.
	e.must(e.event("ObjectCreated:Put", e.docKey, "0001"))
	if n := e.s3.count("get", e.sideKey); n != sideGets {
		t.Fatalf("a redelivered event read the sidecar again (%d GETs)", n)
	}
	if n := e.s3.count("get", e.docKey); n != 1 {
		t.Fatalf("a redelivered event read the document again (%d GETs)", n)
	}

	steps := []struct {
		name    string
		key     string // default: the sidecar's
		change  func()
		event   string
		want    string
		updates int
	}{
		{name: "sidecar created", change: func() { e.s3.put(e.sideKey, `{"metadataAttributes":{"year":2024}}`, nil, nil) },
			event: "ObjectCreated:Put", want: `{"team": "finance", "year": 2024}`, updates: 1},
		{name: "same event again", change: func() {}, event: "ObjectCreated:Put", want: `{"team": "finance", "year": 2024}`, updates: 1},
		{name: "sidecar changed", change: func() { e.s3.put(e.sideKey, `{"metadataAttributes":{"year":2025,"team":"legal"}}`, nil, nil) },
			event: "ObjectCreated:Put", want: `{"team": "legal", "year": 2025}`, updates: 2},
		{name: "sidecar removed", change: func() { e.s3.del(e.sideKey) }, event: "ObjectRemoved:Delete", want: `{"team": "finance"}`, updates: 3},
		{name: "removal delivered again", change: func() {}, event: "ObjectRemoved:Delete", want: `{"team": "finance"}`, updates: 3},
		{name: "document tagged", key: e.docKey, change: func() {
			e.s3.put(e.docKey, "hello world", e.s3.objs[e.docKey].meta, map[string]string{"tenantry-attr-region": "eu", "backup": "daily"})
		}, event: "ObjectTagging:Put", want: `{"team": "finance", "region": "eu"}`, updates: 4},
		{name: "document untagged", key: e.docKey, change: func() { e.s3.put(e.docKey, "hello world", e.s3.objs[e.docKey].meta, nil) },
			event: "ObjectTagging:Delete", want: `{"team": "finance"}`, updates: 5},
		{name: "sidecar tagged: not an attribute change", change: func() {}, event: "ObjectTagging:Put", want: `{"team": "finance"}`, updates: 5},
	}
	for i, st := range steps {
		st.change()
		key := e.sideKey
		if st.key != "" {
			key = st.key
		}
		e.must(e.event(st.event, key, fmt.Sprintf("%04d", i+2)))
		if got := e.attributes(); got != st.want {
			t.Fatalf("%s: attributes %s, want %s", st.name, got, st.want)
		}
		if n := updates(); n != st.updates {
			t.Fatalf("%s: %d attribute audit rows, want %d", st.name, n, st.updates)
		}
	}
	// While the document is being ingested the change waits for it.
	if _, err := e.admin.Exec(context.Background(), `UPDATE documents SET status = 'processing' WHERE tenant_id = $1`, e.tenant); err != nil {
		t.Fatal(err)
	}
	e.s3.put(e.sideKey, `{"metadataAttributes":{"year":2026}}`, nil, nil)
	if d, ok := worker.RetryDelay(e.event("ObjectCreated:Put", e.sideKey, "0100")); !ok || d <= 0 {
		t.Fatalf("a sidecar change during an ingest is not retried after it (%v, %v)", d, ok)
	}
	if got := e.attributes(); got != `{"team": "finance"}` {
		t.Fatalf("attributes %s changed under an ingest", got)
	}
	if _, err := e.admin.Exec(context.Background(), `UPDATE documents SET status = 'ready' WHERE tenant_id = $1`, e.tenant); err != nil {
		t.Fatal(err)
	}
	if n := e.emb.calls.Load(); n != embeds {
		t.Fatalf("a sidecar change embedded the document again (%d embed calls, want %d)", n, embeds)
	}
	if n := e.n(`SELECT count(*) FROM documents WHERE tenant_id = $1 AND status = 'ready' AND chunk_count = 1`, e.tenant); n != 1 {
		t.Fatalf("document not ready with its chunk after sidecar changes")
	}
}

// A sidecar event binds through the gate as its document's object: another
// tenant's envelope on the document, no envelope, a non-canonical key or a
// sidecar key outside the document's prefix change nothing and (for a
// verdict) record a security event; a sidecar whose document does not
// exist yet writes nothing; a document refused for its bad sidecar is
// ingested once the sidecar is fixed; a bad sidecar on a ready document is
// bad_metadata and keeps its attributes.
func TestSidecarEventsFromTheAttackersSide(t *testing.T) {
	t.Parallel()
	e := newSidecarEnv(t)
	ctx := context.Background()
	victim := uuid.New()
	security := func(reason string) int {
		return e.n(`SELECT count(*) FROM security_events WHERE reason = $1`, reason)
	}
	docs := func() int { return e.n(`SELECT count(*) FROM documents`) }

	// The victim's document is stored with attributes.
	vKey := victim.String() + "/plan/p.txt"
	e.upload(vKey, victim, map[string]string{"tenantry-attr-team": "board"})
	e.must(e.event("ObjectCreated:Put", vKey, "0001"))

	// The attacker signs a document under the victim's prefix with its own
	// tenant and drops a sidecar beside it: refused by the gate.
	forged := victim.String() + "/plan2/p.txt"
	e.upload(forged, e.tenant, nil)
	e.s3.put(forged+retrieval.SidecarSuffix, `{"metadataAttributes":{"team":"attacker"}}`, nil, nil)
	err := e.event("ObjectCreated:Put", forged+retrieval.SidecarSuffix, "0002")
	if worker.ReasonOf(err) != "binding_mismatch" || security("binding_mismatch") != 1 {
		t.Fatalf("forged document's sidecar: outcome %v, %d security events", err, security("binding_mismatch"))
	}
	// An unsigned document with a sidecar.
	unsigned := victim.String() + "/plan3/p.txt"
	e.s3.put(unsigned, "hello world", nil, nil)
	e.s3.put(unsigned+retrieval.SidecarSuffix, `{"metadataAttributes":{"team":"attacker"}}`, nil, nil)
	err = e.event("ObjectCreated:Put", unsigned+retrieval.SidecarSuffix, "0003")
	if worker.ReasonOf(err) != "missing_envelope" || security("missing_envelope") != 1 {
		t.Fatalf("unsigned document's sidecar: outcome %v", err)
	}
	// Non-canonical sidecar keys are refused before S3 is asked.
	heads := e.s3.count("head", vKey)
	for _, k := range []string{
		e.tenant.String() + "/../" + victim.String() + "/plan/p.txt" + retrieval.SidecarSuffix,
		victim.String() + "/plan/sub/p.txt" + retrieval.SidecarSuffix,
	} {
		err = e.event("ObjectCreated:Put", k, "0004")
		if worker.ReasonOf(err) != "noncanonical_key" {
			t.Fatalf("%s: outcome %v, want noncanonical_key", k, err)
		}
	}
	if e.s3.count("head", vKey) != heads {
		t.Fatal("a non-canonical sidecar key reached S3")
	}
	var got string
	if err := e.admin.QueryRow(ctx, `SELECT attributes::text FROM documents WHERE tenant_id = $1 AND document_id = 'plan'`, victim).Scan(&got); err != nil || got != `{"team": "board"}` {
		t.Fatalf("victim's attributes %s (%v)", got, err)
	}
	if n := docs(); n != 1 {
		t.Fatalf("%d documents, want the victim's only", n)
	}

	// A sidecar uploaded before its document: nothing to bind, nothing
	// written.
	e.s3.put(e.sideKey, `{"metadataAttributes":{"a":{"b":1}}}`, nil, nil) // bad
	e.must(e.event("ObjectCreated:Put", e.sideKey, "0005"))
	if n := docs(); n != 1 {
		t.Fatalf("a sidecar event created a document")
	}
	// The document's own event fails on the bad sidecar.
	e.upload(e.docKey, e.tenant, nil)
	err = e.event("ObjectCreated:Put", e.docKey, "0006")
	if worker.ReasonOf(err) != retrieval.ReasonBadMetadata {
		t.Fatalf("document with a bad sidecar: %v", err)
	}
	// Fixing the sidecar ingests the document.
	e.s3.put(e.sideKey, `{"metadataAttributes":{"year":2024}}`, nil, nil)
	e.must(e.event("ObjectCreated:Put", e.sideKey, "0007"))
	if got := e.attributes(); got != `{"year": 2024}` {
		t.Fatalf("attributes %s after the sidecar was fixed", got)
	}
	if n := e.n(`SELECT count(*) FROM documents WHERE tenant_id = $1 AND status = 'ready'`, e.tenant); n != 1 {
		t.Fatal("the fixed document is not ready")
	}
	// A bad sidecar on a ready document: refused, attributes kept.
	e.s3.put(e.sideKey, `{"metadataAttributes":{"year":null}}`, nil, nil)
	if err := e.event("ObjectCreated:Put", e.sideKey, "0008"); worker.ReasonOf(err) != retrieval.ReasonBadMetadata {
		t.Fatalf("bad sidecar on a ready document: %v", err)
	}
	if got := e.attributes(); got != `{"year": 2024}` {
		t.Fatalf("attributes %s after a bad sidecar", got)
	}
}
