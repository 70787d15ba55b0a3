package envelope

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sync"
	"time"

	"go.uber.org/zap"
)

// JWKSConfig configures a JWKSSource. Exactly one of URL and Path is set.
type JWKSConfig struct {
	// URL of the JWKS, https (http only for loopback hosts). Redirects are
	// not followed.
	URL string
	// Path of a JWKS file (re-read like a URL, so a mounted ConfigMap or
	// secret can rotate keys without a restart).
	Path string
	// TTL is how long a loaded set is used before it is loaded again.
	// Default 5m.
	TTL time.Duration
	// MinRefresh is the shortest time between two loads, however many
	// unknown kids arrive (attackers must not turn kids into fetches).
	// Default 30s.
	MinRefresh time.Duration
	// Timeout bounds one load. Default 5s.
	Timeout time.Duration
	// Limits bound the document (default 64 KiB, 32 keys).
	Limits JWKSLimits
	// HTTPClient for URL; default a client with Timeout and no redirects.
	HTTPClient *http.Client
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

func (c JWKSConfig) withDefaults() JWKSConfig {
	if c.TTL == 0 {
		c.TTL = 5 * time.Minute
	}
	if c.MinRefresh == 0 {
		c.MinRefresh = 30 * time.Second
	}
	if c.Timeout == 0 {
		c.Timeout = 5 * time.Second
	}
	c.Limits = c.Limits.withDefaults()
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{
			Timeout:       c.Timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return c
}

func (c JWKSConfig) validate() error {
	if (c.URL == "") == (c.Path == "") {
		return errors.New("envelope: JWKS source needs exactly one of URL and Path")
	}
	if c.URL != "" {
		u, err := url.Parse(c.URL)
		if err != nil || u.Host == "" {
			return errors.New("envelope: JWKS URL is not an absolute URL")
		}
		switch {
		case u.Scheme == "https":
		case u.Scheme == "http" && isLoopback(u.Hostname()):
		default:
			return errors.New("envelope: JWKS URL must be https (http only for loopback)")
		}
	}
	if c.TTL < 0 || c.MinRefresh < 0 || c.Timeout < 0 {
		return errors.New("envelope: JWKS durations must be positive")
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// JWKSSource is a KeySource backed by a JWKS URL or file. It loads lazily on
// first use, reloads when the set is older than TTL or when an unknown kid
// arrives (at most once per MinRefresh), and keeps serving the last good set
// when a reload fails. It starts no goroutines.
type JWKSSource struct {
	cfg JWKSConfig
	log *zap.Logger

	sem chan struct{} // one load at a time; waiters honour ctx

	mu       sync.RWMutex
	ring     *KeyRing
	loadedAt time.Time // last successful load
	tried    time.Time // last load attempt
	attempts uint64    // load attempts so far
}

// NewJWKSSource returns a source; nothing is loaded until first use (call
// Refresh to fail fast at start-up).
func NewJWKSSource(cfg JWKSConfig, logger *zap.Logger) (*JWKSSource, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	return &JWKSSource{cfg: cfg, log: logger, sem: make(chan struct{}, 1)}, nil
}

// PublicKey implements KeySource.
func (s *JWKSSource) PublicKey(ctx context.Context, kid string) (PublicKey, error) {
	now := s.cfg.Now()
	s.mu.RLock()
	ring, loadedAt, tried, attempts := s.ring, s.loadedAt, s.tried, s.attempts
	s.mu.RUnlock()

	fresh := ring != nil && now.Sub(loadedAt) < s.cfg.TTL
	if fresh {
		if k, err := ring.PublicKey(ctx, kid); err == nil {
			return k, nil
		}
	}
	// Stale, missing, or unknown kid: reload unless one was tried recently.
	// (The limit holds for failures too: an outage must not become a storm.)
	if now.Sub(tried) >= s.cfg.MinRefresh {
		if err := s.refresh(ctx, attempts, false); err != nil && ring == nil && s.current() == nil {
			return PublicKey{}, err
		}
		ring = s.current()
	}
	if ring == nil {
		return PublicKey{}, ErrKeysUnavailable
	}
	return ring.PublicKey(ctx, kid)
}

// Refresh loads the set now.
func (s *JWKSSource) Refresh(ctx context.Context) error { return s.refresh(ctx, 0, true) }

// refresh loads the set unless (not force) another caller tried a load
// after this one saw seen attempts: concurrent misses cause one load.
func (s *JWKSSource) refresh(ctx context.Context, seen uint64, force bool) error {
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.sem }()

	s.mu.RLock()
	already := !force && s.attempts != seen
	s.mu.RUnlock()
	if already {
		return nil // someone else just loaded while we waited
	}

	ring, skipped, err := s.load(ctx)
	now := s.cfg.Now()
	s.mu.Lock()
	s.tried = now
	s.attempts++
	if err == nil {
		s.ring, s.loadedAt = ring, now
	}
	s.mu.Unlock()
	if err != nil {
		s.log.Warn("envelope: JWKS load failed; keeping the previous key set", zap.Error(err))
		return fmt.Errorf("%w: %w", ErrKeysUnavailable, err)
	}
	s.log.Debug("envelope: JWKS loaded", zap.Int("keys", ring.Len()), zap.Int("skipped", skipped))
	return nil
}

func (s *JWKSSource) current() *KeyRing {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.ring
}

func (s *JWKSSource) load(ctx context.Context) (*KeyRing, int, error) {
	var data []byte
	if s.cfg.Path != "" {
		f, err := os.Open(s.cfg.Path)
		if err != nil {
			return nil, 0, err
		}
		defer f.Close()
		data, err = io.ReadAll(io.LimitReader(f, int64(s.cfg.Limits.MaxBytes)+1))
		if err != nil {
			return nil, 0, err
		}
	} else {
		ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.cfg.URL, nil)
		if err != nil {
			return nil, 0, err
		}
		req.Header.Set("Accept", "application/jwk-set+json, application/json")
		resp, err := s.cfg.HTTPClient.Do(req)
		if err != nil {
			return nil, 0, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
			return nil, 0, fmt.Errorf("JWKS endpoint answered HTTP %d", resp.StatusCode)
		}
		data, err = io.ReadAll(io.LimitReader(resp.Body, int64(s.cfg.Limits.MaxBytes)+1))
		if err != nil {
			return nil, 0, err
		}
	}
	return ParseJWKS(data, s.cfg.Limits)
}
