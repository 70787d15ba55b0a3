package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"go.uber.org/zap"

	"github.com/tenantry/tenantry/internal/console"
	"github.com/tenantry/tenantry/internal/demo"
	"github.com/tenantry/tenantry/internal/devissuer"
	"github.com/tenantry/tenantry/internal/sqssource"
)

// DevConsoleConfig is `tenantry dev console` (make console): the operator
// console on the local stack after `make demo`, with a dev OIDC issuer.
type DevConsoleConfig struct {
	AWS         AWS
	DatabaseURL string
	OwnerURL    string
	StateDir    string // the demo's signing key and JWKS (the console signs with the demo backend's key)
	Queue       string // the demo's job queue name (its DLQ is Queue-dlq)
	Listen      string // default 127.0.0.1:8090
	IssuerAddr  string // the dev issuer's address, default 127.0.0.1:8091
	Out         io.Writer
}

// DevConsole serves a local dev OIDC issuer (users "operator" and
// "viewer", picked on its page: no password, loopback only) and the console
// wired to the demo's queues and keys, until ctx ends.
func DevConsole(ctx context.Context, cfg DevConsoleConfig, logger *zap.Logger) error {
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:8090"
	}
	if cfg.IssuerAddr == "" {
		cfg.IssuerAddr = "127.0.0.1:8091"
	}
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	host, _, err := net.SplitHostPort(cfg.Listen)
	if err != nil || net.ParseIP(host) == nil || !net.ParseIP(host).IsLoopback() {
		return errors.New("dev console: listen on a loopback address only")
	}
	ln, err := net.Listen("tcp", cfg.IssuerAddr)
	if err != nil {
		return fmt.Errorf("dev console: issuer: %w", err)
	}
	iss, err := devissuer.New("http://" + ln.Addr().String())
	if err != nil {
		return err
	}
	url := "http://" + cfg.Listen
	iss.AddUser("operator", devissuer.User{Groups: []string{"tenantry-operators"}})
	iss.AddUser("viewer", devissuer.User{Groups: []string{"tenantry-viewers"}})
	iss.AddClient(devissuer.Client{ID: "tenantry-console", RedirectURIs: []string{url + "/callback"}})
	hs := &http.Server{Handler: iss.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	defer hs.Close()

	_, _, jwks, err := demo.Keys(cfg.StateDir, demoIssuer, demoAudience, logger)
	if err != nil {
		return err
	}
	cc := ConsoleConfig{
		Console: console.Config{BaseURL: url, InsecureCookies: true,
			OIDC: console.OIDCConfig{Issuer: iss.URL, ClientID: "tenantry-console"}},
		Listen: cfg.Listen, OwnerURL: cfg.OwnerURL, DatabaseURL: cfg.DatabaseURL,
		DLQ:     DLQSource{AWS: cfg.AWS, Trust: Trust{Audience: demoAudience, Issuers: []string{demoIssuer}, JWKSFile: jwks}},
		Signing: Signing{KeyFile: filepath.Join(cfg.StateDir, "signing.jwk")}, Issuer: demoIssuer, Audience: demoAudience,
	}
	client, err := cfg.AWS.SQS(ctx)
	if err != nil {
		return err
	}
	if cc.JobQueueURL, cc.DLQURL, err = sqssource.EnsureQueues(ctx, client, cfg.Queue, cfg.Queue+"-dlq", 5); err != nil {
		return err
	}
	fmt.Fprintf(cfg.Out, "operator console: %s  (dev login: pick \"operator\" or \"viewer\" on the dev issuer's page; Ctrl-C stops it)\n", url)
	return Console(ctx, cc, logger)
}
