package devissuer

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"sync"
	"time"
)

// User is a dev sign-in identity of the browser login flow.
type User struct {
	Groups []string // the groups claim
	// ExpiresIn overrides the ID token lifetime (negative: already
	// expired), to test relying parties.
	ExpiresIn time.Duration
	// Issuer overrides the iss claim (a foreign issuer), to test relying
	// parties.
	Issuer string
}

// Client is a relying party allowed to use the login flow.
type Client struct {
	ID           string
	RedirectURIs []string // exact match
}

// grant is an authorization code waiting to be exchanged (single use).
type grant struct {
	client, redirect, challenge, nonce, user string
	expires                                  time.Time
}

// login holds the browser-login state of an Issuer.
type login struct {
	mu      sync.Mutex
	users   map[string]User
	clients map[string]Client
	codes   map[string]grant
}

// AddUser registers a sign-in identity (name is the subject).
func (i *Issuer) AddUser(name string, u User) {
	i.login.mu.Lock()
	defer i.login.mu.Unlock()
	if i.login.users == nil {
		i.login.users = map[string]User{}
	}
	i.login.users[name] = u
}

// AddClient registers a relying party of the authorization code flow.
func (i *Issuer) AddClient(c Client) {
	i.login.mu.Lock()
	defer i.login.mu.Unlock()
	if i.login.clients == nil {
		i.login.clients = map[string]Client{}
	}
	i.login.clients[c.ID] = c
}

var pickTmpl = template.Must(template.New("pick").Parse(`<!doctype html>
<html><head><title>dev issuer sign-in</title></head><body>
<h1>Development sign-in</h1><p>Local dev issuer: pick a user. Never run this outside tests and the demo.</p>
<form method="post" action="{{.Action}}">
{{range $k, $v := .Params}}<input type="hidden" name="{{$k}}" value="{{$v}}">{{end}}
{{range .Users}}<button type="submit" name="user" value="{{.}}" id="user-{{.}}">{{.}}</button> {{end}}
</form></body></html>`))

// authorize is the authorization endpoint: GET shows a user picker, POST
// (the picker) redirects back with a code. Only the code flow with PKCE
// S256 is served.
func (i *Issuer) authorize(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	q := r.Form
	i.login.mu.Lock()
	c, ok := i.login.clients[q.Get("client_id")]
	i.login.mu.Unlock()
	redirect := q.Get("redirect_uri")
	if !ok || !slices.Contains(c.RedirectURIs, redirect) {
		http.Error(w, "unknown client or redirect_uri", http.StatusBadRequest)
		return
	}
	if q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43 {
		http.Error(w, "only the code flow with PKCE S256 is supported", http.StatusBadRequest)
		return
	}
	if r.Method == http.MethodGet {
		params := map[string]string{}
		for _, k := range []string{"client_id", "redirect_uri", "response_type", "state", "nonce", "code_challenge", "code_challenge_method", "scope"} {
			params[k] = q.Get(k)
		}
		i.login.mu.Lock()
		users := make([]string, 0, len(i.login.users))
		for u := range i.login.users {
			users = append(users, u)
		}
		i.login.mu.Unlock()
		sort.Strings(users)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = pickTmpl.Execute(w, map[string]any{"Action": "/authorize", "Params": params, "Users": users})
		return
	}
	user := q.Get("user")
	i.login.mu.Lock()
	_, known := i.login.users[user]
	code := randomString()
	if known {
		if i.login.codes == nil {
			i.login.codes = map[string]grant{}
		}
		i.login.codes[code] = grant{client: c.ID, redirect: redirect, challenge: q.Get("code_challenge"),
			nonce: q.Get("nonce"), user: user, expires: time.Now().Add(time.Minute)}
	}
	i.login.mu.Unlock()
	if !known {
		http.Error(w, "unknown user", http.StatusForbidden)
		return
	}
	u, _ := url.Parse(redirect)
	v := u.Query()
	v.Set("code", code)
	v.Set("state", q.Get("state"))
	u.RawQuery = v.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound) //nolint:gosec // redirect_uri matched exactly against the client's registered URIs above
}

// token is the token endpoint: it exchanges a code once, for the client
// and redirect_uri it was issued to, against the PKCE verifier.
func (i *Issuer) token(w http.ResponseWriter, r *http.Request) {
	fail := func(code string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": code})
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "authorization_code" {
		fail("unsupported_grant_type")
		return
	}
	f := r.PostForm
	clientID := f.Get("client_id")
	if id, _, ok := r.BasicAuth(); ok {
		clientID = id
	}
	i.login.mu.Lock()
	g, ok := i.login.codes[f.Get("code")]
	delete(i.login.codes, f.Get("code"))
	u := i.login.users[g.user]
	i.login.mu.Unlock()
	sum := sha256.Sum256([]byte(f.Get("code_verifier")))
	challenge := base64.RawURLEncoding.EncodeToString(sum[:])
	if !ok || time.Now().After(g.expires) || g.client != clientID || g.redirect != f.Get("redirect_uri") ||
		subtle.ConstantTimeCompare([]byte(challenge), []byte(g.challenge)) != 1 {
		fail("invalid_grant")
		return
	}
	idToken, err := i.Sign(Token{Subject: g.user, Audience: g.client, TokenUse: "id", Groups: u.Groups,
		Nonce: g.nonce, Issuer: u.Issuer, ExpiresIn: u.ExpiresIn, Email: g.user + "@dev.tenantry.local"})
	if err != nil {
		http.Error(w, "sign", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"access_token": randomString(), "token_type": "Bearer", "expires_in": 300, "id_token": idToken,
	})
}

func randomString() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
