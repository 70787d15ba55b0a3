package console_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"
)

// artifacts is where the browser tests save screenshots (git-ignored).
var artifacts = filepath.Join("..", "..", "test-artifacts", "console")

// browser starts one headless Debian chromium for a test, or skips when it
// is genuinely absent outside CI (in CI it must run).
func browser(t *testing.T) context.Context {
	t.Helper()
	path := os.Getenv("TENANTRY_CHROMIUM")
	if path == "" {
		for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
			if p, err := exec.LookPath(name); err == nil {
				path = p
				break
			}
		}
	}
	if path == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium is not installed (deploy/local/install-browser.sh installs it): the browser tests must run in CI")
		}
		t.Skip("chromium not installed: install it with deploy/local/install-browser.sh (make test does)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.Headless, chromedp.DisableGPU, chromedp.WindowSize(1280, 860))
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	bctx, cancelB := chromedp.NewContext(actx)
	t.Cleanup(cancelB)
	if err := chromedp.Do(bctx); err != nil { // start the browser
		t.Fatalf("start chromium: %v", err)
	}
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	return bctx
}

// tab opens a tab in a fresh browser context (its own cookies).
func tab(t *testing.T, bctx context.Context) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(bctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	ctx, cancelT := context.WithTimeout(ctx, 30*time.Second)
	t.Cleanup(cancelT)
	return ctx
}

type step = chromedp.Action[chromedp.Void]

func run(t *testing.T, ctx context.Context, steps ...step) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

func get[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func screenshot(name string) step {
	return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		png, err := chromedp.FullScreenshot(100)(ctx, tg) // 100: PNG (anything else is JPEG)
		if err != nil {
			return chromedp.Void{}, err
		}
		return chromedp.Void{}, os.WriteFile(filepath.Join(artifacts, name+".png"), png, 0o644)
	}
}

// js runs a script for its effect.
func js(expr string) step {
	return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := chromedp.Evaluate[any](expr)(ctx, tg)
		return chromedp.Void{}, err
	}
}

func attr(t *testing.T, ctx context.Context, id, name string) string {
	t.Helper()
	return get(t, ctx, chromedp.AttributeValue(chromedp.ID(id), name)).Value
}

// login signs user in through the dev issuer's page, as a person would.
func login(t *testing.T, ctx context.Context, e *env, user string) {
	t.Helper()
	run(t, ctx, chromedp.Navigate(e.URL+"/login"), chromedp.WaitVisible(chromedp.ID("user-"+user)), chromedp.Click(chromedp.ID("user-"+user)))
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	run(t, ctx, chromedp.WaitReady(chromedp.CSS(sel)))
	return get(t, ctx, chromedp.Text(chromedp.CSS(sel)))
}

// submit fills the reason of a form and submits it.
func submit(form, reason string) step {
	return chromedp.Steps(
		chromedp.SetValue(chromedp.CSS(form+` input[name="reason"]`), reason),
		chromedp.Submit(chromedp.CSS(form+` input[name="reason"]`)),
	)
}

// TestBrowser drives the console in a real headless chromium against the
// local stack: every view renders with real data, an operator pauses and
// resumes a tenant and the chain shows both, a dry run lists the right
// dead letters, and the refusals (viewer, no CSRF token, expired or
// foreign-issuer token) hold in a browser too.
func TestBrowser(t *testing.T) {
	e := newEnv(t) // skips without the local stack
	bctx := browser(t)

	t.Run("operator views and actions", func(t *testing.T) {
		ctx := tab(t, bctx)
		login(t, ctx, e, operator)
		run(t, ctx, chromedp.WaitVisible(chromedp.ID("tenants")))
		overview := text(t, ctx, "#tenants")
		for _, want := range []string{e.acme.String(), e.globex.String(), "extract_failed: 1", "embed_unavailable: 2", "max_receives: 2", "handler_failed: 1", "closed"} {
			if !strings.Contains(overview, want) {
				t.Errorf("overview lacks %q:\n%s", want, overview)
			}
		}
		for _, tc := range []struct {
			tenant uuid.UUID
			want   string
		}{{e.acme, "7 requests · 1234 tokens · 2 throttled (429)"}, {e.globex, "0 requests · 0 tokens · 0 throttled (429)"}} {
			if got := text(t, ctx, `tr[data-tenant="`+tc.tenant.String()+`"] td.usage`); got != tc.want {
				t.Errorf("provider usage of %s: %q, want %q", tc.tenant, got, tc.want)
			}
		}
		run(t, ctx, screenshot("overview"))

		run(t, ctx, chromedp.Navigate(e.URL+"/tenants/"+e.acme.String()), chromedp.WaitVisible(chromedp.ID("documents")))
		docs := text(t, ctx, "#documents")
		for _, want := range []string{"contract-1", "scan-3", "extract_failed", "processing"} {
			if !strings.Contains(docs, want) {
				t.Errorf("documents lack %q", want)
			}
		}
		if got := text(t, ctx, "#tenant-dlq"); !strings.Contains(got, "handler_failed") || strings.Contains(got, "max_receives") {
			t.Errorf("acme's dead letters: %q", got)
		}
		if got := text(t, ctx, "#timeline"); !strings.Contains(got, "app.noted") || !strings.Contains(got, "document.ingested") {
			t.Errorf("timeline lacks the seeded events (an unknown kind included): %q", got)
		}
		// The real support read (grant, read, revoke) reads as such, set apart.
		if got := get(t, ctx, chromedp.Nodes(chromedp.CSSAll("#timeline li.support"), chromedp.AtLeast(0))); len(got) != 3 {
			t.Errorf("%d support events set apart in the timeline, want 3 (granted, read, revoked)", len(got))
		}
		for _, want := range []struct{ sel, text string }{
			{`#timeline li.support[data-action="support.granted"]`, "support access GRANTED to sam by"},
			{`#timeline li.support[data-action="support.read"]`, "support READ by sam: documents (4 rows), reason: ticket 42"},
			{`#timeline li.support[data-action="support.read"] .actor`, "support:sam"},
			{`#timeline li.support[data-action="support.revoked"]`, "support access of sam REVOKED by"},
		} {
			if got := text(t, ctx, want.sel); !strings.Contains(got, want.text) {
				t.Errorf("%s: %q lacks %q", want.sel, got, want.text)
			}
		}
		run(t, ctx, screenshot("tenant"))

		// Pause, then resume: both in the chain, which still verifies.
		run(t, ctx, submit("#form-pause", "provider incident INC-7"), chromedp.WaitVisible(chromedp.ID("flash")))
		if got := text(t, ctx, "#breaker"); !strings.Contains(got, "paused") {
			t.Errorf("breaker after pause: %q", got)
		}
		run(t, ctx, submit("#form-resume", "incident over"), chromedp.WaitVisible(chromedp.ID("flash")))
		run(t, ctx, submit("#form-verify", "weekly check"), chromedp.WaitVisible(chromedp.ID("flash")))
		if got := text(t, ctx, "#flash"); got != "chain verified: ok" {
			t.Errorf("verify: %q", got)
		}
		timeline := text(t, ctx, "#timeline")
		for _, want := range []string{"breaker.pause", "breaker.resume", "console.verify_chain", "console:" + operator + "@dev.tenantry.local", "provider incident INC-7", "incident over"} {
			if !strings.Contains(timeline, want) {
				t.Errorf("timeline lacks %q:\n%s", want, timeline)
			}
		}
		if got := text(t, ctx, "#chain-status"); !strings.Contains(got, "verifies") {
			t.Errorf("chain status: %q", got)
		}
		run(t, ctx, screenshot("tenant-after-actions"))
		if n := countActions(t, e, "breaker.pause") + countActions(t, e, "breaker.resume"); n != 2 {
			t.Errorf("%d pause/resume rows in the chain, want 2", n)
		}

		// A document's Step Functions executions: acme's only.
		run(t, ctx, chromedp.Navigate(e.URL+"/tenants/"+e.acme.String()), chromedp.Click(chromedp.CSS(`a.sfn[href$="/contract-1/executions"]`)),
			chromedp.WaitVisible(chromedp.ID("executions")))
		if got := text(t, ctx, "#executions"); strings.Count(got, e.acme.String()) != 2 || strings.Contains(got, e.globex.String()) || strings.Contains(got, "not.shown") {
			t.Errorf("executions of acme's contract-1:\n%s", got)
		}
		run(t, ctx, screenshot("executions"))

		// A dry run of globex's dead letters lists exactly those two.
		run(t, ctx, chromedp.Navigate(e.URL+"/dlq"), chromedp.WaitVisible(chromedp.ID("dlq-groups")))
		if got := text(t, ctx, "#dlq-groups"); !strings.Contains(got, "embed") || !strings.Contains(got, "extract") {
			t.Errorf("groups by stage: %q", got)
		}
		run(t, ctx, screenshot("dlq"),
			chromedp.SetValue(chromedp.CSS(`#form-replay input[name="tenant"]`), e.globex.String()),
			chromedp.SetValue(chromedp.CSS(`#form-replay input[name="reason"]`), "embedding provider back"),
			chromedp.Click(chromedp.ID("dry-run")), chromedp.WaitVisible(chromedp.ID("replay-results")))
		rows := get(t, ctx, chromedp.Nodes(chromedp.CSSAll("#replay-results tr.result"), chromedp.AtLeast(0)))
		res := text(t, ctx, "#replay-results")
		if len(rows) != 2 || strings.Count(res, e.globex.String()) != 2 || strings.Count(res, "would_replay") != 2 || strings.Contains(res, e.acme.String()) {
			t.Errorf("dry run lists %d rows:\n%s", len(rows), res)
		}
		run(t, ctx, screenshot("dry-run"))
	})

	t.Run("no csrf token", func(t *testing.T) {
		ctx := tab(t, bctx)
		login(t, ctx, e, operator)
		before := len(e.control.Calls())
		run(t, ctx, chromedp.WaitVisible(chromedp.ID("tenants")),
			chromedp.Navigate(e.URL+"/tenants/"+e.globex.String()), chromedp.WaitVisible(chromedp.ID("form-pause")),
			js(`document.querySelector('#form-pause input[name="csrf"]').remove()`),
			submit("#form-pause", "forged"), chromedp.WaitVisible(chromedp.ID("refused")))
		code := attr(t, ctx, "refused", "data-code")
		if code != "csrf" || len(e.control.Calls()) != before {
			t.Errorf("a pause without the CSRF token: %q, calls %v", code, e.control.Calls())
		}
	})

	t.Run("viewer cannot act", func(t *testing.T) {
		ctx := tab(t, bctx)
		login(t, ctx, e, viewer)
		before := len(e.control.Calls())
		run(t, ctx, chromedp.WaitVisible(chromedp.ID("tenants")),
			chromedp.Navigate(e.URL+"/tenants/"+e.globex.String()), chromedp.WaitVisible(chromedp.ID("timeline")))
		actions := get(t, ctx, chromedp.Nodes(chromedp.CSSAll("#actions"), chromedp.AtLeast(0)))
		if len(actions) != 0 {
			t.Error("a viewer sees the action forms")
		}
		run(t, ctx, screenshot("viewer"))
		// Forge the form with the viewer's own valid CSRF token.
		run(t, ctx, js(`(() => {
			const f = document.createElement('form'); f.method = 'post'; f.action = location.pathname + '/pause'; f.id = 'forged';
			for (const [k, v] of [['csrf', document.querySelector('input[name="csrf"]').value], ['reason', 'viewer tries']]) {
				const i = document.createElement('input'); i.name = k; i.value = v; f.appendChild(i); }
			document.body.appendChild(f); f.submit(); })()`), chromedp.WaitVisible(chromedp.ID("refused")))
		code := attr(t, ctx, "refused", "data-code")
		if code != "not_operator" || len(e.control.Calls()) != before {
			t.Errorf("a viewer's pause: %q, calls %v", code, e.control.Calls())
		}
	})

	for _, tc := range []struct{ user, code string }{{late, "expired"}, {foreign, "foreign_issuer"}} {
		t.Run("refused "+tc.code, func(t *testing.T) {
			ctx := tab(t, bctx)
			login(t, ctx, e, tc.user)
			run(t, ctx, chromedp.WaitVisible(chromedp.ID("refused")))
			code := attr(t, ctx, "refused", "data-code")
			if code != tc.code {
				t.Errorf("sign-in of %s: %q, want %q", tc.user, code, tc.code)
			}
			run(t, ctx, chromedp.Navigate(e.URL+"/"), chromedp.WaitVisible(chromedp.ID("user-"+operator))) // back at the issuer: no session
		})
	}
}
