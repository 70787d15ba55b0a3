package ops

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// ErrNotReady is a probe answered with a non-2xx status.
var ErrNotReady = errors.New("ops: not ready")

// Probe GETs url (an ops endpoint, e.g. http://127.0.0.1:8080/readyz) and
// returns nil on a 2xx answer, an error wrapping ErrNotReady on another
// status, and the transport's error when nothing answered. It is the
// container health check: distroless images have no shell or curl, so the
// binary probes itself. Only http URLs on loopback are probed.
func Probe(ctx context.Context, rawURL string, timeout time.Duration) error {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "http" || !loopbackHost(u.Hostname()) {
		return fmt.Errorf("ops: probe URL must be http on loopback, got %q", rawURL)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("ops: probe: %w", err)
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 4096))
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("%w: %s answered %d", ErrNotReady, u.Path, res.StatusCode)
	}
	return nil
}

func loopbackHost(h string) bool {
	return h == "localhost" || h == "127.0.0.1" || h == "::1"
}
