package console_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/google/uuid"
	"go.uber.org/zap"

	sdk "github.com/tenantry/tenantry/client"
	"github.com/tenantry/tenantry/internal/binding"
	"github.com/tenantry/tenantry/internal/breaker"
	"github.com/tenantry/tenantry/internal/console"
	"github.com/tenantry/tenantry/internal/devissuer"
	"github.com/tenantry/tenantry/internal/dlq"
	"github.com/tenantry/tenantry/internal/envelope"
	"github.com/tenantry/tenantry/internal/envelope/envelopetest"
	"github.com/tenantry/tenantry/internal/sqssource"
	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/internal/tenantdb/tenantdbtest"
	"github.com/tenantry/tenantry/internal/usage"
	"github.com/tenantry/tenantry/worker"
)

// Dev issuer users of every test: their groups make their role.
const (
	operator = "olga"    // tenantry-operators
	viewer   = "victor"  // tenantry-viewers
	nobody   = "nina"    // no console group
	late     = "lars"    // tokens already expired
	foreign  = "mallory" // tokens of another issuer
)

// env is a console on real servers: a migrated database with two tenants'
// documents and audit chains, a real DLQ on the local SQS server holding
// dead-lettered jobs of both tenants, the dev issuer, and the console
// behind an httptest server on 127.0.0.1.
type env struct {
	URL              string
	issuer           *devissuer.Issuer
	db               *tenantdbtest.Database
	reader           *tenantdb.ConsoleReader
	control          *recordingControl
	acme, globex     uuid.UUID
	sqs              *sqs.Client
	queueURL, dlqURL string
	kit              *envelopetest.Kit
	issuerServer     *httptest.Server
	jobsURL          string            // where reindex jobs go
	gate             *binding.Resolver // the worker's gate
	gw               *tenantdb.DB      // the worker role's gateway
	operatorSigner   *countingSigner   // signs the console's operator envelopes
}

// countingSigner counts the envelopes it signs.
type countingSigner struct {
	envelope.Signer
	n atomic.Int64
}

func (c *countingSigner) Sign(ctx context.Context, claims envelope.Claims) (string, error) {
	c.n.Add(1)
	return c.Signer.Sign(ctx, claims)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func opCtx(tb testing.TB) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

func sqsClient(tb testing.TB) *sqs.Client {
	tb.Helper()
	endpoint := os.Getenv("TENANTRY_SQS_ENDPOINT")
	if endpoint == "" {
		tb.Skip("TENANTRY_SQS_ENDPOINT not set: run via `make test` (starts the local stack)")
	}
	return sqs.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")},
		func(o *sqs.Options) { o.BaseEndpoint = aws.String(endpoint) })
}

// recordingControl is the test's TenantControl: the deployment's
// console.GateControl over the real per-tenant breaker (operator envelope →
// gate → breaker, which audits each transition in the tenant's chain), with
// the calls that reached it recorded.
type recordingControl struct {
	inner *console.GateControl
	mu    sync.Mutex
	calls []string
}

func (c *recordingControl) record(action string, t uuid.UUID, actor string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, action+" "+t.String()+" "+actor)
}

func (c *recordingControl) Pause(ctx context.Context, t uuid.UUID, actor, reason string) error {
	c.record("pause", t, actor)
	return c.inner.Pause(ctx, t, actor, reason)
}

func (c *recordingControl) Resume(ctx context.Context, t uuid.UUID, actor, reason string) error {
	c.record("resume", t, actor)
	return c.inner.Resume(ctx, t, actor, reason)
}

func (c *recordingControl) Calls() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.calls...)
}

// seed writes a tenant's documents (status, chunks, failure reason) and
// their audit rows as the worker does: in a tenant-scoped transaction.
func seed(tb testing.TB, gw *tenantdb.DB, tenant uuid.UUID, docs []seedDoc) {
	tb.Helper()
	ctx := opCtx(tb)
	err := gw.WithTenant(ctx, tenantdbtest.Scope(tb, tenant), func(ctx context.Context, tx tenantdb.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO tenants (tenant_id) VALUES ($1) ON CONFLICT DO NOTHING`, tenant); err != nil {
			return err
		}
		for _, d := range docs {
			if _, err := tx.Exec(ctx, `INSERT INTO documents (tenant_id, document_id, source_uri, version, status, chunk_count, error, media_type, size_bytes)
				VALUES ($1, $2, $3, $4, $5, $6, $7, 'text/plain', 1234)`, tenant, d.id, "s3://b/"+tenant.String()+"/"+d.id+"/f.txt",
				"sha256:"+randomHex(32), d.status, d.chunks, d.reason); err != nil {
				return err
			}
			if _, err := tx.Audit(ctx, "document.ingested", "doc:"+d.id, "", fmt.Sprintf(`{"status":%q}`, d.status)); err != nil {
				return err
			}
		}
		// An event type the console does not know must still show: kind,
		// actor, detail.
		_, err := tx.Audit(ctx, "app.noted", "doc:*", "", `{"note":"ticket 42"}`)
		return err
	})
	if err != nil {
		tb.Fatalf("seed: %v", err)
	}
}

// supportAccess gives the support operator sam a grant on tenant, reads
// its documents through the support role (tenantdb.SupportReader, issue
// 18: the read appends support.read to the chain) and revokes the grant.
func supportAccess(tb testing.TB, db *tenantdbtest.Database, tenant uuid.UUID) {
	tb.Helper()
	ctx := opCtx(tb)
	admin, err := tenantdb.OpenSupportAdmin(ctx, db.OwnerURL)
	if err != nil {
		tb.Fatal(err)
	}
	defer admin.Close()
	sr, err := tenantdb.OpenSupportReader(ctx, db.SupportURL)
	if err != nil {
		tb.Fatal(err)
	}
	defer sr.Close()
	g, err := admin.Grant(ctx, tenant, "sam", "ticket 42", time.Hour, "lead")
	if err != nil {
		tb.Fatal(err)
	}
	if rows, err := sr.Read(ctx, tenantdb.SupportRequest{Tenant: tenant, Grant: g.ID, Operator: "sam", What: "documents"}); err != nil || len(rows) != 4 {
		tb.Fatalf("support read: %d rows, %v", len(rows), err)
	}
	if ok, err := admin.Revoke(ctx, tenant, g.ID, "lead"); !ok || err != nil {
		tb.Fatalf("revoke: %v, %v", ok, err)
	}
}

type seedDoc struct {
	id, status, reason string
	chunks             int
}

func newEnv(tb testing.TB) *env {
	tb.Helper()
	ctx := opCtx(tb)
	client := sqsClient(tb)
	db := tenantdbtest.NewDatabase(tb)
	gw := db.Open(tb)
	e := &env{db: db, acme: uuid.New(), globex: uuid.New(), sqs: client, gw: gw}
	seed(tb, gw, e.acme, []seedDoc{{"contract-1", "ready", "", 12}, {"contract-2", "ready", "", 7}, {"scan-3", "failed", "extract_failed", 0}, {"big-4", "processing", "", 0}})
	seed(tb, gw, e.globex, []seedDoc{{"handbook", "ready", "", 30}, {"broken", "failed", "embed_unavailable", 0}, {"broken-2", "failed", "embed_unavailable", 0}})

	supportAccess(tb, db, e.acme)
	// acme's provider usage, recorded as the worker's budget does.
	meter := usage.NewMeter(gw, nil)
	meter.Add(tenantdbtest.Scope(tb, e.acme), usage.Counts{Requests: 7, Tokens: 1234, Throttled: 2})
	if err := meter.Flush(ctx); err != nil {
		tb.Fatal(err)
	}

	// The DLQ: jobs of both tenants, dead-lettered by the worker's own source.
	name := "tenantry-consoletest-" + randomHex(6)
	q, d, err := sqssource.EnsureQueues(ctx, client, name, name+"-dlq", 100)
	if err != nil {
		tb.Fatalf("EnsureQueues: %v", err)
	}
	e.queueURL, e.dlqURL = q, d
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, u := range []string{q, d} {
			_, _ = client.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(u)})
		}
	})
	src, err := sqssource.New(sqssource.Config{QueueURL: q, DLQURL: d, WaitTime: time.Second}, client, nil)
	if err != nil {
		tb.Fatal(err)
	}
	e.kit = envelopetest.New(tb)
	for _, m := range []struct {
		tenant        uuid.UUID
		doc           string
		reason, stage string
	}{
		{e.acme, "scan-3", "handler_failed", "extract"},
		{e.globex, "broken", "max_receives", "embed"},
		{e.globex, "broken-2", "max_receives", "embed"},
	} {
		job := fmt.Sprintf(`{"type":"reindex","document_id":%q}`, m.doc)
		tok := e.kit.Job(tb, m.tenant, envelope.ActionReindex, envelope.DocumentResource(m.doc), []byte(job))
		t, _ := json.Marshal(tok)
		out, err := client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(q), MessageBody: aws.String(`{"envelope":` + string(t) + `,"job":` + job + `}`)})
		if err != nil {
			tb.Fatal(err)
		}
		deadLetter(tb, src, aws.ToString(out.MessageId), worker.DeadLetterInfo{Reason: m.reason, Stage: m.stage, Attempts: 3})
	}

	// The gate with the worker's trust; the console signs operator
	// envelopes with a key that trust includes.
	v := e.kit.Verifier(tb)
	gate := &binding.Resolver{Verifier: v}
	// The operator envelopes the console signs are counted.
	e.operatorSigner = &countingSigner{Signer: e.kit.ES256}
	opIssuer, err := envelope.NewIssuer(e.operatorSigner, envelope.IssuerConfig{Issuer: e.kit.Issuer, Audience: e.kit.Audience, TTL: time.Hour, Now: e.kit.Now})
	if err != nil {
		tb.Fatal(err)
	}
	rec := &console.GateRecorder{Issuer: opIssuer, Gate: gate, Gateway: gw}
	brk, err := breaker.New(breaker.Config{}, gw, nil, nil)
	if err != nil {
		tb.Fatal(err)
	}
	e.control = &recordingControl{inner: &console.GateControl{Issuer: opIssuer, Gate: gate, Breaker: brk}}
	reader, err := tenantdb.OpenConsoleReader(ctx, db.OwnerURL)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(reader.Close)
	e.reader = reader

	// The dev issuer and the console.
	// Reindex jobs go to their own queue, where the test reads them back.
	jobs, _, err := sqssource.EnsureQueues(ctx, client, name+"-jobs", name+"-jobs-dlq", 100)
	if err != nil {
		tb.Fatal(err)
	}
	e.jobsURL = jobs
	tb.Cleanup(func() {
		for _, n := range []string{name + "-jobs", name + "-jobs-dlq"} {
			if out, err := client.GetQueueUrl(context.Background(), &sqs.GetQueueUrlInput{QueueName: aws.String(n)}); err == nil {
				_, _ = client.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: out.QueueUrl})
			}
		}
	})
	e.gate = gate

	e.issuer, e.issuerServer = startIssuer(tb)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	e.URL = "http://" + ln.Addr().String()
	e.issuer.AddClient(devissuer.Client{ID: "console", RedirectURIs: []string{e.URL + "/callback"}})
	// Reindex jobs are the producer SDK's, signed with a key the gate trusts.
	jobClient, err := sdk.New(sdk.Config{Signer: e.kit.ES256, Issuer: e.kit.Issuer, Audience: e.kit.Audience, TTL: time.Hour,
		Now: e.kit.Now, SQS: client, QueueURL: jobs})
	if err != nil {
		tb.Fatal(err)
	}
	srv, err := console.New(ctx, console.Config{
		BaseURL: e.URL, InsecureCookies: true,
		OIDC: console.OIDCConfig{Issuer: e.issuer.URL, ClientID: "console"},
	}, console.Deps{
		Reader: reader, Control: e.control, Recorder: rec,
		Reindexer:  &console.JobReindexer{Client: jobClient, Reader: reader},
		Executions: &console.Executions{API: newFakeSFN(e.acme, e.globex), StateMachineARN: "arn:aws:states:us-east-1:1:stateMachine:pipeline"},
		DLQ: &console.Queue{API: client, Resolver: &dlq.EnvelopeResolver{Verifier: v}, Gateway: gw, DLQURL: d,
			InspectTuning: dlq.InspectConfig{WaitTime: time.Second}, ReplayTuning: dlq.ReplayConfig{WaitTime: time.Second, Rate: 100}},
	}, zap.NewNop())
	if err != nil {
		tb.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(srv.Handler())
	_ = hs.Listener.Close()
	hs.Listener = ln
	hs.Start()
	tb.Cleanup(hs.Close)
	return e
}

func startIssuer(tb testing.TB) (*devissuer.Issuer, *httptest.Server) {
	tb.Helper()
	var iss *devissuer.Issuer
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { iss.Handler().ServeHTTP(w, r) }))
	tb.Cleanup(hs.Close)
	var err error
	if iss, err = devissuer.New(hs.URL); err != nil {
		tb.Fatal(err)
	}
	iss.AddUser(operator, devissuer.User{Groups: []string{"tenantry-operators"}})
	iss.AddUser(viewer, devissuer.User{Groups: []string{"tenantry-viewers"}})
	iss.AddUser(nobody, devissuer.User{Groups: []string{"marketing"}})
	iss.AddUser(late, devissuer.User{Groups: []string{"tenantry-operators"}, ExpiresIn: -time.Minute})
	iss.AddUser(foreign, devissuer.User{Groups: []string{"tenantry-operators"}, Issuer: "https://evil.example.com"})
	return iss, hs
}

// deadLetter receives the queue until message id shows up and dead-letters
// it as the worker's runner does.
func deadLetter(tb testing.TB, src *sqssource.Source, id string, info worker.DeadLetterInfo) {
	tb.Helper()
	ctx := opCtx(tb)
	for ctx.Err() == nil {
		msgs, err := src.Receive(ctx, 10)
		if err != nil {
			tb.Fatalf("Receive: %v", err)
		}
		for _, m := range msgs {
			if m.ID != id {
				_ = src.Nack(ctx, m, 0)
				continue
			}
			if err := src.DeadLetter(ctx, m, info); err != nil {
				tb.Fatalf("DeadLetter: %v", err)
			}
			return
		}
	}
	tb.Fatalf("message %s never received", id)
}
