package console

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"sync"
	"time"
)

// session is a signed-in user. Sessions live in memory only: a restart
// signs everyone out.
type session struct {
	Subject string // the issuer's sub
	Name    string // email or sub, for display and audit
	Role    string
	CSRF    string
	Expires time.Time
}

// Actor is the identity written into audit rows.
func (s *session) Actor() string { return "console:" + s.Name }

// pending is a sign-in in progress: the PKCE verifier and nonce of a state.
type pending struct {
	verifier, nonce string
	expires         time.Time
}

type sessions struct {
	mu      sync.Mutex
	active  map[string]*session
	pending map[string]pending
}

func newSessions() *sessions {
	return &sessions{active: map[string]*session{}, pending: map[string]pending{}}
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (s *sessions) put(sess *session, now time.Time) string {
	id := randomToken()
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.active { // bounded: drop the expired
		if !now.Before(v.Expires) {
			delete(s.active, k)
		}
	}
	s.active[id] = sess
	return id
}

func (s *sessions) get(id string, now time.Time) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.active[id]
	if sess == nil {
		return nil
	}
	if !now.Before(sess.Expires) {
		delete(s.active, id)
		return nil
	}
	return sess
}

func (s *sessions) drop(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.active, id)
}

// begin records a sign-in (state → verifier, nonce) for ten minutes.
func (s *sessions) begin(state string, p pending) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.pending { // bounded: drop the expired
		if p.expires.Sub(v.expires) > 10*time.Minute {
			delete(s.pending, k)
		}
	}
	s.pending[state] = p
}

// finish takes a sign-in once.
func (s *sessions) finish(state string, now time.Time) (pending, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pending[state]
	delete(s.pending, state)
	return p, ok && now.Before(p.expires)
}

// cookie names: the __Host- prefix makes the browser insist on Secure, Path=/
// and no Domain; plain-HTTP loopback development cannot use it.
func (srv *Server) sessionCookie() string {
	if srv.cfg.InsecureCookies {
		return "tenantry_console"
	}
	return "__Host-tenantry_console"
}

func (srv *Server) loginCookie() string {
	if srv.cfg.InsecureCookies {
		return "tenantry_console_login"
	}
	return "__Host-tenantry_console_login"
}

func (srv *Server) setCookie(w http.ResponseWriter, name, value string, maxAge int, sameSite http.SameSite) {
	http.SetCookie(w, &http.Cookie{ //nolint:gosec // Secure unless InsecureCookies, which validate allows only for an http://loopback URL
		Name: name, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: !srv.cfg.InsecureCookies, SameSite: sameSite,
	})
}

// current returns the request's session, if any.
func (srv *Server) current(r *http.Request) (*session, string) {
	c, err := r.Cookie(srv.sessionCookie())
	if err != nil || c.Value == "" {
		return nil, ""
	}
	return srv.sessions.get(c.Value, srv.cfg.Now()), c.Value
}

// csrfOK checks an action's CSRF token against the session's (constant
// time) and, when the browser names one, that the request comes from the
// console's own origin.
func (srv *Server) csrfOK(r *http.Request, sess *session) bool {
	if o := r.Header.Get("Origin"); o != "" && o != srv.origin {
		return false
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		return false
	}
	got := r.PostFormValue("csrf")
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(sess.CSRF)) == 1
}
