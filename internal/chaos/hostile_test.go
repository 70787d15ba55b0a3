package chaos_test

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tenantry/tenantry/internal/chaos/harness"
	"github.com/tenantry/tenantry/internal/envelope"
	"github.com/tenantry/tenantry/internal/envelope/envelopetest"
	"github.com/tenantry/tenantry/internal/event"
)

// outcome is what the worker must do with one hostile input.
type outcome struct {
	reason   string // DLQ tenantry-reason; "" = handled without dead-lettering
	security bool   // a security event is recorded (a refused envelope)
	failed   string // document id that must end failed with error == reason
	ready    string // document id that must end ready (hostile but legitimate)
}

// hostileCase is one input sent to the running worker.
type hostileCase struct {
	group, name string
	send        func(ctx context.Context) error
	match       string // identifies its DLQ message: a substring of the body
	want        outcome
}

// hostileSettings: fast retries, few receives (anything retried is
// dead-lettered quickly with max_receives), a 4 MiB document limit, and no
// per-tenant breaker: every hostile input is judged on its own here (a run
// of them from one tenant would trip its breaker and park the rest, which
// internal/breaker and TestChaosParkedWorkSurvivesKills cover).
var hostileSettings = []string{
	"TENANTRY_VISIBILITY_TIMEOUT=10s", "TENANTRY_WAIT_TIME=1s", "TENANTRY_BACKOFF_BASE=100ms",
	"TENANTRY_BACKOFF_MAX=500ms", "TENANTRY_MAX_RECEIVES=3", "TENANTRY_MAX_DOCUMENT_BYTES=4194304",
	"TENANTRY_BREAKER_DISABLE=true",
}

// TestHostileInputs sends forged and tampered envelopes, malformed events
// and hostile documents through the running worker process. Each must get a
// clear reason (the DLQ's tenantry-reason, or a failed document's error
// code); a refused envelope writes nothing to any tenant table and records
// a security event; the worker stays healthy and processes a good document
// afterwards.
func TestHostileInputs(t *testing.T) {
	t.Parallel()
	env := harness.NewEnv(t, harness.EnvConfig{Prefix: "hostile-", MaxReceive: 10})
	bin := harness.Binary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	db := admin{env.DB.AdminURL}
	logf, err := os.Create(filepath.Join(t.TempDir(), "worker.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	w, err := env.StartWorker(ctx, bin, harness.WorkerConfig{Settings: hostileSettings, LogLevel: "info"}, logf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Stop(15 * time.Second) })
	defer func() {
		if t.Failed() {
			t.Logf("worker log tail:\n%s", tail(logf.Name(), 40))
		}
	}()
	pid := w.PID()

	victim, attacker := uuid.New(), uuid.New()
	envelopes := envelopeCases(t, env, victim)
	events := eventCases(t, env, victim, attacker)
	documents := documentCases(t, env, victim)
	total := len(envelopes) + len(events) + len(documents)
	t.Logf("%d hostile cases: %d envelopes, %d events, %d documents", total, len(envelopes), len(events), len(documents))
	if total < 50 {
		t.Fatalf("only %d cases", total)
	}

	// Phase 1: refused envelopes write nothing to any tenant table.
	began := time.Now()
	runCases(t, ctx, env, db, w, envelopes)
	for _, table := range []string{"tenants", "documents", "chunks", "jobs", "audit_events", "audit_heads"} {
		if n, err := db.count(ctx, "SELECT count(*) FROM "+table); err != nil || n != 0 {
			t.Errorf("after %d refused envelopes, %s has %d rows (%v)", len(envelopes), table, n, err)
		}
	}
	// Phase 2 and 3: events, documents.
	runCases(t, ctx, env, db, w, events)
	runCases(t, ctx, env, db, w, documents)

	// Still the same healthy process, and a good document goes through.
	if code, _, err := w.Get(ctx, "/healthz"); err != nil || code != http.StatusOK {
		t.Fatalf("/healthz: %d %v", code, err)
	}
	select {
	case <-w.Done():
		t.Fatalf("worker exited: %v", w.ExitErr())
	default:
	}
	if w.PID() != pid {
		t.Fatal("worker restarted")
	}
	good := uuid.New()
	key, err := env.PutSigned(ctx, good, "after", "after.md", "text/markdown", []byte("# After the storm\n\nThe worker is still fine."))
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Send(ctx, env.Notification("ObjectCreated:Put", key)); err != nil {
		t.Fatal(err)
	}
	if err := harness.Eventually(ctx, "the good document ready", time.Minute, 100*time.Millisecond, func(ctx context.Context) (bool, error) {
		n, err := db.count(ctx, "SELECT count(*) FROM documents WHERE tenant_id = $1 AND document_id = 'after' AND status = 'ready'", good)
		return n == 1, err
	}); err != nil {
		t.Fatal(err)
	}
	reports, err := harness.VerifyAudit(ctx, env.DB.OwnerURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reports {
		if !r.OK {
			t.Errorf("audit chain of %s: %s", r.TenantID, r.Problem)
		}
	}
	t.Logf("%d hostile cases handled in %s; worker pid %d still healthy; peak RSS %s", total,
		time.Since(began).Round(time.Millisecond), pid, rss(w))
}

func rss(w *harness.Process) string {
	n, err := w.PeakRSS()
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
}

// runCases sends every case, waits until the queue is drained, then checks
// each case's outcome against the DLQ, the security events and the
// documents table.
func runCases(t *testing.T, ctx context.Context, env *harness.Env, db admin, w *harness.Process, cases []hostileCase) {
	t.Helper()
	secBefore, err := db.count(ctx, "SELECT count(*) FROM security_events")
	if err != nil {
		t.Fatal(err)
	}
	wantDLQ, wantSec := 0, 0
	for _, c := range cases {
		if err := c.send(ctx); err != nil {
			t.Fatalf("%s/%s: send: %v", c.group, c.name, err)
		}
		if c.want.reason != "" {
			wantDLQ++
		}
		if c.want.security {
			wantSec++
		}
	}
	if err := harness.Eventually(ctx, "the queue drained", 4*time.Minute, 200*time.Millisecond, func(ctx context.Context) (bool, error) {
		v, f, err := env.QueueDepth(ctx, env.QueueURL)
		return err == nil && v == 0 && f == 0, nil
	}); err != nil {
		t.Fatal(err)
	}
	dead, err := env.DeadLetters(ctx, wantDLQ, 2*time.Minute) // a message hidden by a lost receive reappears after 20 s
	if err != nil {
		t.Error(err)
	}
	// Match each DLQ message to its case: the body itself, else the longest
	// match contained in it (one case's body may contain another's).
	got := map[string][]harness.DeadLetter{}
	for _, d := range dead {
		best := -1
		for i, c := range cases {
			switch {
			case c.match == "" || !strings.Contains(d.Body, c.match):
			case best < 0 || c.match == d.Body || len(c.match) > len(cases[best].match) && cases[best].match != d.Body:
				best = i
			}
		}
		if best < 0 {
			t.Errorf("DLQ message of no case (reason %q): %.120s", d.Reason, d.Body)
			continue
		}
		got[cases[best].name] = append(got[cases[best].name], d)
	}
	failed := map[string]string{}
	ready := map[string]bool{}
	_ = db.do(ctx, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, "SELECT document_id, status, error FROM documents")
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id, status, code string
			if err := rows.Scan(&id, &status, &code); err != nil {
				return err
			}
			if status == "failed" {
				failed[id] = code
			} else if status == "ready" {
				ready[id] = true
			}
		}
		return rows.Err()
	})
	var table []string
	for _, c := range cases {
		ds := got[c.name]
		var reasons []string
		for _, d := range ds {
			reasons = append(reasons, d.Reason)
		}
		dlq := "-"
		if len(reasons) > 0 {
			dlq = strings.Join(reasons, ",")
		}
		switch {
		case c.want.reason != "" && (len(ds) != 1 || ds[0].Reason != c.want.reason):
			t.Errorf("%s/%s: DLQ reasons %v, want [%s]", c.group, c.name, reasons, c.want.reason)
		case c.want.reason == "" && len(ds) != 0:
			t.Errorf("%s/%s: dead-lettered (%v), want handled", c.group, c.name, reasons)
		}
		if c.want.failed != "" && failed[c.want.failed] != c.want.reason {
			t.Errorf("%s/%s: document %s failed with %q, want %q", c.group, c.name, c.want.failed, failed[c.want.failed], c.want.reason)
		}
		if c.want.ready != "" && !ready[c.want.ready] {
			t.Errorf("%s/%s: document %s not ready", c.group, c.name, c.want.ready)
		}
		table = append(table, fmt.Sprintf("%-9s %-58.58s dlq=%-22s security=%-5v failed=%q", c.group, c.name, dlq, c.want.security, failed[c.want.failed]))
	}
	secAfter, err := db.count(ctx, "SELECT count(*) FROM security_events")
	if err != nil {
		t.Fatal(err)
	}
	if secAfter-secBefore != wantSec {
		t.Errorf("%d security events recorded, want %d", secAfter-secBefore, wantSec)
	}
	if code, _, err := w.Get(ctx, "/healthz"); err != nil || code != http.StatusOK {
		t.Errorf("/healthz after %s cases: %d %v", cases[0].group, code, err)
	}
	sort.Strings(table)
	t.Logf("%d %s cases, %d dead-lettered, %d security events:\n%s", len(cases), cases[0].group, len(dead), secAfter-secBefore, strings.Join(table, "\n"))
}

// envelopeCases: envelopetest.Hostile's whole catalogue. Object cases go
// where an upload's envelope travels (S3 user metadata of the object, then
// its notification), each on its own object; tokens S3 metadata cannot
// carry go in a signed-ingest-job message instead; job cases go as job
// messages.
func envelopeCases(t *testing.T, env *harness.Env, victim uuid.UUID) []hostileCase {
	body := []byte(`{"type":"reindex","document_id":"doc-1"}`)
	base := env.Kit.Hostile(t, envelopetest.Target{Tenant: victim, Bucket: env.Bucket, Key: harness.Key(victim, "env-0", "plans.txt"), Body: body})
	var out []hostileCase
	for i, bc := range base {
		if bc.Binding == envelopetest.BindJob {
			tok := bc.Token
			msg := fmt.Sprintf(`{"envelope":%q,"job":%s}`, tok, body)
			out = append(out, hostileCase{group: "envelope", name: "job: " + bc.Name, match: tok,
				send: func(ctx context.Context) error { return env.Send(ctx, msg) },
				want: outcome{reason: string(bc.Reason), security: true}})
			continue
		}
		doc := fmt.Sprintf("env-%d", i)
		key := harness.Key(victim, doc, "plans.txt")
		var c envelopetest.Case
		for _, x := range env.Kit.Hostile(t, envelopetest.Target{Tenant: victim, Bucket: env.Bucket, Key: key, Body: body}) {
			if x.Name == bc.Name {
				c = x
			}
		}
		switch {
		case c.FitsS3Metadata():
			out = append(out, hostileCase{group: "envelope", name: "upload: " + c.Name, match: event.EncodeKey(key),
				send: func(ctx context.Context) error {
					if err := env.Put(ctx, key, "text/plain", []byte("secret plans"), c.Token); err != nil {
						return err
					}
					return env.Send(ctx, env.Notification("ObjectCreated:Put", key))
				},
				want: outcome{reason: string(c.Reason), security: true}})
		case c.Token == "":
			out = append(out, hostileCase{group: "envelope", name: "upload: no envelope at all", match: event.EncodeKey(key),
				send: func(ctx context.Context) error {
					if err := env.Put(ctx, key, "text/plain", []byte("secret plans"), ""); err != nil {
						return err
					}
					return env.Send(ctx, env.Notification("ObjectCreated:Put", key))
				},
				want: outcome{reason: "missing_envelope", security: true}})
		default:
			// S3 metadata cannot carry it: an ingest job message for the object.
			job := fmt.Sprintf(`{"type":"ingest","bucket":%q,"key":%q}`, env.Bucket, key)
			msg := fmt.Sprintf(`{"envelope":%q,"job":%s}`, c.Token, job)
			want := outcome{reason: string(c.Reason), security: true}
			if _, err := event.Decode([]byte(msg), nil); err != nil {
				// Refused by the event decoder (not a compact JWS) before
				// verification: still a refused envelope, with its security
				// event (malformed_envelope).
				r := event.ReasonOf(err)
				want = outcome{reason: r, security: r == event.ReasonMalformedEnvelope}
			}
			out = append(out, hostileCase{group: "envelope", name: "job: " + c.Name, match: key,
				send: func(ctx context.Context) error { return env.Send(ctx, msg) }, want: want})
		}
	}
	return out
}

// eventCases: malformed and tricky queue messages.
func eventCases(t *testing.T, env *harness.Env, victim, attacker uuid.UUID) []hostileCase {
	ctx := context.Background()
	rec := func(mut func(r map[string]any)) string {
		var m map[string]any
		if err := json.Unmarshal([]byte(env.Notification("ObjectCreated:Put", harness.Key(victim, "ev", "x.txt"))), &m); err != nil {
			t.Fatal(err)
		}
		r := m["Records"].([]any)[0].(map[string]any)
		mut(r)
		b, _ := json.Marshal(m)
		return string(b)
	}
	s3obj := func(r map[string]any) map[string]any { return r["s3"].(map[string]any)["object"].(map[string]any) }
	raw := func(name, body, reason string) hostileCase {
		// A present but malformed envelope is a refused envelope: security event.
		return hostileCase{group: "event", name: name, match: body, want: outcome{reason: reason, security: reason == event.ReasonMalformedEnvelope},
			send: func(ctx context.Context) error { return env.Send(ctx, body) }}
	}
	many := func(n int) string {
		recs := make([]string, n)
		one := rec(func(map[string]any) {})
		one = strings.TrimSuffix(strings.TrimPrefix(one, `{"Records":[`), `]}`)
		for i := range recs {
			recs[i] = one
		}
		return `{"Records":[` + strings.Join(recs, ",") + `]}`
	}
	validJob := `{"type":"reindex","document_id":"doc-1"}`
	tok := env.Kit.Job(t, victim, envelope.ActionReindex, envelope.DocumentResource("doc-1"), []byte(validJob))
	cases := []hostileCase{
		raw("not JSON", "hello, worker", event.ReasonMalformed),
		raw("truncated JSON", `{"Records":[{"eventSource":"aws:s3"`, event.ReasonMalformed),
		raw("JSON array", `[{"Records":[]}]`, event.ReasonMalformed),
		raw("JSON null", `null`, event.ReasonMalformed),
		raw("JSON string", `"Records"`, event.ReasonMalformed),
		raw("empty object", `{}`, event.ReasonUnsupported),
		raw("unknown shape", `{"hello":"world"}`, event.ReasonUnsupported),
		raw("Records not an array", `{"Records":{"eventSource":"aws:s3"}}`, event.ReasonMalformed),
		raw("Records empty", `{"Records":[]}`, event.ReasonMalformed),
		raw("record not an object", `{"Records":[42]}`, event.ReasonMalformed),
		raw("101 records (over the limit)", many(101), event.ReasonTooLarge),
		raw("huge message: 120 records, ~70 KB", many(120), event.ReasonTooLarge),
		raw("nested 40 deep", `{"Records":`+strings.Repeat("[", 40)+strings.Repeat("]", 40)+`}`, event.ReasonMalformed),
		raw("duplicate key, case variant", `{"Records":[],"records":[]}`, event.ReasonMalformed),
		raw("trailing data", `{"Records":[]} {"Records":[]}`, event.ReasonMalformed),
		raw("byte order mark", "\ufeff{\"Records\":[]}", event.ReasonMalformed),
		raw("eventSource not S3", rec(func(r map[string]any) { r["eventSource"] = "aws:sqs" }), event.ReasonUnsupported),
		raw("eventName missing", rec(func(r map[string]any) { delete(r, "eventName") }), event.ReasonMalformed),
		raw("eventName a number", rec(func(r map[string]any) { r["eventName"] = 7 }), event.ReasonMalformed),
		raw("eventTime not a time", rec(func(r map[string]any) { r["eventTime"] = "yesterday" }), event.ReasonMalformed),
		raw("invalid bucket name", rec(func(r map[string]any) {
			r["s3"].(map[string]any)["bucket"] = map[string]any{"name": "Bad_Bucket!"}
		}), event.ReasonMalformed),
		raw("object key missing", rec(func(r map[string]any) { delete(s3obj(r), "key") }), event.ReasonMalformed),
		raw("object key empty", rec(func(r map[string]any) { s3obj(r)["key"] = "" }), event.ReasonMalformed),
		raw("object size negative", rec(func(r map[string]any) { s3obj(r)["size"] = -1 }), event.ReasonMalformed),
		raw("key: invalid percent-encoding", rec(func(r map[string]any) { s3obj(r)["key"] = victim.String() + "/ev/%zz.txt" }), event.ReasonBadKeyEncoding),
		raw("key: encodes invalid UTF-8", rec(func(r map[string]any) { s3obj(r)["key"] = victim.String() + "/ev/%FF%FE.txt" }), event.ReasonBadKeyEncoding),
		raw("key: longer than 1024 bytes", rec(func(r map[string]any) {
			s3obj(r)["key"] = victim.String() + "/ev/" + strings.Repeat("k", 1100)
		}), event.ReasonBadKeyEncoding),
		raw("SNS: not a Notification", `{"Type":"SubscriptionConfirmation","Message":"{}"}`, event.ReasonUnsupported),
		raw("SNS: Message not JSON", `{"Type":"Notification","Message":"not json"}`, event.ReasonMalformed),
		raw("SNS: Message an object, not a string", `{"Type":"Notification","Message":{"Records":[]}}`, event.ReasonMalformed),
		raw("EventBridge: another source", `{"detail-type":"Object Created","source":"aws.ec2","detail":{}}`, event.ReasonUnsupported),
		raw("EventBridge: bad key encoding", `{"detail-type":"Object Created","source":"aws.s3","time":"2026-01-01T00:00:00Z",`+
			`"detail":{"bucket":{"name":"`+env.Bucket+`"},"object":{"key":"%zz"}}}`, event.ReasonBadKeyEncoding),
		raw("job: a field besides envelope and job", `{"envelope":"a.b.c","job":`+validJob+`,"tenant_id":"`+victim.String()+`"}`, event.ReasonMalformed),
		raw("job: unknown type", `{"envelope":"a.b.c","job":{"type":"become_admin"}}`, event.ReasonUnsupportedJob),
		raw("job: empty envelope", `{"envelope":"","job":`+validJob+`}`, event.ReasonMalformedEnvelope),
		raw("job: envelope not base64url", `{"envelope":"a.b.c!","job":`+validJob+`}`, event.ReasonMalformedEnvelope),
		raw("job: envelope a number", `{"envelope":12345,"job":`+validJob+`}`, event.ReasonMalformed),
		raw("job: envelope over 8 KiB", `{"envelope":"`+strings.Repeat("A", 9000)+`.b.c","job":`+validJob+`}`, event.ReasonMalformedEnvelope),
		raw("job: ingest without a key", `{"envelope":"a.b.c","job":{"type":"ingest","bucket":"`+env.Bucket+`"}}`, event.ReasonMalformed),
		raw("job: purge naming a document", `{"envelope":"a.b.c","job":{"type":"purge_tenant","document_id":"x"}}`, event.ReasonMalformed),
		raw("job: control character in document id", `{"envelope":"a.b.c","job":{"type":"reindex","document_id":"a\u0007b"}}`, event.ReasonMalformed),
		{group: "event", name: "job: envelope both in attribute and body", match: `"marker":"attr-and-body"`,
			want: outcome{reason: event.ReasonMalformedEnvelope, security: true},
			send: func(ctx context.Context) error {
				return env.SendWith(ctx, `{"type":"reindex","document_id":"doc-1","envelope":"x.y.z","marker":"attr-and-body"}`,
					map[string]string{event.AttrEnvelope: tok})
			}},
		raw("unknown bucket", env.NotificationFor("not-our-bucket", "ObjectCreated:Put", harness.Key(victim, "ev", "x.txt")), "unknown_bucket"),
		// Handled without a verdict: nothing to do, nothing written.
		raw("s3:TestEvent", `{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-01-01T00:00:00Z","Bucket":"`+env.Bucket+`"}`, ""),
		raw("unhandled event type (ObjectRestore:Completed)", rec(func(r map[string]any) { r["eventName"] = "ObjectRestore:Completed" }), ""),
		raw("ObjectCreated for an object that does not exist", env.Notification("ObjectCreated:Put", harness.Key(victim, "ghost", "none.txt")), ""),
		raw("ObjectRemoved for a document never stored", env.Notification("ObjectRemoved:Delete", harness.Key(victim, "ghost2", "none.txt")), ""),
	}

	// URL-encoding tricks on real objects.
	plansKey := harness.Key(victim, "enc", "plans.txt")
	attackerEnv := env.Kit.Object(t, attacker, env.Bucket, harness.Key(attacker, "enc", "plans.txt"))
	if err := env.Put(ctx, plansKey, "text/plain", []byte("the attacker's text under the victim's prefix"), attackerEnv); err != nil {
		t.Fatal(err)
	}
	spaceKey := harness.Key(victim, "plus doc", "a b.txt")
	plusKey := harness.Key(victim, "plus2", "a+b.txt")
	for _, k := range []string{spaceKey, plusKey} {
		if _, err := env.PutSigned(ctx, victim, strings.Split(k, "/")[1], strings.Split(k, "/")[2], "text/plain", []byte("legitimate text for "+k)); err != nil {
			t.Fatal(err)
		}
	}
	existsKey := harness.Key(victim, "exists", "still.txt")
	if err := env.Put(ctx, existsKey, "text/plain", []byte("still here"), ""); err != nil {
		t.Fatal(err)
	}
	encSlash := strings.ReplaceAll(plansKey, "/", "%2F")
	cases = append(cases,
		hostileCase{group: "event", name: "key: slashes %2F-encoded, object carries another tenant's envelope", match: encSlash,
			want: outcome{reason: string(envelope.ReasonBindingMismatch), security: true},
			send: func(ctx context.Context) error {
				return env.Send(ctx, env.NotificationFor(env.Bucket, "ObjectCreated:Put", encSlash))
			}},
		hostileCase{group: "event", name: "key: double-encoded slash %252F (decodes to a key with %2F)", match: strings.ReplaceAll(plansKey, "/", "%252F"),
			want: outcome{reason: string(envelope.ReasonNonCanonicalKey), security: true},
			send: func(ctx context.Context) error {
				return env.Send(ctx, env.NotificationFor(env.Bucket, "ObjectCreated:Put", strings.ReplaceAll(plansKey, "/", "%252F")))
			}},
		raw("key: '+' decodes to a space (legitimate object)", env.NotificationFor(env.Bucket, "ObjectCreated:Put",
			strings.ReplaceAll(spaceKey, " ", "+")), ""),
		raw("key: %2B decodes to a plus (legitimate object)", env.NotificationFor(env.Bucket, "ObjectCreated:Put",
			strings.ReplaceAll(plusKey, "+", "%2B")), ""),
		hostileCase{group: "event", name: "key: ../ traversal to another tenant's object", match: "/../" + attacker.String() + "/enc/",
			want: outcome{reason: string(envelope.ReasonNonCanonicalKey), security: true},
			send: func(ctx context.Context) error {
				return env.Send(ctx, env.NotificationFor(env.Bucket, "ObjectCreated:Put", victim.String()+"/../"+attacker.String()+"/enc/plans.txt"))
			}},
		hostileCase{group: "event", name: "ingest job: attacker-signed ../ key into the victim's prefix", match: "/x/../../" + victim.String(),
			want: outcome{reason: string(envelope.ReasonNonCanonicalKey), security: true},
			send: func(ctx context.Context) error {
				job := fmt.Sprintf(`{"type":"ingest","bucket":%q,"key":%q}`, env.Bucket, attacker.String()+"/x/../../"+victim.String()+"/enc/plans.txt")
				tok := env.Kit.Job(t, attacker, envelope.ActionIngest, "doc:plans", []byte(job))
				return env.Send(ctx, fmt.Sprintf(`{"envelope":%q,"job":%s}`, tok, job))
			}},
		raw("ObjectRemoved for an object that still exists", env.Notification("ObjectRemoved:Delete", existsKey), ""),
	)
	for i := range cases {
		switch cases[i].name {
		case "key: '+' decodes to a space (legitimate object)":
			cases[i].want.ready = "plus doc"
		case "key: %2B decodes to a plus (legitimate object)":
			cases[i].want.ready = "plus2"
		}
	}
	return cases
}

// documentCases: validly signed uploads whose content is hostile.
func documentCases(t *testing.T, env *harness.Env, tenant uuid.UUID) []hostileCase {
	docx := func(files map[string]string) []byte { return zipOf(t, files, nil) }
	docxXML := func(inner string) []byte {
		return docx(map[string]string{"[Content_Types].xml": "<Types/>", "word/document.xml": docxHead + inner + docxTail})
	}
	manyEntries := map[string]string{"word/document.xml": docxHead + para("x") + docxTail}
	for i := range 10001 {
		manyEntries[fmt.Sprintf("junk/%d", i)] = ""
	}
	pdf := harness.PDF([][]string{{"a perfectly normal first page"}, {"and a second page"}})
	type docCase struct {
		name, filename, ctype string
		body                  []byte
		reason                string // "" = must end ready
	}
	list := []docCase{
		{"empty file", "empty.txt", "text/plain", nil, "empty_document"},
		{"whitespace only", "blank.txt", "text/plain", []byte(" \n\t\r\n  "), "empty_document"},
		{"NUL bytes in text", "nul.txt", "text/plain", []byte("text\x00with\x00nuls"), "malformed_document"},
		{"zip bomb DOCX: 300 MiB of text in 300 KB", "bomb.docx", "", zipBomb(t, 300<<20, false), "document_too_large"},
		{"zip bomb DOCX with a lying size header", "liar.docx", "", zipBomb(t, 64<<20, true), "malformed_document"},
		{"DOCX with 10,001 entries", "many.docx", "", docx(manyEntries), "document_too_large"},
		{"DOCX that is not a zip", "fake.docx", "", []byte("PK\x03\x04 but not really a zip"), "malformed_document"},
		{"DOCX without word/document.xml", "hollow.docx", "", docx(map[string]string{"[Content_Types].xml": "<Types/>"}), "malformed_document"},
		{"DOCX with invalid XML", "badxml.docx", "", docxXML("<w:p>&bogus;</w:p"), "malformed_document"},
		{"DOCX nested 100,000 deep", "deep.docx", "", docx(map[string]string{
			"word/document.xml": strings.Repeat("<a>", 100000) + strings.Repeat("</a>", 100000)}), "malformed_document"},
		{"PDF truncated in the middle", "half.pdf", "application/pdf", pdf[:len(pdf)/2], "malformed_document"},
		{"PDF header then garbage", "garbage.pdf", "application/pdf", []byte("%PDF-1.7\n" + strings.Repeat("garbage ", 2000)), "malformed_document"},
		{"HTML declared as PDF", "notpdf.pdf", "application/pdf", []byte("<html><body>not a pdf</body></html>"), "malformed_document"},
		{"PDF without any text", "blank.pdf", "application/pdf", harness.PDF([][]string{nil, nil}), "empty_document"},
		{"HTML nested 100,000 deep", "deep.html", "text/html", []byte(strings.Repeat("<div>", 100000)), "malformed_document"},
		{"HTML nested formatting elements", "fmt.html", "text/html", []byte(strings.Repeat("<b><i>", 50000)), "malformed_document"},
		{"HTML with only script and style", "script.html", "text/html", []byte("<script>var secret = 1</script><style>b{}</style>"), "empty_document"},
		{"Markdown quotes nested 100,000 deep", "deep.md", "text/markdown", []byte(strings.Repeat(">", 100000) + " deep"), "malformed_document"},
		{"PNG image", "image.png", "image/png", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), "unsupported_media_type"},
		{"binary declared as octet-stream", "blob.bin", "application/octet-stream", []byte("\x00\x01\x02\x03binary"), "unsupported_media_type"},
		{"larger than TENANTRY_MAX_DOCUMENT_BYTES (4 MiB)", "big.txt", "text/plain", bytes.Repeat([]byte("word "), 1<<20), "document_too_large"},
		// Hostile but legitimate: processed, never a crash.
		{"invalid UTF-8 (decoded as Windows-1252)", "latin.txt", "text/plain", []byte("caf\xe9 cr\xe8me br\xfbl\xe9e \xff\xfe end"), ""},
		{"UTF-16 text with a byte order mark", "utf16.txt", "text/plain", []byte("\xff\xfeh\x00i\x00 \x00t\x00h\x00e\x00r\x00e\x00"), ""},
		{"64 KB without a single space or newline", "oneword.txt", "text/plain", bytes.Repeat([]byte("x"), 64<<10), ""},
		{"filename with unicode and spaces", "résumé final (2).md", "text/markdown", []byte("# Résumé\n\nFine."), ""},
	}
	var out []hostileCase
	for i, d := range list {
		id := fmt.Sprintf("doc-%02d", i)
		key := harness.Key(tenant, id, d.filename)
		want := outcome{reason: d.reason, failed: id}
		if d.reason == "" {
			want = outcome{ready: id}
		}
		out = append(out, hostileCase{group: "document", name: d.name, match: event.EncodeKey(key), want: want,
			send: func(ctx context.Context) error {
				if err := env.Put(ctx, key, d.ctype, d.body, env.Kit.Object(t, tenant, env.Bucket, key)); err != nil {
					return err
				}
				return env.Send(ctx, env.Notification("ObjectCreated:Put", key))
			}})
	}
	return out
}

const (
	docxHead = `<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>`
	docxTail = `</w:body></w:document>`
)

func para(s string) string { return "<w:p><w:r><w:t>" + s + "</w:t></w:r></w:p>" }

// zipOf builds a zip archive; raw entries are written as given (lying headers).
func zipOf(t *testing.T, files map[string]string, raw map[string][]byte) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		f, err := zw.Create(n)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(f, files[n]); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// zipBomb is a DOCX whose document.xml inflates to size bytes of text; with
// lie, its header claims 100 bytes.
func zipBomb(t *testing.T, size int, lie bool) []byte {
	t.Helper()
	var deflated bytes.Buffer
	fw, err := flate.NewWriter(&deflated, flate.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	crc := crc32.NewIEEE()
	w := io.MultiWriter(fw, crc)
	_, _ = io.WriteString(w, docxHead+"<w:p><w:r><w:t>")
	chunk := bytes.Repeat([]byte("A"), 1<<20)
	for n := 0; n < size; n += len(chunk) {
		_, _ = w.Write(chunk)
	}
	_, _ = io.WriteString(w, "</w:t></w:r></w:p>"+docxTail)
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
	real := uint64(size + len(docxHead) + len(docxTail) + 33)
	claimed := real
	if lie {
		claimed = 100
	}
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	f, err := zw.CreateRaw(&zip.FileHeader{Name: "word/document.xml", Method: zip.Deflate, CRC32: crc.Sum32(),
		CompressedSize64: uint64(deflated.Len()), UncompressedSize64: claimed})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(deflated.Bytes()); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
