package console_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/tenantry/tenantry/internal/audit"
	"github.com/tenantry/tenantry/internal/console"
	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/internal/tenantdb/tenantdbtest"
)

// signIn runs the browser's sign-in with an HTTP client: /login → the dev
// issuer's picker → user → /callback. It returns the client (with its
// cookies) and the callback's answer.
func signIn(t *testing.T, e *env, user string) (*http.Client, int, string) {
	return signInTB(t, e, user)
}

func signInTB(t testing.TB, e *env, user string) (*http.Client, int, string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err := c.Get(e.URL + "/login")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/authorize" {
		t.Fatalf("login: %d at %s", resp.StatusCode, resp.Request.URL)
	}
	form := resp.Request.URL.Query()
	form.Set("user", user)
	resp, err = c.PostForm(e.issuer.URL+"/authorize", form)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	return c, resp.StatusCode, string(body)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func page(t *testing.T, c *http.Client, u string) string {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", u, resp.StatusCode)
	}
	return string(b)
}

func refusedCode(body string) string {
	m := regexp.MustCompile(`data-code="([^"]+)"`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return m[1]
}

// Sign-in from the attacker's side: only a fresh token of the configured
// issuer, for this client, answering this browser's sign-in, with a console
// group, opens a session.
func TestSignIn(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, tc := range []struct {
		user   string
		status int
		code   string
		role   string
	}{
		{operator, http.StatusOK, "", console.RoleOperator},
		{viewer, http.StatusOK, "", console.RoleViewer},
		{nobody, http.StatusUnauthorized, console.RefusedNoRole, ""},
		{late, http.StatusUnauthorized, console.RefusedExpired, ""},
		{foreign, http.StatusUnauthorized, console.RefusedIssuer, ""},
	} {
		t.Run(tc.user, func(t *testing.T) {
			c, status, body := signIn(t, e, tc.user)
			if status != tc.status || refusedCode(body) != tc.code {
				t.Fatalf("status %d code %q, want %d %q", status, refusedCode(body), tc.status, tc.code)
			}
			if tc.role == "" {
				resp, err := (&http.Client{Jar: c.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Get(e.URL + "/")
				if err != nil {
					t.Fatal(err)
				}
				_ = resp.Body.Close()
				if resp.StatusCode != http.StatusFound || !strings.HasSuffix(resp.Header.Get("Location"), "/login") {
					t.Fatalf("a refused sign-in reached the console: %d", resp.StatusCode)
				}
				return
			}
			if got := page(t, c, e.URL+"/"); !strings.Contains(got, `<span id="role">`+tc.role+`</span>`) {
				t.Fatalf("overview does not show role %s", tc.role)
			}
		})
	}
	t.Run("callback from another browser", func(t *testing.T) {
		// The attacker starts a sign-in and sends the victim the callback
		// URL: the victim's browser has no login cookie for that state.
		jar, _ := cookiejar.New(nil)
		attacker := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := attacker.Get(e.URL + "/login")
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		auth, _ := url.Parse(resp.Header.Get("Location"))
		form := auth.Query()
		form.Set("user", operator)
		resp, err = attacker.PostForm(e.issuer.URL+"/authorize", form)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		victim := &http.Client{}
		resp, err = victim.Get(resp.Header.Get("Location"))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || refusedCode(string(b)) != console.RefusedState {
			t.Fatalf("login CSRF accepted: %d %q", resp.StatusCode, refusedCode(string(b)))
		}
	})
}

// Actions from the attacker's side: without a session, without or with a
// wrong CSRF token, from another origin, as a viewer, or without a reason,
// nothing is done and nothing is recorded.
func TestActionsRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	op, _, _ := signIn(t, e, operator)
	opCSRF := csrfRE.FindStringSubmatch(page(t, op, e.URL+"/"))[1]
	vw, _, _ := signIn(t, e, viewer)
	vwCSRF := csrfRE.FindStringSubmatch(page(t, vw, e.URL+"/"))[1]
	pause := e.URL + "/tenants/" + e.acme.String() + "/pause"
	for _, tc := range []struct {
		name   string
		client *http.Client
		form   url.Values
		origin string
		status int
		code   string
	}{
		{"no session", &http.Client{}, url.Values{"csrf": {opCSRF}, "reason": {"maintenance"}}, "", http.StatusForbidden, "signed_out"},
		{"no csrf token", op, url.Values{"reason": {"maintenance"}}, "", http.StatusForbidden, "csrf"},
		{"wrong csrf token", op, url.Values{"csrf": {vwCSRF}, "reason": {"maintenance"}}, "", http.StatusForbidden, "csrf"},
		{"other origin", op, url.Values{"csrf": {opCSRF}, "reason": {"maintenance"}}, "https://evil.example.com", http.StatusForbidden, "csrf"},
		{"viewer", vw, url.Values{"csrf": {vwCSRF}, "reason": {"maintenance"}}, "", http.StatusForbidden, "not_operator"},
		{"no reason", op, url.Values{"csrf": {opCSRF}}, "", http.StatusBadRequest, "Bad Request"},
		{"reason with a newline", op, url.Values{"csrf": {opCSRF}, "reason": {"a\nb c"}}, "", http.StatusBadRequest, "Bad Request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, pause, strings.NewReader(tc.form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			resp, err := tc.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != tc.status || refusedCode(string(b)) != tc.code {
				t.Fatalf("got %d %q, want %d %q", resp.StatusCode, refusedCode(string(b)), tc.status, tc.code)
			}
		})
	}
	if calls := e.control.Calls(); len(calls) != 0 {
		t.Fatalf("refused requests reached the breaker: %v", calls)
	}
	if n := countActions(t, e, "breaker.pause"); n != 0 {
		t.Fatalf("refused requests wrote %d audit rows", n)
	}
	// The control: the same request with the token and a reason works.
	resp, err := op.PostForm(pause, url.Values{"csrf": {opCSRF}, "reason": {"maintenance window"}})
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || countActions(t, e, "breaker.pause") != 1 {
		t.Fatalf("a valid pause was not done and recorded: %d", resp.StatusCode)
	}
}

// countActions counts acme's audit events of action and checks the chain.
func countActions(t *testing.T, e *env, action string) int {
	t.Helper()
	n := 0
	err := e.reader.ScanAudit(context.Background(), e.acme, func(ev audit.Event) error {
		if ev.Action == action {
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	reps, err := audit.VerifyAll(context.Background(), e.reader, nil)
	if err != nil || audit.Broken(reps) {
		t.Fatalf("chains: %v %+v", err, reps)
	}
	return n
}

func TestConfigRefused(t *testing.T) {
	t.Parallel()
	oidc := console.OIDCConfig{Issuer: "http://127.0.0.1:1", ClientID: "c"}
	for _, tc := range []struct {
		name string
		cfg  console.Config
	}{
		{"insecure cookies off loopback", console.Config{BaseURL: "http://console.example.com", InsecureCookies: true, OIDC: oidc}},
		{"insecure cookies on https", console.Config{BaseURL: "https://127.0.0.1:8090", InsecureCookies: true, OIDC: oidc}},
		{"plain http without the flag", console.Config{BaseURL: "http://127.0.0.1:8090", OIDC: oidc}},
		{"no issuer", console.Config{BaseURL: "https://console.example.com"}},
		{"relative URL", console.Config{BaseURL: "/console", OIDC: oidc}},
		{"group in both roles", console.Config{BaseURL: "https://c.example.com", OIDC: console.OIDCConfig{Issuer: "https://i", ClientID: "c",
			OperatorGroups: []string{"ops"}, ViewerGroups: []string{"ops"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := console.New(context.Background(), tc.cfg, console.Deps{Reader: nil}, nil)
			if err == nil || !strings.Contains(err.Error(), "invalid config") {
				t.Fatalf("accepted: %v", err)
			}
		})
	}
}

// The console never shows document text: a chunk's text and a document's
// name in S3 are in the database, and no page a signed-in operator can
// open carries either.
func TestNoDocumentText(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const secret = "CONFIDENTIAL-MERGER-TERMS-7731"
	gw := e.db.Open(t)
	vec := "[" + strings.TrimSuffix(strings.Repeat("0.1,", tenantdbtest.Dims), ",") + "]"
	err := gw.WithTenant(context.Background(), tenantdbtest.Scope(t, e.acme), func(ctx context.Context, tx tenantdb.Tx) error {
		n, err := tx.Exec(ctx, `INSERT INTO chunks (tenant_id, document_id, version, ordinal, text, token_count, char_start, char_end, embedding, model, content_hash)
			SELECT tenant_id, document_id, version, 0, $2, 5, 0, 30, $3::vector, 'm', 'h' FROM documents WHERE document_id = $1`, "contract-1", secret, vec)
		if err == nil && n != 1 {
			err = fmt.Errorf("inserted %d chunks", n)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	op, _, _ := signIn(t, e, operator)
	for _, path := range []string{"/", "/tenants/" + e.acme.String(), "/dlq", "/tenants/" + e.acme.String() + "/documents/contract-1/executions"} {
		if body := page(t, op, e.URL+path); strings.Contains(body, secret) || strings.Contains(body, "not.shown.anywhere") {
			t.Errorf("%s shows document text or an execution's envelope", path)
		}
	}
}

// Cookies: HttpOnly always; the session SameSite=Strict; Secure with the
// __Host- prefix unless the console runs on plain-HTTP loopback.
func TestCookies(t *testing.T) {
	t.Parallel()
	iss, _ := startIssuer(t)
	srv, err := console.New(context.Background(), console.Config{BaseURL: "https://console.example.com",
		OIDC: console.OIDCConfig{Issuer: iss.URL, ClientID: "console"}}, console.Deps{Reader: emptyReader{}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/login", nil))
	c := rec.Result().Cookies()
	if len(c) != 1 || c[0].Name != "__Host-tenantry_console_login" || !c[0].Secure || !c[0].HttpOnly || c[0].Path != "/" || c[0].SameSite != http.SameSiteLaxMode {
		t.Fatalf("login cookie %+v", c)
	}
	loc, _ := url.Parse(rec.Header().Get("Location"))
	q := loc.Query()
	if q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43 || q.Get("nonce") == "" || q.Get("state") != c[0].Value ||
		q.Get("redirect_uri") != "https://console.example.com/callback" {
		t.Fatalf("authorization request %s", loc)
	}

	e := newEnv(t)
	jar, _ := cookiejar.New(nil)
	noFollow := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	r1, _ := noFollow.Get(e.URL + "/login")
	_ = r1.Body.Close()
	form := mustURL(t, r1.Header.Get("Location")).Query()
	form.Set("user", operator)
	r2, _ := noFollow.PostForm(e.issuer.URL+"/authorize", form)
	_ = r2.Body.Close()
	r3, _ := noFollow.Get(r2.Header.Get("Location"))
	_ = r3.Body.Close()
	var session *http.Cookie
	for _, ck := range r3.Cookies() {
		if ck.Name == "tenantry_console" {
			session = ck
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode || session.MaxAge <= 0 || session.MaxAge > 301 {
		t.Fatalf("session cookie %+v (max age must follow the 5-minute ID token)", session)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
