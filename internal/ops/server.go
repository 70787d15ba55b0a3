package ops

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
)

// Config configures a Server.
type Config struct {
	// Addr is the listen address, e.g. "127.0.0.1:9090" or ":9090"; port
	// 0 picks a free port (see Server.Addr). Required.
	Addr string
	// ShutdownTimeout bounds the graceful shutdown (default 5s).
	ShutdownTimeout time.Duration
	// ReadHeaderTimeout bounds reading a request's headers (default 5s).
	ReadHeaderTimeout time.Duration
}

func (c Config) withDefaults() Config {
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = 5 * time.Second
	}
	if c.ReadHeaderTimeout == 0 {
		c.ReadHeaderTimeout = 5 * time.Second
	}
	return c
}

// ErrInvalidConfig is wrapped by New's validation errors.
var ErrInvalidConfig = errors.New("ops: invalid config")

func (c Config) validate() error {
	if c.Addr == "" {
		return fmt.Errorf("%w: Addr is required", ErrInvalidConfig)
	}
	if c.ShutdownTimeout < 0 || c.ReadHeaderTimeout < 0 {
		return fmt.Errorf("%w: negative timeout", ErrInvalidConfig)
	}
	return nil
}

// Server serves /metrics, /healthz and /readyz.
type Server struct {
	cfg   Config
	log   *zap.Logger
	ready atomic.Bool
	srv   *http.Server

	mu  sync.Mutex
	ln  net.Listener
	run bool
}

// New returns a Server exposing gatherer (usually the *prometheus.Registry
// the worker's metrics are registered on). It is not ready until SetReady.
func New(cfg Config, gatherer prometheus.Gatherer, logger *zap.Logger) (*Server, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if gatherer == nil {
		return nil, fmt.Errorf("%w: nil gatherer", ErrInvalidConfig)
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	s := &Server{cfg: cfg, log: logger}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{
		ErrorLog: zap.NewStdLog(logger), ErrorHandling: promhttp.ContinueOnError,
	}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		text(w, http.StatusOK, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if s.ready.Load() {
			text(w, http.StatusOK, "ready")
			return
		}
		text(w, http.StatusServiceUnavailable, "not ready")
	})
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: cfg.ReadHeaderTimeout, ErrorLog: zap.NewStdLog(logger)}
	return s, nil
}

func text(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(body + "\n"))
}

// SetReady sets what /readyz answers: true once the caller's preflight
// passed, false again when it starts draining.
func (s *Server) SetReady(ready bool) {
	if s.ready.Swap(ready) != ready {
		s.log.Info("readiness changed", zap.Bool("ready", ready))
	}
}

// Ready reports the readiness flag.
func (s *Server) Ready() bool { return s.ready.Load() }

// Listen binds Config.Addr (Run calls it if needed); call it first to learn
// the address when the port is 0.
func (s *Server) Listen() (net.Addr, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		ln, err := net.Listen("tcp", s.cfg.Addr)
		if err != nil {
			return nil, fmt.Errorf("ops: listen %s: %w", s.cfg.Addr, err)
		}
		s.ln = ln
	}
	return s.ln.Addr(), nil
}

// Addr is the bound address (nil before Listen or Run).
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Run serves until ctx is cancelled, then shuts down gracefully (within
// ShutdownTimeout) and returns nil; it returns an error if it cannot listen
// or serve. It may be called once.
func (s *Server) Run(ctx context.Context) error {
	if _, err := s.Listen(); err != nil {
		return err
	}
	s.mu.Lock()
	if s.run {
		s.mu.Unlock()
		return errors.New("ops: server already running")
	}
	s.run = true
	ln := s.ln
	s.mu.Unlock()

	s.log.Info("ops server listening", zap.Stringer("addr", ln.Addr()))
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("ops: serve: %w", err)
	case <-ctx.Done():
	}
	s.ready.Store(false)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	defer cancel()
	err := s.srv.Shutdown(sctx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && serr != nil {
		err = errors.Join(err, serr)
	}
	if err != nil {
		return fmt.Errorf("ops: shutdown: %w", err)
	}
	return nil
}
