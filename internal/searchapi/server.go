package searchapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/tenantry/tenantry/internal/binding"
	"github.com/tenantry/tenantry/internal/retrieval"
	"github.com/tenantry/tenantry/internal/tenantdb"
)

// Reason codes of the API's own answers (credentials are refused with the
// gate's codes: internal/binding).
const (
	ReasonBadRequest          = "bad_request"          // the body is not a valid search request (400)
	ReasonBadFilter           = "bad_filter"           // the metadata filter does not parse (400)
	ReasonEmbedFailed         = "embed_failed"         // the query could not be embedded (502)
	ReasonInternal            = "internal"             // the search failed (500)
	ReasonDatabaseUnavailable = "database_unavailable" // /healthz: the database does not answer (503)
)

// EnvelopeHeader carries a tenantry search envelope.
const EnvelopeHeader = "X-Tenantry-Envelope"

// Gate establishes a request's tenant (*binding.Search).
type Gate interface {
	Resolve(ctx context.Context, envelopeToken, bearer, requestID string) (tenantdb.Scope, error)
}

// Searcher runs a search (*retrieval.Searcher).
type Searcher interface {
	Search(ctx context.Context, scope tenantdb.Scope, req retrieval.Request) (retrieval.Result, error)
}

// QueryEmbedder embeds the query text (a pipeline.Embedder).
type QueryEmbedder interface {
	Embed(ctx context.Context, texts []string) ([][]float32, error)
}

// SecurityRecorder records refused credentials (*tenantdb.DB).
type SecurityRecorder interface {
	RecordSecurityEvent(ctx context.Context, ev tenantdb.SecurityEvent) error
}

// Config configures the handler. Gate, Searcher and Embedder are required.
type Config struct {
	Gate     Gate
	Searcher Searcher
	Embedder QueryEmbedder
	Security SecurityRecorder // nil: refusals are only logged
	// Refusals bounds the security events written for refused credentials
	// (per client address and reason, and in total, per window).
	Refusals RefusalLimit
	// Ready answers /healthz (e.g. the gateway's Ping); nil: always ready.
	Ready func(ctx context.Context) error
	// DefaultK is k when a request names none (default 5).
	DefaultK int
	// MaxBody bounds a request body (default 64 KiB).
	MaxBody int64
	// Timeout bounds one search (default 10 s).
	Timeout time.Duration
	Logger  *zap.Logger
}

func (c Config) withDefaults() Config {
	if c.DefaultK == 0 {
		c.DefaultK = 5
	}
	if c.MaxBody == 0 {
		c.MaxBody = 64 << 10
	}
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	c.Refusals = c.Refusals.withDefaults()
	return c
}

// New returns the API's handler.
func New(cfg Config) (http.Handler, error) {
	cfg = cfg.withDefaults()
	if cfg.Gate == nil || cfg.Searcher == nil || cfg.Embedder == nil {
		return nil, errors.New("searchapi: Gate, Searcher and Embedder are required")
	}
	if err := cfg.Refusals.validate(); err != nil {
		return nil, err
	}
	s := &server{cfg: cfg, refusals: newRefusals(cfg.Refusals)}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/search", s.search)
	mux.HandleFunc("GET /healthz", s.healthz)
	return mux, nil
}

type server struct {
	cfg      Config
	refusals *refusals
}

// Request is the body of POST /v1/search.
type Request struct {
	Query    string          `json:"query"`
	K        int             `json:"k,omitempty"`
	Filter   json.RawMessage `json:"filter,omitempty"` // Bedrock KB RetrievalFilter
	Mode     string          `json:"mode,omitempty"`   // vector (default) or hybrid
	Language string          `json:"language,omitempty"`
}

// Response is the body of a successful search.
type Response struct {
	Hits     []retrieval.Hit `json:"hits"`
	Plan     retrieval.Plan  `json:"plan"`
	Matching int64           `json:"matching"`
	// MatchingAtLeast: Matching is a lower bound (a large tenant).
	MatchingAtLeast bool `json:"matching_at_least,omitempty"`
}

// ErrorBody is the body of every error response.
type ErrorBody struct {
	Error  string `json:"error"`
	Reason string `json:"reason,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func requestID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "req-" + hex.EncodeToString(b)
}

func (s *server) healthz(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.cfg.Ready(ctx); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, ErrorBody{Error: "not ready", Reason: ReasonDatabaseUnavailable})
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// forbidden are reasons about a credential that verified but does not grant
// search (403); every other refusal is 401.
var forbidden = map[string]bool{"wrong_action": true, "no_tenant": true, "wrong_token_use": true}

func (s *server) search(w http.ResponseWriter, r *http.Request) {
	id := requestID()
	log := s.cfg.Logger.With(zap.String("request_id", id))
	w.Header().Set("X-Request-Id", id)
	bearer := ""
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			s.refuse(r, w, log, id, &binding.Error{Kind: binding.KindRejected, Code: "malformed", Err: errors.New("Authorization must be Bearer")})
			return
		}
		bearer = strings.TrimSpace(tok)
	}
	scope, err := s.cfg.Gate.Resolve(r.Context(), r.Header.Get(EnvelopeHeader), bearer, id)
	if err != nil {
		s.refuse(r, w, log, id, err)
		return
	}
	log = log.With(zap.String("tenant_id", scope.TenantID().String()))

	var req Request
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, s.cfg.MaxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, ErrorBody{Error: "body must be a JSON object {query, k, filter, mode, language}", Reason: ReasonBadRequest})
		return
	}
	if strings.TrimSpace(req.Query) == "" || len(req.Query) > 4096 {
		writeJSON(w, http.StatusBadRequest, ErrorBody{Error: "query must be 1..4096 bytes", Reason: ReasonBadRequest})
		return
	}
	filter, err := retrieval.ParseFilter(bytes.TrimSpace(req.Filter))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, ErrorBody{Error: err.Error(), Reason: ReasonBadFilter})
		return
	}
	if req.K == 0 {
		req.K = s.cfg.DefaultK
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.Timeout)
	defer cancel()
	vecs, err := s.cfg.Embedder.Embed(ctx, []string{req.Query})
	if err != nil || len(vecs) != 1 {
		log.Warn("search: embedding the query failed", zap.Error(err))
		writeJSON(w, http.StatusBadGateway, ErrorBody{Error: "embedding the query failed", Reason: ReasonEmbedFailed})
		return
	}
	res, err := s.cfg.Searcher.Search(ctx, scope, retrieval.Request{Vector: vecs[0], Text: req.Query, K: req.K,
		Filter: filter, Mode: retrieval.Mode(req.Mode), Language: req.Language})
	switch {
	case errors.Is(err, retrieval.ErrBadRequest):
		writeJSON(w, http.StatusBadRequest, ErrorBody{Error: err.Error(), Reason: ReasonBadRequest})
		return
	case err != nil:
		log.Error("search failed", zap.Error(err))
		writeJSON(w, http.StatusInternalServerError, ErrorBody{Error: "search failed", Reason: ReasonInternal})
		return
	}
	log.Info("search", zap.Int("hits", len(res.Hits)), zap.String("plan", string(res.Plan)), zap.Int64("matching", res.Matching))
	writeJSON(w, http.StatusOK, Response{Hits: res.Hits, Plan: res.Plan, Matching: res.Matching, MatchingAtLeast: res.MatchingAtLeast})
}

// refuse answers a refused credential and records a security event, within
// Config.Refusals.
func (s *server) refuse(r *http.Request, w http.ResponseWriter, log *zap.Logger, id string, err error) {
	ctx := r.Context()
	var be *binding.Error
	if !errors.As(err, &be) {
		log.Error("search: binding misconfigured", zap.Error(err))
		writeJSON(w, http.StatusInternalServerError, ErrorBody{Error: "internal error", Reason: ReasonInternal})
		return
	}
	if be.Kind == binding.KindUnavailable {
		log.Warn("search: credentials could not be judged now", zap.String("reason", be.Code))
		writeJSON(w, http.StatusServiceUnavailable, ErrorBody{Error: "credentials could not be verified now; retry", Reason: be.Code})
		return
	}
	status := http.StatusUnauthorized
	if forbidden[be.Code] {
		status = http.StatusForbidden
	} else {
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer error="invalid_token", error_description=%q`, be.Code))
	}
	log.Warn("search: credentials refused", zap.String("reason", be.Code), zap.Int("status", status))
	if s.cfg.Security != nil {
		client := clientAddress(r.RemoteAddr)
		record, summaries := s.refusals.admit(client, be.Code)
		if record {
			summaries = append(summaries, tenantdb.SecurityEvent{
				Reason: be.Code, Source: "search-api", MessageID: id, Detail: "search credentials refused (client " + client + ")",
			})
		}
		for _, ev := range summaries {
			if err := s.cfg.Security.RecordSecurityEvent(context.WithoutCancel(ctx), ev); err != nil {
				log.Error("search: recording the security event failed", zap.Error(err))
			}
		}
	}
	writeJSON(w, status, ErrorBody{Error: "credentials refused", Reason: be.Code})
}
