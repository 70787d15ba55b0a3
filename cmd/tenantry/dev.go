package main

import (
	"github.com/tenantry/tenantry/internal/s3relay"
	"github.com/tenantry/tenantry/internal/service"
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
	return service.S3Relay(g.Context(), c.AWS.settings(), s3relay.Config{QueueName: c.Queue}, c.Listen, g.Logger())
}
