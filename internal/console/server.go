package console

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/tenantry/tenantry/internal/audit"
	"github.com/tenantry/tenantry/internal/dlq"
	"github.com/tenantry/tenantry/internal/tenantdb"
)

//go:embed templates/*.html static/*
var assets embed.FS

// Server is the console's HTTP server. Build it with New.
type Server struct {
	cfg      Config
	deps     Deps
	log      *zap.Logger
	auth     *authenticator
	sessions *sessions
	origin   string
	pages    map[string]*template.Template

	mu       sync.Mutex
	verified map[uuid.UUID]verifyResult // last chain verification by this console
	dlqAt    time.Time
	dlqRep   *dlq.Report
	dlqErr   error
}

type verifyResult struct {
	At     time.Time
	OK     bool
	Events int64
	Detail string
	Actor  string
	// Recorded: read back from the tenant's chain (not made by this
	// console process).
	Recorded bool
}

// New discovers the OIDC issuer and returns the console. deps.Reader is
// required.
func New(ctx context.Context, cfg Config, deps Deps, logger *zap.Logger) (*Server, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if deps.Reader == nil {
		return nil, errors.New("console: a Reader is required")
	}
	if deps.Control == nil {
		deps.Control = NoControl{}
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	auth, err := newAuthenticator(ctx, cfg)
	if err != nil {
		return nil, err
	}
	u, _ := url.Parse(cfg.BaseURL)
	return &Server{cfg: cfg, deps: deps, log: logger, auth: auth, sessions: newSessions(),
		origin: u.Scheme + "://" + u.Host, pages: pages, verified: map[uuid.UUID]verifyResult{}}, nil
}

var funcs = template.FuncMap{
	"short": func(s string) string {
		if len(s) > 19 {
			return s[:19] + "…"
		}
		return s
	},
	"when": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04:05Z")
	},
	"join":    strings.Join,
	"support": supportNote,
}

func parsePages() (map[string]*template.Template, error) {
	names, err := fs.Glob(assets, "templates/*.html")
	if err != nil {
		return nil, err
	}
	base := template.Must(template.New("").Funcs(funcs).ParseFS(assets, "templates/layout.html"))
	pages := map[string]*template.Template{}
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.Must(base.Clone()).ParseFS(assets, n)
		if err != nil {
			return nil, fmt.Errorf("console: template %s: %w", n, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// Handler serves the console.
func (srv *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(assets, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /login", srv.login)
	mux.HandleFunc("GET /callback", srv.callback)
	mux.HandleFunc("POST /logout", srv.logout)
	mux.HandleFunc("GET /signed-out", func(w http.ResponseWriter, r *http.Request) {
		srv.render(w, r, http.StatusOK, "signedout", nil, nil)
	})
	mux.HandleFunc("GET /{$}", srv.view(srv.overview))
	mux.HandleFunc("GET /tenants/{tenant}", srv.view(srv.tenant))
	mux.HandleFunc("GET /dlq", srv.view(srv.deadLetters))
	mux.HandleFunc("GET /tenants/{tenant}/documents/{document}/executions", srv.view(srv.executions))
	mux.HandleFunc("POST /tenants/{tenant}/pause", srv.action(srv.pause))
	mux.HandleFunc("POST /tenants/{tenant}/resume", srv.action(srv.resume))
	mux.HandleFunc("POST /tenants/{tenant}/verify", srv.action(srv.verify))
	mux.HandleFunc("POST /tenants/{tenant}/reindex", srv.action(srv.reindex))
	mux.HandleFunc("POST /dlq/replay", srv.action(srv.replay))
	return securityHeaders(mux)
}

func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "same-origin") // no-referrer would make the browser send "Origin: null" on our own forms
		hd.Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}

// ListenAndServe serves on addr until ctx ends.
func (srv *Server) ListenAndServe(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("console: listen: %w", err)
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
	}()
	srv.log.Info("console: listening", zap.String("addr", ln.Addr().String()), zap.String("url", srv.cfg.BaseURL))
	if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// view wraps a page that needs a signed-in viewer or operator.
func (srv *Server) view(fn func(w http.ResponseWriter, r *http.Request, sess *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess, _ := srv.current(r)
		if sess == nil {
			http.Redirect(w, r, "/login", http.StatusFound)
			return
		}
		fn(w, r, sess)
	}
}

// action wraps an action: a session, the operator role, the CSRF token and
// a written reason are all required, in that order, before fn runs.
func (srv *Server) action(fn func(w http.ResponseWriter, r *http.Request, sess *session, reason string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		sess, _ := srv.current(r)
		switch {
		case sess == nil:
			srv.forbidden(w, r, "signed_out", "sign in first")
			return
		case !srv.csrfOK(r, sess):
			srv.forbidden(w, r, "csrf", "missing or wrong CSRF token")
			return
		case sess.Role != RoleOperator:
			srv.forbidden(w, r, "not_operator", "viewers cannot act")
			return
		}
		reason, err := checkReason(r.PostFormValue("reason"))
		if err != nil {
			srv.fail(w, r, sess, http.StatusBadRequest, err.Error())
			return
		}
		fn(w, r, sess, reason)
	}
}

// checkReason: every action needs a written reason (it is audited):
// 3..256 bytes of printable UTF-8 on one line.
func checkReason(s string) (string, error) {
	s = strings.TrimSpace(s)
	if len(s) < 3 || len(s) > 256 {
		return "", errors.New("write a reason (3 to 256 characters): it is recorded in the tenant's audit chain")
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == 0xfffd {
			return "", errors.New("the reason must be one line of printable text")
		}
	}
	return s, nil
}

func (srv *Server) forbidden(w http.ResponseWriter, r *http.Request, code, msg string) {
	srv.log.Info("console: action refused", zap.String("reason", code), zap.String("path", r.URL.Path))
	srv.render(w, r, http.StatusForbidden, "refused", nil, map[string]any{"Code": code, "Message": msg})
}

func (srv *Server) fail(w http.ResponseWriter, r *http.Request, sess *session, status int, msg string) {
	srv.render(w, r, status, "refused", sess, map[string]any{"Code": http.StatusText(status), "Message": msg})
}

func (srv *Server) render(w http.ResponseWriter, r *http.Request, status int, page string, sess *session, data map[string]any) {
	t := srv.pages[page]
	if data == nil {
		data = map[string]any{}
	}
	data["Session"] = sess
	data["Path"] = r.URL.Path
	if sess != nil {
		data["CSRF"] = sess.CSRF
		data["Operator"] = sess.Role == RoleOperator
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := t.ExecuteTemplate(w, "layout", data); err != nil {
		srv.log.Error("console: render", zap.String("page", page), zap.Error(err))
	}
}

// tenantParam parses the {tenant} path value (canonical UUID only).
func tenantParam(r *http.Request) (uuid.UUID, bool) {
	s := r.PathValue("tenant")
	id, err := uuid.Parse(s)
	return id, err == nil && len(s) == 36 && id != uuid.Nil && id.String() == s
}

// inspect returns the DLQ report, cached for DLQCacheTTL (?refresh=1
// forces a new walk).
func (srv *Server) inspect(ctx context.Context, refresh bool) (*dlq.Report, error) {
	if srv.deps.DLQ == nil {
		return nil, ErrUnavailable
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if !refresh && srv.dlqRep != nil && srv.cfg.Now().Sub(srv.dlqAt) < srv.cfg.DLQCacheTTL {
		return srv.dlqRep, srv.dlqErr
	}
	rep, err := srv.deps.DLQ.Inspect(ctx)
	if rep == nil {
		rep = &dlq.Report{}
	}
	srv.dlqAt, srv.dlqRep, srv.dlqErr = srv.cfg.Now(), rep, err
	return rep, err
}

func (srv *Server) forgetDLQ() {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	srv.dlqRep = nil
}

// lastVerify is tenant's last chain verification: the newest verification
// event in the tenant's chain ("verify chain now" here or in another
// console, `tenantry audit verify --record-as`), so it survives a restart
// and the chain's hashes cover it — or this console's own, if newer.
func (srv *Server) lastVerify(ctx context.Context, t uuid.UUID) (verifyResult, bool) {
	srv.mu.Lock()
	mine, ok := srv.verified[t]
	srv.mu.Unlock()
	e, found, err := srv.deps.Reader.LastAuditEvent(ctx, t, ActionVerify, tenantdb.ActionChainVerified)
	if err != nil {
		srv.log.Warn("console: read the last verification", zap.String("tenant_id", t.String()), zap.Error(err))
	}
	if !found || err != nil {
		return mine, ok
	}
	if ok && !mine.At.Before(e.OccurredAt) {
		return mine, true
	}
	return verifyFromEvent(e), true
}

// verifyFromEvent reads a recorded verification (its detail is the JSON
// the verify action writes: ok, events, problem).
func verifyFromEvent(e audit.Event) verifyResult {
	var d struct {
		OK      bool   `json:"ok"`
		Events  int64  `json:"events"`
		Problem string `json:"problem"`
	}
	res := verifyResult{At: e.OccurredAt, Actor: e.Actor, Recorded: true}
	if err := json.Unmarshal([]byte(e.Detail), &d); err != nil {
		res.Detail = "unreadable verification record"
		return res
	}
	res.OK, res.Events, res.Detail = d.OK, d.Events, d.Problem
	return res
}

// chain reads a tenant's audit events, verifying the chain as it goes
// (audit.VerifyChain); it keeps the last keep events (newest first) for the
// timeline, also when the chain is broken.
func (srv *Server) chain(ctx context.Context, t uuid.UUID, keep int) ([]audit.Event, verifyResult, error) {
	var events []audit.Event
	rep, err := audit.VerifyChain(ctx, srv.deps.Reader, t, func(e audit.Event) error {
		events = append(events, e)
		if len(events) > keep {
			events = events[1:]
		}
		return nil
	})
	if err != nil {
		return nil, verifyResult{}, err
	}
	res := verifyResult{At: srv.cfg.Now(), OK: rep.OK, Events: rep.Events, Detail: rep.Problem}
	for i, j := 0, len(events)-1; i < j; i, j = i+1, j-1 {
		events[i], events[j] = events[j], events[i]
	}
	return events, res, nil
}
