package searchapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/binding"
	"github.com/tenantry/tenantry/internal/devissuer"
	"github.com/tenantry/tenantry/internal/embed/offline"
	"github.com/tenantry/tenantry/internal/envelope"
	"github.com/tenantry/tenantry/internal/envelope/envelopetest"
	"github.com/tenantry/tenantry/internal/retrieval"
	"github.com/tenantry/tenantry/internal/retrieval/retrievaltest"
	"github.com/tenantry/tenantry/internal/searchapi"
	"github.com/tenantry/tenantry/internal/tenantdb/tenantdbtest"
)

func startIssuer(t *testing.T) *devissuer.Issuer {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	srv.Start()
	t.Cleanup(srv.Close)
	iss, err := devissuer.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = iss.Handler()
	return iss
}

// TestSearchAPIFromTheAttackersSide: two tenants' documents in one database;
// every way to name the other tenant, or no tenant, is refused or sees
// nothing of it.
func TestSearchAPIFromTheAttackersSide(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := tenantdbtest.NewDatabase(t)
	ds := retrievaltest.Load(t, db, retrievaltest.Spec{Rows: []int{40, 40}, Kind: retrievaltest.Text, Seed: 3, Queries: 1})
	a, b := ds.Tenants[0], ds.Tenants[1]
	gw := db.Open(t)
	searcher, err := retrieval.New(gw, retrieval.Config{Dims: tenantdbtest.Dims})
	if err != nil {
		t.Fatal(err)
	}
	emb, err := offline.New(offline.Config{})
	if err != nil {
		t.Fatal(err)
	}
	kit := envelopetest.New(t)
	good, foreign := startIssuer(t), startIssuer(t)
	impostor, err := devissuer.New(good.URL)
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := binding.NewOIDC(ctx, binding.OIDCConfig{Issuer: good.URL, Audience: "app"})
	if err != nil {
		t.Fatal(err)
	}
	h, err := searchapi.New(searchapi.Config{
		Gate:     &binding.Search{Envelopes: kit.Verifier(t), Tokens: tokens},
		Searcher: searcher, Embedder: emb, Security: gw, Ready: gw.Ping,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	tok := func(i *devissuer.Issuer, tn devissuer.Token) string {
		if tn.Subject == "" {
			tn.Subject = "user-1"
		}
		if tn.TokenUse == "" {
			tn.TokenUse = "id"
		}
		s, err := i.Sign(tn)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	envA := kit.Sign(t, kit.Claims(a.ID, envelope.ActionSearch, envelope.DocumentResource("*")))
	ingestA := kit.Sign(t, kit.Claims(a.ID, envelope.ActionIngest, envelope.ObjectResource("b", a.ID.String()+"/d/f")))
	forgedEnv := kit.SignWith(t, kit.Stranger, kit.Claims(b.ID, envelope.ActionSearch, envelope.DocumentResource("*")))
	tokB := tok(good, devissuer.Token{Audience: "app", Tenant: b.ID.String()})
	query := `{"query": "` + a.QueryTexts[0] + `", "k": 10}`

	type want struct {
		status int
		reason string
		tenant uuid.UUID // all hits of this tenant (200)
		hits   int       // -1: any
	}
	for _, tc := range []struct {
		name     string
		envelope string
		bearer   string
		auth     string // raw Authorization header, overrides bearer
		body     string
		want     want
	}{
		{"envelope of A", envA, "", "", query, want{200, "", a.ID, 10}},
		{"token of B", "", tokB, "", query, want{200, "", b.ID, 10}},
		{"cognito access token of B", "", tok(good, devissuer.Token{ClientID: "app", TokenUse: "access", Tenant: b.ID.String()}), "", query, want{200, "", b.ID, 10}},
		{"hybrid with B's token", "", tokB, "", `{"query": "ledger invoice", "k": 5, "mode": "hybrid"}`, want{200, "", b.ID, 5}},
		{"no credentials", "", "", "", query, want{401, binding.ReasonMissingCredentials, uuid.Nil, 0}},
		{"both credentials", envA, tokB, "", query, want{401, binding.ReasonAmbiguousCredentials, uuid.Nil, 0}},
		{"basic auth", "", "", "Basic dXNlcjpwYXNz", query, want{401, "malformed", uuid.Nil, 0}},
		{"forged envelope for B", forgedEnv, "", "", query, want{401, "unknown_key", uuid.Nil, 0}},
		{"ingest envelope used to search", ingestA, "", "", query, want{403, "wrong_action", uuid.Nil, 0}},
		{"forged token for B", "", tok(impostor, devissuer.Token{Audience: "app", Tenant: b.ID.String()}), "", query, want{401, "bad_signature", uuid.Nil, 0}},
		{"expired token", "", tok(good, devissuer.Token{Audience: "app", Tenant: b.ID.String(), ExpiresIn: -time.Minute}), "", query, want{401, "expired", uuid.Nil, 0}},
		{"foreign issuer", "", tok(foreign, devissuer.Token{Audience: "app", Tenant: b.ID.String()}), "", query, want{401, binding.ReasonForeignIssuer, uuid.Nil, 0}},
		{"other client's token", "", tok(good, devissuer.Token{Audience: "other", Tenant: b.ID.String()}), "", query, want{401, "wrong_audience", uuid.Nil, 0}},
		{"token without tenant", "", tok(good, devissuer.Token{Audience: "app"}), "", query, want{403, binding.ReasonNoTenant, uuid.Nil, 0}},
		{"tenant in the body", "", tokB, "", `{"query": "x", "tenant_id": "` + a.ID.String() + `"}`, want{400, "bad_request", uuid.Nil, 0}},
		{"filter naming the other tenant's attribute", "", tokB, "", `{"query": "x", "k": 10, "filter": {"equals": {"key": "tenant_index", "value": 0}}}`, want{200, "", b.ID, 0}},
		{"filter injection in key", "", tokB, "", `{"query": "x", "k": 10, "filter": {"equals": {"key": "x') OR true OR ('", "value": 1}}}`, want{200, "", b.ID, 0}},
		{"filter injection in value", "", tokB, "", `{"query": "x", "k": 10, "filter": {"startsWith": {"key": "team", "value": "' OR 1=1 --"}}}`, want{200, "", b.ID, 0}},
		{"notEquals reaches only own rows", "", tokB, "", `{"query": "x", "k": 50, "filter": {"notEquals": {"key": "tenant_index", "value": 1}}}`, want{200, "", b.ID, 0}},
		{"malformed filter", "", tokB, "", `{"query": "x", "filter": {"like": {"key": "a", "value": "%"}}}`, want{400, "bad_filter", uuid.Nil, 0}},
		{"k out of range", "", tokB, "", `{"query": "x", "k": 100000}`, want{400, "bad_request", uuid.Nil, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/search", strings.NewReader(tc.body))
			if tc.envelope != "" {
				req.Header.Set(searchapi.EnvelopeHeader, tc.envelope)
			}
			if tc.bearer != "" {
				req.Header.Set("Authorization", "Bearer "+tc.bearer)
			}
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var buf bytes.Buffer
			_, _ = buf.ReadFrom(resp.Body)
			if resp.StatusCode != tc.want.status {
				t.Fatalf("status %d (%s), want %d", resp.StatusCode, buf.String(), tc.want.status)
			}
			if tc.want.status != 200 {
				var e searchapi.ErrorBody
				if err := json.Unmarshal(buf.Bytes(), &e); err != nil || e.Reason != tc.want.reason {
					t.Fatalf("body %s, want reason %q", buf.String(), tc.want.reason)
				}
				if strings.Contains(buf.String(), "eyJ") {
					t.Fatal("response echoes a token")
				}
				return
			}
			var r searchapi.Response
			if err := json.Unmarshal(buf.Bytes(), &r); err != nil {
				t.Fatal(err)
			}
			if tc.want.hits > 0 && len(r.Hits) != tc.want.hits {
				t.Errorf("%d hits, want %d", len(r.Hits), tc.want.hits)
			}
			for _, hit := range r.Hits {
				if !strings.Contains(hit.SourceURI, tc.want.tenant.String()) {
					t.Fatalf("hit %s is not of tenant %s", hit.SourceURI, tc.want.tenant)
				}
			}
		})
	}

	t.Run("healthz", func(t *testing.T) {
		t.Parallel()
		resp, err := http.Get(srv.URL + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("healthz %d", resp.StatusCode)
		}
	})
}

// Refusals are recorded as security events: one per client address and
// reason per window, the rest summarised once the window has ended.
func TestRefusalsAreSecurityEvents(t *testing.T) {
	t.Parallel()
	db := tenantdbtest.NewDatabase(t)
	gw := db.Open(t)
	searcher, _ := retrieval.New(gw, retrieval.Config{})
	emb, _ := offline.New(offline.Config{})
	now := time.Date(2026, 12, 7, 5, 0, 0, 0, time.UTC)
	h, err := searchapi.New(searchapi.Config{Gate: &binding.Search{}, Searcher: searcher, Embedder: emb, Security: gw,
		Refusals: searchapi.RefusalLimit{Now: func() time.Time { return now }}})
	if err != nil {
		t.Fatal(err)
	}
	refuse := func(addr string) {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/v1/search", strings.NewReader(`{"query":"x"}`))
		req.RemoteAddr = addr
		req.Header.Set("Authorization", "Bearer abc.def.ghi")
		h.ServeHTTP(rec, req)
		if rec.Code != 401 {
			t.Fatalf("status %d", rec.Code)
		}
	}
	c := tenantdbtest.Conn(t, db.AdminURL)
	count := func(want int, detail string) {
		t.Helper()
		var n int
		if err := c.QueryRow(context.Background(), `SELECT count(*) FROM security_events WHERE source = 'search-api' AND reason = $1 AND detail LIKE $2`,
			binding.ReasonNoTokenVerifier, detail).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != want {
			t.Fatalf("%d security events like %q, want %d", n, detail, want)
		}
	}
	for range 3 {
		refuse("192.0.2.1:4000")
	}
	refuse("192.0.2.2:4000")
	count(2, "%")
	count(1, "%(client 192.0.2.2)")
	now = now.Add(time.Minute)
	refuse("192.0.2.1:4001")
	count(4, "%")
	count(1, "%2 more refusals from 1 client addresses%")
}
