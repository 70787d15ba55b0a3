package faultproxy

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// MaxHang is the longest a request may be held (Faults.Hang).
const MaxHang = time.Minute

// Faults is what the proxy does to requests while they are switched on.
// Each request draws once: with probability ErrorRate it is answered with
// Status, with HangRate it is held for Hang and then dropped without an
// answer, with ResetRate it is dropped at once (TCP reset); otherwise it
// passes, after Latency. The zero Faults passes everything.
type Faults struct {
	ErrorRate float64
	Status    int // 500..599 (default 503, S3's SlowDown)
	HangRate  float64
	Hang      time.Duration
	ResetRate float64
	Latency   time.Duration
}

// ErrInvalid is wrapped by every configuration error.
var ErrInvalid = errors.New("faultproxy: invalid configuration")

func (f Faults) withDefaults() Faults {
	if f.Status == 0 {
		f.Status = http.StatusServiceUnavailable
	}
	return f
}

func (f Faults) validate() error {
	for _, r := range []float64{f.ErrorRate, f.HangRate, f.ResetRate} {
		if r < 0 || r > 1 || r != r {
			return fmt.Errorf("%w: rates must be in [0, 1]", ErrInvalid)
		}
	}
	switch {
	case f.ErrorRate+f.HangRate+f.ResetRate > 1:
		return fmt.Errorf("%w: rates add up to more than 1", ErrInvalid)
	case f.Status < 500 || f.Status > 599:
		return fmt.Errorf("%w: status %d is not a server error", ErrInvalid, f.Status)
	case f.Hang < 0 || f.Hang > MaxHang:
		return fmt.Errorf("%w: hang must be in [0, %s]", ErrInvalid, MaxHang)
	case f.Latency < 0 || f.Latency > MaxHang:
		return fmt.Errorf("%w: latency must be in [0, %s]", ErrInvalid, MaxHang)
	}
	return nil
}

// Config configures a Proxy.
type Config struct {
	// Target is the upstream base URL, e.g. http://127.0.0.1:9320. Required.
	Target string
	// Addr is the listen address (default 127.0.0.1:0).
	Addr string
	// Seed makes the fault draws reproducible (0: random).
	Seed uint64
	// Logger logs faults at debug level (nop if nil).
	Logger *zap.Logger
}

func (c Config) withDefaults() Config {
	if c.Addr == "" {
		c.Addr = "127.0.0.1:0"
	}
	if c.Seed == 0 {
		c.Seed = rand.Uint64() //nolint:gosec // fault draws, not secrets
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	return c
}

func (c Config) validate() (*url.URL, error) {
	u, err := url.Parse(c.Target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: target must be an http(s) URL", ErrInvalid)
	}
	return u, nil
}

// Stats counts what the proxy did.
type Stats struct {
	Requests, Passed, Errors, Hangs, Resets int64
}

// Proxy is a fault-injecting reverse proxy. Start it, read URL, switch
// faults with Set and Clear, and Close it.
type Proxy struct {
	cfg    Config
	target *url.URL
	log    *zap.Logger

	mu     sync.Mutex
	faults Faults
	rng    *rand.Rand

	transport *http.Transport
	srv       *http.Server
	ln        net.Listener
	served    chan struct{}
	closing   chan struct{}
	closeOnce sync.Once

	requests, passed, errs, hangs, resets atomic.Int64
}

// New returns a Proxy for cfg; it does not listen until Start.
func New(cfg Config) (*Proxy, error) {
	cfg = cfg.withDefaults()
	target, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	p := &Proxy{
		cfg: cfg, target: target, log: cfg.Logger,
		rng:     rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)), //nolint:gosec // fault draws, not secrets
		closing: make(chan struct{}), served: make(chan struct{}),
	}
	p.transport = &http.Transport{
		Proxy: nil, MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second,
		DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Host = r.In.Host // SigV4 signed the Host the client saw
		},
		Transport: p.transport,
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			p.log.Debug("upstream error", zap.Error(err))
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	p.srv = &http.Server{Handler: p.handler(rp), ReadHeaderTimeout: 10 * time.Second}
	return p, nil
}

// Start listens on Config.Addr and serves in the background.
func (p *Proxy) Start() error {
	ln, err := net.Listen("tcp", p.cfg.Addr)
	if err != nil {
		return fmt.Errorf("faultproxy: listen: %w", err)
	}
	p.ln = ln
	go func() {
		defer close(p.served)
		if err := p.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			p.log.Warn("faultproxy stopped", zap.Error(err))
		}
	}()
	return nil
}

// URL is the proxy's base URL (after Start).
func (p *Proxy) URL() string { return "http://" + p.ln.Addr().String() }

// Set switches faults on (replacing the previous ones).
func (p *Proxy) Set(f Faults) error {
	f = f.withDefaults()
	if err := f.validate(); err != nil {
		return err
	}
	p.mu.Lock()
	p.faults = f
	p.mu.Unlock()
	return nil
}

// Clear switches faults off: every request passes.
func (p *Proxy) Clear() {
	p.mu.Lock()
	p.faults = Faults{}
	p.mu.Unlock()
}

// Stats returns the counters so far.
func (p *Proxy) Stats() Stats {
	return Stats{Requests: p.requests.Load(), Passed: p.passed.Load(), Errors: p.errs.Load(),
		Hangs: p.hangs.Load(), Resets: p.resets.Load()}
}

// Close stops listening, drops held requests and waits for the server.
func (p *Proxy) Close() error {
	var err error
	p.closeOnce.Do(func() {
		close(p.closing)
		if p.ln == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = p.srv.Shutdown(ctx)
		<-p.served
		p.transport.CloseIdleConnections()
	})
	return err
}

type action int

const (
	pass action = iota
	fail
	hang
	reset
)

func (p *Proxy) draw() (action, Faults) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f := p.faults
	x := p.rng.Float64()
	switch {
	case x < f.ErrorRate:
		return fail, f
	case x < f.ErrorRate+f.HangRate:
		return hang, f
	case x < f.ErrorRate+f.HangRate+f.ResetRate:
		return reset, f
	}
	return pass, f
}

func (p *Proxy) handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.requests.Add(1)
		act, f := p.draw()
		switch act {
		case fail:
			p.errs.Add(1)
			code := "InternalError"
			if f.Status == http.StatusServiceUnavailable {
				code = "SlowDown"
			}
			w.Header().Set("Content-Type", "application/xml")
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(f.Status)
			_, _ = fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>injected fault</Message></Error>`, code)
			return
		case hang:
			p.hangs.Add(1)
			t := time.NewTimer(f.Hang)
			defer t.Stop()
			select {
			case <-t.C:
			case <-r.Context().Done():
			case <-p.closing:
			}
			drop(w, false)
			return
		case reset:
			p.resets.Add(1)
			drop(w, true)
			return
		}
		if f.Latency > 0 {
			t := time.NewTimer(f.Latency)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			case <-p.closing:
				t.Stop()
			}
		}
		p.passed.Add(1)
		next.ServeHTTP(w, r)
	})
}

// drop closes the client's connection without an answer: with a TCP reset
// (linger 0) or an orderly close.
func drop(w http.ResponseWriter, rst bool) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// Not hijackable (HTTP/2): the best available is an aborted handler.
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok && rst {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}
