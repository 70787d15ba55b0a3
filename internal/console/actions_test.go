package console_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/tenantry/tenantry/internal/audit"
	"github.com/tenantry/tenantry/internal/console"
	"github.com/tenantry/tenantry/internal/devissuer"
	"github.com/tenantry/tenantry/internal/event"
	"github.com/tenantry/tenantry/internal/tenantdb"
)

func post(t *testing.T, c *http.Client, u string, form url.Values) (int, string) {
	t.Helper()
	resp, err := c.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func chainOf(t *testing.T, e *env, tenant uuid.UUID) []audit.Event {
	t.Helper()
	var out []audit.Event
	if err := e.reader.ScanAudit(context.Background(), tenant, func(ev audit.Event) error { out = append(out, ev); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// operatorSession signs the operator in and returns the session's client
// and CSRF token.
func operatorSession(t *testing.T, e *env) (*http.Client, string) {
	t.Helper()
	op, _, _ := signIn(t, e, operator)
	return op, csrfRE.FindStringSubmatch(page(t, op, e.URL+"/"))[1]
}

// act posts an operator action (pause, resume, verify, reindex) on tenant
// with reason, and fails the test unless it succeeds.
func act(t *testing.T, e *env, op *http.Client, csrf string, tenant uuid.UUID, action, reason string) {
	t.Helper()
	if status, _ := post(t, op, e.URL+"/tenants/"+tenant.String()+"/"+action, url.Values{"csrf": {csrf}, "reason": {reason}}); status != http.StatusOK {
		t.Fatalf("%s: %d", action, status)
	}
}

// The operator's actions do what they say and are recorded in the
// affected tenant's chain with the operator's identity and reason: a real
// DLQ replay (internal/dlq: one audit row per message, in that message's
// tenant), a reindex (signed jobs the worker's gate accepts), verify now.
func TestOperatorActions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	op, csrf := operatorSession(t, e)
	actor := "console:" + operator + "@dev.tenantry.local"

	t.Run("replay", func(t *testing.T) {
		status, body := post(t, op, e.URL+"/dlq/replay", url.Values{"csrf": {csrf}, "reason": {"provider is back"},
			"tenant": {e.globex.String()}, "mode": {"replay"}})
		if status != http.StatusOK || strings.Count(body, ">replayed<") != 2 || strings.Contains(body, e.acme.String()) {
			t.Fatalf("replay: %d\n%s", status, body)
		}
		n := 0
		for _, ev := range chainOf(t, e, e.globex) {
			if ev.Actor == actor && strings.Contains(ev.Action, "replay") {
				n++
			}
		}
		if n != 2 {
			t.Fatalf("%d replay rows by %s in globex's chain, want 2", n, actor)
		}
		for _, ev := range chainOf(t, e, e.acme) {
			if strings.Contains(ev.Action, "replay") {
				t.Fatalf("acme's chain has a replay row: %+v", ev)
			}
		}
	})

	t.Run("reindex", func(t *testing.T) {
		status, _ := post(t, op, e.URL+"/tenants/"+e.acme.String()+"/reindex", url.Values{"csrf": {csrf}, "reason": {"new model"}})
		if status != http.StatusOK {
			t.Fatalf("reindex: %d", status)
		}
		// Every document of acme got a job the worker's gate accepts as acme's.
		seen := map[string]bool{}
		ctx := opCtx(t)
		for len(seen) < 4 && ctx.Err() == nil {
			out, err := e.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(e.jobsURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range out.Messages {
				evs, err := event.Decode([]byte(aws.ToString(m.Body)), nil)
				if err != nil || len(evs) != 1 {
					t.Fatalf("job does not decode: %v", err)
				}
				b, err := e.gate.Resolve(ctx, evs[0], aws.ToString(m.MessageId))
				if err != nil || b.Verified.Scope.TenantID() != e.acme || b.Verified.Claims.Subject != actor {
					t.Fatalf("job refused by the gate or not acme's: %v", err)
				}
				seen[evs[0].Job.DocumentID] = true
			}
		}
		if len(seen) != 4 {
			t.Fatalf("reindex jobs for %v, want acme's 4 documents", seen)
		}
		last := chainOf(t, e, e.acme)
		if ev := last[len(last)-1]; ev.Action != "console.reindex" || ev.Actor != actor || !strings.Contains(ev.Detail, "new model") {
			t.Fatalf("last acme event %+v", ev)
		}
	})

	t.Run("verify", func(t *testing.T) {
		status, _ := post(t, op, e.URL+"/tenants/"+e.globex.String()+"/verify", url.Values{"csrf": {csrf}, "reason": {"audit request"}})
		last := chainOf(t, e, e.globex)
		if ev := last[len(last)-1]; status != http.StatusOK || ev.Action != "console.verify_chain" || ev.Actor != actor {
			t.Fatalf("verify: %d, last event %+v", status, ev)
		}
		if overview := page(t, op, e.URL+"/"); !strings.Contains(overview, "ok · ") {
			t.Fatal("the overview does not show the verification")
		}
	})

	t.Run("sign out", func(t *testing.T) {
		if status, _ := post(t, op, e.URL+"/logout", url.Values{"csrf": {csrf}}); status != http.StatusOK {
			t.Fatalf("logout: %d", status)
		}
		if status, body := post(t, op, e.URL+"/tenants/"+e.acme.String()+"/pause", url.Values{"csrf": {csrf}, "reason": {"after logout"}}); status != http.StatusForbidden || refusedCode(body) != "signed_out" {
			t.Fatalf("a signed-out session acted: %d", status)
		}
	})
}

// restarted starts a second console process on e's database (a restart:
// nothing of the first console's memory) and returns e pointing at it.
func restarted(t *testing.T, e *env) *env {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e2 := *e
	e2.URL = "http://" + ln.Addr().String()
	e.issuer.AddClient(devissuer.Client{ID: "console-2", RedirectURIs: []string{e2.URL + "/callback"}})
	srv, err := console.New(opCtx(t), console.Config{
		BaseURL: e2.URL, InsecureCookies: true,
		OIDC: console.OIDCConfig{Issuer: e.issuer.URL, ClientID: "console-2"},
	}, console.Deps{Reader: e.reader}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(srv.Handler())
	_ = hs.Listener.Close()
	hs.Listener = ln
	hs.Start()
	t.Cleanup(hs.Close)
	return &e2
}

// The last chain verification is read back from the tenant's chain: a
// console started after "verify now" shows who verified, when and the
// result; a tenant never verified says so.
func TestLastVerificationSurvivesRestart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	op, csrf := operatorSession(t, e)
	act(t, e, op, csrf, e.globex, "verify", "before the restart")

	e2 := restarted(t, e)
	op2, _, _ := signIn(t, e2, operator)
	actor := "console:" + operator + "@dev.tenantry.local"
	globex := page(t, op2, e2.URL+"/tenants/"+e.globex.String())
	if !strings.Contains(globex, `id="last-verify">last verified by `+actor) || !strings.Contains(globex, "(recorded in the chain)") {
		t.Fatalf("the restarted console does not show globex's verification:\n%s", globex)
	}
	if acme := page(t, op2, e2.URL+"/tenants/"+e.acme.String()); strings.Contains(acme, `id="last-verify"`) {
		t.Fatal("acme was never verified, yet the restarted console shows a verification")
	}
	overview := page(t, op2, e2.URL+"/")
	if strings.Count(overview, "ok · ") != 1 || strings.Count(overview, "never verified") != 1 {
		t.Fatalf("overview after the restart: one tenant verified, one never:\n%s", overview)
	}
	// `tenantry audit verify --record-as ana` on acme shows there too.
	w, err := tenantdb.OpenAuditReader(opCtx(t), e.db.OwnerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.RecordVerification(opCtx(t), e.acme, "cli:ana", true, 9, ""); err != nil {
		t.Fatal(err)
	}
	if acme := page(t, op2, e2.URL+"/tenants/"+e.acme.String()); !strings.Contains(acme, `id="last-verify">last verified by cli:ana`) {
		t.Fatalf("acme's recorded CLI verification is not shown:\n%s", acme)
	}
	// The console's read-only reader cannot record one (it only reads).
	if err := e.reader.RecordVerification(opCtx(t), e.acme, "console:eve", true, 1, ""); err == nil {
		t.Fatal("the console's read-only reader wrote an audit event")
	}
}
