package faultproxy_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tenantry/tenantry/internal/chaos/faultproxy"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// upstream echoes the Host header it received.
func upstream(t *testing.T) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "host="+r.Host)
	}))
	t.Cleanup(s.Close)
	return s
}

func start(t *testing.T, target string) *faultproxy.Proxy {
	t.Helper()
	p, err := faultproxy.New(faultproxy.Config{Target: target, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func client(t *testing.T) *http.Client {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 5 * time.Second}
}

func TestFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		faults   faultproxy.Faults
		status   int  // expected status when the request is answered
		dropped  bool // expect a transport error instead
		minDelay time.Duration
		stats    func(faultproxy.Stats) int64
	}{
		{"pass", faultproxy.Faults{}, http.StatusOK, false, 0, func(s faultproxy.Stats) int64 { return s.Passed }},
		{"latency then pass", faultproxy.Faults{Latency: 50 * time.Millisecond}, http.StatusOK, false, 50 * time.Millisecond,
			func(s faultproxy.Stats) int64 { return s.Passed }},
		{"503 by default", faultproxy.Faults{ErrorRate: 1}, http.StatusServiceUnavailable, false, 0, func(s faultproxy.Stats) int64 { return s.Errors }},
		{"500", faultproxy.Faults{ErrorRate: 1, Status: 500}, http.StatusInternalServerError, false, 0, func(s faultproxy.Stats) int64 { return s.Errors }},
		{"hang then drop", faultproxy.Faults{HangRate: 1, Hang: 80 * time.Millisecond}, 0, true, 80 * time.Millisecond,
			func(s faultproxy.Stats) int64 { return s.Hangs }},
		{"reset", faultproxy.Faults{ResetRate: 1}, 0, true, 0, func(s faultproxy.Stats) int64 { return s.Resets }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			up := upstream(t)
			p := start(t, up.URL)
			if err := p.Set(tt.faults); err != nil {
				t.Fatal(err)
			}
			began := time.Now()
			resp, err := client(t).Get(p.URL() + "/bucket/key")
			took := time.Since(began)
			if tt.dropped {
				if err == nil {
					resp.Body.Close()
					t.Fatalf("got status %d, want a dropped connection", resp.StatusCode)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != tt.status {
					t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
				}
				if tt.status == http.StatusOK && string(body) != "host="+strings.TrimPrefix(p.URL(), "http://") {
					t.Fatalf("upstream saw %q: the client's Host header must be kept (SigV4)", body)
				}
			}
			if took < tt.minDelay {
				t.Fatalf("answered after %s, want at least %s", took, tt.minDelay)
			}
			if n := tt.stats(p.Stats()); n != 1 {
				t.Fatalf("counter = %d, want 1 (stats %+v)", n, p.Stats())
			}
		})
	}
}

func TestClearPassesAgain(t *testing.T) {
	t.Parallel()
	p := start(t, upstream(t).URL)
	c := client(t)
	if err := p.Set(faultproxy.Faults{ErrorRate: 1}); err != nil {
		t.Fatal(err)
	}
	p.Clear()
	resp, err := c.Get(p.URL())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d after Clear", resp.StatusCode)
	}
}

// A partial error rate answers roughly that share (the draw is seeded).
func TestErrorRateIsAShare(t *testing.T) {
	t.Parallel()
	p := start(t, upstream(t).URL)
	c := client(t)
	if err := p.Set(faultproxy.Faults{ErrorRate: 0.5}); err != nil {
		t.Fatal(err)
	}
	for range 200 {
		resp, err := c.Get(p.URL())
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	s := p.Stats()
	if s.Errors < 60 || s.Errors > 140 || s.Errors+s.Passed != 200 {
		t.Fatalf("stats %+v: want about half errors", s)
	}
}

// Close releases a held request at once instead of waiting for the hang.
func TestCloseReleasesHeldRequests(t *testing.T) {
	t.Parallel()
	p := start(t, upstream(t).URL)
	if err := p.Set(faultproxy.Faults{HangRate: 1, Hang: faultproxy.MaxHang}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	c := client(t)
	go func() {
		resp, err := c.Get(p.URL())
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for p.Stats().Hangs == 0 {
		if time.Now().After(deadline) {
			t.Fatal("request never reached the proxy")
		}
		time.Sleep(5 * time.Millisecond)
	}
	began := time.Now()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err == nil {
		t.Fatal("held request was answered")
	}
	if took := time.Since(began); took > 3*time.Second {
		t.Fatalf("Close took %s", took)
	}
}

func TestRejectsInvalidConfig(t *testing.T) {
	t.Parallel()
	for _, target := range []string{"", "ftp://x", "http://", "::"} {
		if _, err := faultproxy.New(faultproxy.Config{Target: target}); !errors.Is(err, faultproxy.ErrInvalid) {
			t.Errorf("target %q: err %v, want ErrInvalid", target, err)
		}
	}
	p, err := faultproxy.New(faultproxy.Config{Target: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []faultproxy.Faults{
		{ErrorRate: -0.1}, {HangRate: 1.5}, {ErrorRate: 0.6, ResetRate: 0.6},
		{ErrorRate: 1, Status: 404}, {ErrorRate: 1, Status: 403}, {Hang: -time.Second}, {Hang: 2 * faultproxy.MaxHang},
		{Latency: 2 * faultproxy.MaxHang},
	} {
		if err := p.Set(f); !errors.Is(err, faultproxy.ErrInvalid) {
			t.Errorf("faults %+v: err %v, want ErrInvalid", f, err)
		}
	}
	_ = p.Close()
}

func ExampleProxy() {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }))
	defer up.Close()
	p, _ := faultproxy.New(faultproxy.Config{Target: up.URL})
	_ = p.Start()
	defer p.Close()

	_ = p.Set(faultproxy.Faults{ErrorRate: 1}) // an S3 outage
	c := &http.Client{Transport: &http.Transport{}}
	resp, _ := c.Get(p.URL() + "/bucket/key")
	resp.Body.Close()
	fmt.Println(resp.StatusCode)

	p.Clear() // recovered
	resp, _ = c.Get(p.URL() + "/bucket/key")
	resp.Body.Close()
	fmt.Println(resp.StatusCode)
	c.CloseIdleConnections()
	// Output:
	// 503
	// 200
}
