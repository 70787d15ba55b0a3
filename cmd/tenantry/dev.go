package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/tenantry/tenantry/internal/s3relay"
	"go.uber.org/zap"
)

// DevCmd holds local-stack helpers.
type DevCmd struct {
	S3Relay DevS3RelayCmd `cmd:"" name:"s3-relay" help:"Relay the local S3 server's event webhook into an SQS queue as S3 notifications."`
}

// DevS3RelayCmd runs the webhook relay.
type DevS3RelayCmd struct {
	AWS    AWSFlags `embed:""`
	Listen string   `name:"listen" default:"127.0.0.1:9325" help:"Address to listen on (loopback)."`
	Queue  string   `name:"queue" env:"TENANTRY_EVENTS_QUEUE" default:"tenantry-jobs" help:"Queue name that receives the events."`
}

// Run serves until the context ends.
func (c *DevS3RelayCmd) Run(g *Globals) error {
	ctx := g.Context()
	client, err := c.AWS.settings().SQS(ctx)
	if err != nil {
		return err
	}
	relay, err := s3relay.New(s3relay.Config{QueueName: c.Queue}, client, g.Logger())
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: relay, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	g.Logger().Info("s3 relay listening", zap.String("addr", ln.Addr().String()), zap.String("queue", c.Queue))
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
