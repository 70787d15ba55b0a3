package ops_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/tenantry/tenantry/internal/ops"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func get(t *testing.T, client *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServer(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "tenantry_test_total", Help: "test"})
	reg.MustRegister(c)
	c.Add(3)
	s, err := ops.New(ops.Config{Addr: "127.0.0.1:0"}, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	addr, err := s.Listen()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	base := "http://" + addr.String()

	if code, body := get(t, client, base+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz = %d %q", code, body)
	}
	if code, _ := get(t, client, base+"/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz before SetReady = %d, want 503", code)
	}
	s.SetReady(true)
	if code, body := get(t, client, base+"/readyz"); code != 200 || body != "ready\n" || !s.Ready() {
		t.Errorf("/readyz after SetReady = %d %q", code, body)
	}
	if code, body := get(t, client, base+"/metrics"); code != 200 || !strings.Contains(body, "tenantry_test_total 3") {
		t.Errorf("/metrics = %d %q", code, body)
	}
	if code, _ := get(t, client, base+"/debug/pprof/"); code != http.StatusNotFound {
		t.Errorf("unknown path = %d, want 404", code)
	}
	resp, err := client.Post(base+"/readyz", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /readyz = %d, want 405", resp.StatusCode)
	}
	s.SetReady(false)
	if code, _ := get(t, client, base+"/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz after SetReady(false) = %d", code)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if _, err := net.DialTimeout("tcp", addr.String(), time.Second); err == nil {
		t.Error("still listening after shutdown")
	}
	if err := s.Run(context.Background()); err == nil {
		t.Error("second Run accepted")
	}
}

func TestNewRejects(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	for name, tc := range map[string]struct {
		cfg ops.Config
		g   prometheus.Gatherer
	}{
		"no addr":          {ops.Config{}, reg},
		"nil gatherer":     {ops.Config{Addr: ":0"}, nil},
		"negative timeout": {ops.Config{Addr: ":0", ShutdownTimeout: -1}, reg},
	} {
		if _, err := ops.New(tc.cfg, tc.g, nil); !errors.Is(err, ops.ErrInvalidConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestRunFailsWhenAddressTaken(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s, err := ops.New(ops.Config{Addr: ln.Addr().String()}, prometheus.NewRegistry(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Run(context.Background()); err == nil {
		t.Error("Run on a taken address succeeded")
	}
}

// Serve a worker's metrics and flip readiness after the preflight.
func ExampleServer() {
	reg := prometheus.NewRegistry()
	srv, err := ops.New(ops.Config{Addr: "127.0.0.1:0"}, reg, nil)
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- srv.Run(ctx) }()
	// ... preflight passed:
	srv.SetReady(true)
	cancel()
	fmt.Println(<-done, srv.Ready())
	// Output: <nil> false
}
