package ops_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tenantry/tenantry/internal/ops"
)

func TestProbe(t *testing.T) {
	t.Parallel()
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, "/readyz", http.StatusFound)
			return
		}
		w.WriteHeader(status)
	}))
	defer srv.Close()
	ctx := context.Background()
	if err := ops.Probe(ctx, srv.URL+"/readyz", time.Second); err != nil {
		t.Fatalf("ready: %v", err)
	}
	status = http.StatusServiceUnavailable
	if err := ops.Probe(ctx, srv.URL+"/readyz", time.Second); !errors.Is(err, ops.ErrNotReady) {
		t.Errorf("503: %v", err)
	}
	if err := ops.Probe(ctx, srv.URL+"/redirect", time.Second); !errors.Is(err, ops.ErrNotReady) {
		t.Errorf("a redirect is followed: %v", err)
	}
	for _, bad := range []string{"https://127.0.0.1/readyz", "http://169.254.169.254/latest/meta-data", "http://example.com/readyz", "file:///etc/passwd", "::"} {
		if err := ops.Probe(ctx, bad, time.Second); err == nil || !strings.Contains(err.Error(), "loopback") {
			t.Errorf("%s: %v", bad, err)
		}
	}
	closed := httptest.NewServer(http.NotFoundHandler())
	url := closed.URL
	closed.Close()
	if err := ops.Probe(ctx, url+"/readyz", time.Second); err == nil || errors.Is(err, ops.ErrNotReady) {
		t.Errorf("nothing listening: %v", err)
	}
}
