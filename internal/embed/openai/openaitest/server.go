package openaitest

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"time"
)

// Fault is a scripted answer for one request, instead of the normal one.
type Fault struct {
	Status     int           // HTTP status (0: 200)
	RetryAfter time.Duration // sent as Retry-After (whole seconds, rounded up) and retry-after-ms
	Body       string        // raw body instead of the generated one
	Vectors    int           // with Status 0/200: return this many vectors (-1: one too few)
	Dims       int           // with Status 0/200: vectors of this dimension
	Delay      time.Duration // wait this long first (the client's timeout may fire)
}

// Options configure a Server.
type Options struct {
	Dims    int           // vector dimension (default 8)
	Quota   float64       // requests per second admitted (0: unlimited)
	Burst   float64       // token bucket capacity (default max(1, Quota/10))
	Latency time.Duration // added to each admitted request
	APIKey  string        // when set, requests must carry "Authorization: Bearer <APIKey>"
	// Faults, when set, is asked for each request (n counts from 1); a nil
	// result answers normally.
	Faults func(n int) *Fault
}

// Stats counts what the server saw.
type Stats struct {
	Requests  int64 // all requests
	Accepted  int64 // answered 200 with vectors
	Throttled int64 // answered 429 by the quota
	Inputs    int64 // texts embedded
}

// Server is a running fake. Close it when done.
type Server struct {
	URL  string
	srv  *httptest.Server
	opts Options

	mu     sync.Mutex
	tokens float64
	last   time.Time
	stats  Stats
	n      int
}

// New starts a Server on a loopback port.
func New(opts Options) *Server {
	if opts.Dims == 0 {
		opts.Dims = 8
	}
	if opts.Burst == 0 {
		opts.Burst = math.Max(1, opts.Quota/10)
	}
	s := &Server{opts: opts, tokens: opts.Burst, last: time.Now()}
	s.srv = httptest.NewServer(http.HandlerFunc(s.handle))
	s.URL = s.srv.URL
	return s
}

// SetQuota changes the quota (requests per second, 0: unlimited) and the
// bucket's capacity from now on.
func (s *Server) SetQuota(quota, burst float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if burst == 0 {
		burst = math.Max(1, quota/10)
	}
	s.opts.Quota, s.opts.Burst = quota, burst
	s.tokens = math.Min(s.tokens, burst)
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// Stats returns the counts so far.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// admit takes a token, or returns how long until one is available.
func (s *Server) admit(now time.Time) (bool, time.Duration) {
	if s.opts.Quota <= 0 {
		return true, 0
	}
	s.tokens = math.Min(s.opts.Burst, s.tokens+now.Sub(s.last).Seconds()*s.opts.Quota)
	s.last = now
	if s.tokens >= 1 {
		s.tokens--
		return true, 0
	}
	return false, time.Duration((1 - s.tokens) / s.opts.Quota * float64(time.Second))
}

type request struct {
	Model      string   `json:"model"`
	Input      []string `json:"input"`
	Dimensions int      `json:"dimensions"`
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/embeddings" {
		http.Error(w, `{"error":{"type":"invalid_request_error","message":"not found"}}`, http.StatusNotFound)
		return
	}
	if s.opts.APIKey != "" && r.Header.Get("Authorization") != "Bearer "+s.opts.APIKey {
		writeError(w, http.StatusUnauthorized, "invalid_api_key", 0)
		return
	}
	var req request
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Model == "" || len(req.Input) == 0 {
		writeError(w, http.StatusBadRequest, "invalid_request_error", 0)
		return
	}
	s.mu.Lock()
	s.n++
	n := s.n
	s.stats.Requests++
	s.mu.Unlock()

	var f *Fault
	if s.opts.Faults != nil {
		f = s.opts.Faults(n)
	}
	if f != nil {
		if f.Delay > 0 {
			select {
			case <-time.After(f.Delay):
			case <-r.Context().Done():
				return
			}
		}
		if f.Status != 0 && f.Status != http.StatusOK {
			if f.Body != "" {
				w.Header().Set("Content-Type", "application/json")
				setRetryAfter(w, f.RetryAfter)
				w.WriteHeader(f.Status)
				_, _ = w.Write([]byte(f.Body))
				return
			}
			writeError(w, f.Status, "scripted", f.RetryAfter)
			return
		}
		if f.Body != "" {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(f.Body))
			return
		}
	}

	s.mu.Lock()
	ok, wait := s.admit(time.Now())
	if !ok {
		s.stats.Throttled++
	}
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusTooManyRequests, "rate_limit_exceeded", wait)
		return
	}
	if s.opts.Latency > 0 {
		t := time.NewTimer(s.opts.Latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	dims, count := s.opts.Dims, len(req.Input)
	if req.Dimensions > 0 {
		dims = req.Dimensions
	}
	if f != nil {
		if f.Dims > 0 {
			dims = f.Dims
		}
		if f.Vectors > 0 {
			count = f.Vectors
		} else if f.Vectors < 0 {
			count = len(req.Input) - 1
		}
	}
	type datum struct {
		Object    string    `json:"object"`
		Index     int       `json:"index"`
		Embedding []float32 `json:"embedding"`
	}
	resp := struct {
		Object string  `json:"object"`
		Data   []datum `json:"data"`
		Model  string  `json:"model"`
		Usage  struct {
			PromptTokens int `json:"prompt_tokens"`
			TotalTokens  int `json:"total_tokens"`
		} `json:"usage"`
	}{Object: "list", Model: req.Model}
	// Answer in reverse order: clients must place vectors by index.
	for i := count - 1; i >= 0; i-- {
		text := ""
		if i < len(req.Input) {
			text = req.Input[i]
		}
		resp.Data = append(resp.Data, datum{Object: "embedding", Index: i, Embedding: Vector(text, dims)})
	}
	s.mu.Lock()
	s.stats.Accepted++
	s.stats.Inputs += int64(len(req.Input))
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}

func setRetryAfter(w http.ResponseWriter, d time.Duration) {
	if d <= 0 {
		return
	}
	w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(d.Seconds()))))
	w.Header().Set("Retry-After-Ms", strconv.FormatInt(max(1, d.Milliseconds()), 10))
}

func writeError(w http.ResponseWriter, status int, code string, retryAfter time.Duration) {
	w.Header().Set("Content-Type", "application/json")
	setRetryAfter(w, retryAfter)
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":{"message":"fake error","type":%q,"code":%q}}`, code, code)
}

// Vector is the deterministic unit vector the server returns for text.
func Vector(text string, dims int) []float32 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(text))
	x := h.Sum64() | 1
	v := make([]float32, dims)
	var norm float64
	for i := range v {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		v[i] = float32(int64(x%2001)-1000) / 1000
		norm += float64(v[i]) * float64(v[i])
	}
	if norm == 0 {
		v[0], norm = 1, 1
	}
	for i := range v {
		v[i] = float32(float64(v[i]) / math.Sqrt(norm))
	}
	return v
}
