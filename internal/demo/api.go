package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/tenantry/tenantry/internal/devissuer"
	"github.com/tenantry/tenantry/internal/envelope"
	"github.com/tenantry/tenantry/internal/searchapi"
)

// APIConfig is the search API part of the demo (optional).
type APIConfig struct {
	// Command starts `tenantry api` (binary + args); Env is added to its
	// environment, with TENANTRY_OIDC_ISSUER/AUDIENCE of the dev issuer.
	Command []string
	Env     []string
	Addr    string // where it listens, e.g. 127.0.0.1:8088
	// Audience is the OIDC client id the dev issuer's tokens name.
	Audience string
}

// startDevIssuer serves a local OIDC issuer (discovery + JWKS) on loopback.
func startDevIssuer() (*devissuer.Issuer, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	iss, err := devissuer.New("http://" + ln.Addr().String())
	if err != nil {
		ln.Close()
		return nil, nil, err
	}
	srv := &http.Server{Handler: iss.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return iss, func() { _ = srv.Close() }, nil
}

// searchAPI starts `tenantry api` beside the worker, asks the same question
// for each tenant once with a search envelope and once with an OIDC token of
// the local dev issuer, and shows that no answer holds another tenant's
// document and that a forged or foreign token is refused.
func searchAPI(ctx context.Context, cfg Config, issuer *envelope.Issuer) error {
	out := cfg.Out
	dev, stopIssuer, err := startDevIssuer()
	if err != nil {
		return err
	}
	defer stopIssuer()
	fmt.Fprintf(out, "    local OIDC issuer (discovery + JWKS): %s\n", dev.URL)
	env := append(append(os.Environ(), cfg.API.Env...),
		"TENANTRY_OIDC_ISSUER="+dev.URL, "TENANTRY_OIDC_AUDIENCE="+cfg.API.Audience, "TENANTRY_API_LISTEN="+cfg.API.Addr)
	stop, _, err := startProcess(ctx, cfg.API.Command, env, "http://"+cfg.API.Addr+"/healthz", "api", 20*time.Second)
	if err != nil {
		return err
	}
	defer func() {
		if err := stop(); err != nil {
			fmt.Fprintf(out, "    %v\n", err)
		}
	}()
	fmt.Fprintf(out, "    tenantry api ready on %s (GET /healthz: database reachable)\n", cfg.API.Addr)

	ask := func(name string, hdr http.Header) (searchapi.Response, int, string, error) {
		body, _ := json.Marshal(searchapi.Request{Query: cfg.Query, K: 3})
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+cfg.API.Addr+"/v1/search", bytes.NewReader(body))
		req.Header = hdr
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return searchapi.Response{}, 0, "", err
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(resp.Body)
		var r searchapi.Response
		if resp.StatusCode == http.StatusOK {
			err = json.Unmarshal(buf.Bytes(), &r)
		}
		return r, resp.StatusCode, strings.TrimSpace(buf.String()), err
	}
	for _, t := range cfg.Tenants {
		tok, err := issuer.Sign(ctx, issuer.Claims(t.ID, "demo:"+t.Name, envelope.ActionSearch, envelope.DocumentResource("*")))
		if err != nil {
			return err
		}
		idt, err := dev.Sign(devissuer.Token{Subject: "demo-user-" + t.Name, Audience: cfg.API.Audience, TokenUse: "id", Tenant: t.ID.String()})
		if err != nil {
			return err
		}
		for _, via := range []struct {
			name string
			hdr  http.Header
		}{
			{"search envelope", http.Header{searchapi.EnvelopeHeader: {tok}, "Content-Type": {"application/json"}}},
			{"OIDC token", http.Header{"Authorization": {"Bearer " + idt}, "Content-Type": {"application/json"}}},
		} {
			r, status, body, err := ask(t.Name, via.hdr)
			if err != nil {
				return err
			}
			if status != http.StatusOK {
				return fmt.Errorf("search API as %s via %s: %d %s", t.Name, via.name, status, body)
			}
			fmt.Fprintf(out, "    %s via %s (plan %s, %d matching chunks):\n", t.Name, via.name, r.Plan, r.Matching)
			for _, h := range r.Hits {
				if !strings.Contains(h.SourceURI, "/"+t.ID.String()+"/") {
					return fmt.Errorf("tenant %s saw another tenant's chunk through the API: %s", t.Name, h.SourceURI)
				}
				fmt.Fprintf(out, "      %.3f  %-28s %s\n", h.Score, h.DocumentID+"#"+fmt.Sprint(h.Ordinal), snippet(h.Text, 60))
			}
		}
	}
	// Attempts that must fail: a token forged with another key for the
	// same issuer, and one from a foreign issuer.
	impostor, err := devissuer.New(dev.URL)
	if err != nil {
		return err
	}
	other, stopOther, err := startDevIssuer()
	if err != nil {
		return err
	}
	defer stopOther()
	for _, bad := range []struct {
		name string
		iss  *devissuer.Issuer
	}{{"forged token (same issuer, other key)", impostor}, {"foreign issuer's token", other}} {
		tok, err := bad.iss.Sign(devissuer.Token{Subject: "mallory", Audience: cfg.API.Audience, TokenUse: "id", Tenant: cfg.Tenants[0].ID.String()})
		if err != nil {
			return err
		}
		_, status, body, err := ask("", http.Header{"Authorization": {"Bearer " + tok}})
		if err != nil {
			return err
		}
		if status != http.StatusUnauthorized {
			return fmt.Errorf("%s: got %d, want 401", bad.name, status)
		}
		fmt.Fprintf(out, "    %s for %s: %d %s\n", bad.name, cfg.Tenants[0].Name, status, body)
	}
	return nil
}

// startProcess starts a child process (the worker, the search API), its
// output in a temporary log file, and waits until readyURL answers 200. The
// returned stop sends SIGTERM and waits up to stopWithin for a clean exit.
func startProcess(ctx context.Context, args, env []string, readyURL, name string, stopWithin time.Duration) (func() error, string, error) {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = env
	logf, err := os.CreateTemp("", "tenantry-demo-"+name+"-*.log")
	if err != nil {
		return nil, "", err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	stop := func() error {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-done:
			logf.Close()
			if err != nil {
				return fmt.Errorf("%s exited with %w (log: %s)", name, err, logf.Name())
			}
			return nil
		case <-time.After(stopWithin):
			_ = cmd.Process.Kill()
			return fmt.Errorf("%s did not stop within %s", name, stopWithin)
		}
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			return nil, "", fmt.Errorf("%s exited at start: %w (log: %s)", name, err, logf.Name())
		case <-ctx.Done():
			_ = stop()
			return nil, "", errors.Join(ctx.Err(), fmt.Errorf("%s not ready (log: %s)", name, logf.Name()))
		case <-tick.C:
		}
		resp, err := http.Get(readyURL) //nolint:gosec // the loopback health URL the demo built
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return stop, logf.Name(), nil
			}
		}
	}
}
