package main

import (
	"time"

	"github.com/tenantry/tenantry/internal/ops"
)

// HealthCmd is the container health check: the image has no shell or curl.
type HealthCmd struct {
	URL     string        `name:"url" default:"http://127.0.0.1:8080/readyz" help:"Ops endpoint to probe (http on loopback)."`
	Timeout time.Duration `name:"timeout" default:"3s" help:"Give up after this long."`
}

// Run exits 0 when the endpoint answers 2xx, 4 when nothing answers, 1 otherwise.
func (c *HealthCmd) Run(g *Globals) error { return ops.Probe(g.Context(), c.URL, c.Timeout) }
