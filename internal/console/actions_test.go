package console_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/audit"
	"github.com/tenantry/tenantry/internal/event"
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

// The operator's actions do what they say and are recorded in the
// affected tenant's chain with the operator's identity and reason: a real
// DLQ replay (internal/dlq: one audit row per message, in that message's
// tenant), a reindex (signed jobs the worker's gate accepts), verify now.
func TestOperatorActions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	op, _, _ := signIn(t, e, operator)
	csrf := csrfRE.FindStringSubmatch(page(t, op, e.URL+"/"))[1]
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
