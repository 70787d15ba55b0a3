package devissuer_test

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/tenantry/tenantry/internal/devissuer"
)

func challenge(v string) string {
	s := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(s[:])
}

// The dev issuer's code flow holds the PKCE rules a relying party relies
// on: a code is single use, bound to its client, redirect URI and verifier.
func TestLoginFlow(t *testing.T) {
	t.Parallel()
	var iss *devissuer.Issuer
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { iss.Handler().ServeHTTP(w, r) }))
	t.Cleanup(hs.Close)
	iss, _ = devissuer.New(hs.URL)
	iss.AddUser("olga", devissuer.User{Groups: []string{"ops"}})
	iss.AddClient(devissuer.Client{ID: "console", RedirectURIs: []string{"http://127.0.0.1:1/callback"}})
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	const verifier = "a-verifier-of-enough-length-0123456789-abcdefghij"
	params := url.Values{"client_id": {"console"}, "redirect_uri": {"http://127.0.0.1:1/callback"}, "response_type": {"code"},
		"state": {"s"}, "nonce": {"n"}, "code_challenge": {challenge(verifier)}, "code_challenge_method": {"S256"}}
	code := func(t *testing.T, p url.Values, user string) (int, string) {
		t.Helper()
		f := url.Values{}
		for k, v := range p {
			f[k] = v
		}
		f.Set("user", user)
		resp, err := noFollow.PostForm(hs.URL+"/authorize", f)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		loc, _ := url.Parse(resp.Header.Get("Location"))
		return resp.StatusCode, loc.Query().Get("code")
	}
	exchange := func(c, client, redirect, v string) int {
		resp, err := http.PostForm(hs.URL+"/token", url.Values{"grant_type": {"authorization_code"}, "code": {c},
			"client_id": {client}, "redirect_uri": {redirect}, "code_verifier": {v}})
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	// The picker page lists the users.
	resp, err := http.Get(hs.URL + "/authorize?" + params.Encode())
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("picker: %v %v", resp, err)
	}
	_ = resp.Body.Close()
	for _, tc := range []struct {
		name   string
		mod    func(url.Values)
		status int
	}{
		{"unknown client", func(p url.Values) { p.Set("client_id", "evil") }, http.StatusBadRequest},
		{"unregistered redirect", func(p url.Values) { p.Set("redirect_uri", "https://evil.example.com/cb") }, http.StatusBadRequest},
		{"no PKCE", func(p url.Values) { p.Del("code_challenge") }, http.StatusBadRequest},
		{"plain PKCE", func(p url.Values) { p.Set("code_challenge_method", "plain") }, http.StatusBadRequest},
	} {
		p := url.Values{}
		for k, v := range params {
			p[k] = v
		}
		tc.mod(p)
		if st, _ := code(t, p, "olga"); st != tc.status {
			t.Errorf("%s: %d, want %d", tc.name, st, tc.status)
		}
	}
	if st, _ := code(t, params, "mallory"); st != http.StatusForbidden {
		t.Errorf("unknown user: %d", st)
	}
	for _, tc := range []struct {
		name, client, redirect, verifier string
	}{
		{"wrong verifier", "console", "http://127.0.0.1:1/callback", strings.Repeat("x", 50)},
		{"other client", "other", "http://127.0.0.1:1/callback", verifier},
		{"other redirect", "console", "http://127.0.0.1:2/callback", verifier},
	} {
		_, c := code(t, params, "olga")
		if st := exchange(c, tc.client, tc.redirect, tc.verifier); st != http.StatusBadRequest {
			t.Errorf("%s: %d", tc.name, st)
		}
		if st := exchange(c, "console", "http://127.0.0.1:1/callback", verifier); st != http.StatusBadRequest {
			t.Errorf("%s: the code survived a failed exchange: %d", tc.name, st)
		}
	}
	_, c := code(t, params, "olga")
	if st := exchange(c, "console", "http://127.0.0.1:1/callback", verifier); st != http.StatusOK {
		t.Fatalf("valid exchange: %d", st)
	}
	if st := exchange(c, "console", "http://127.0.0.1:1/callback", verifier); st != http.StatusBadRequest {
		t.Fatalf("a code was exchanged twice: %d", st)
	}
}
