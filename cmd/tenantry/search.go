package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/tenantry/tenantry/internal/envelope"
	"github.com/tenantry/tenantry/internal/pgstore"
	"github.com/tenantry/tenantry/internal/tenantdb"
)

// SearchCmd runs a tenant-scoped cosine KNN query. The tenant comes from a
// signed envelope with action "search" (as a backend would issue per user
// request), verified exactly like the worker verifies jobs.
type SearchCmd struct {
	AWS      AWSFlags              `embed:""`
	Envelope EnvelopeVerifierFlags `embed:"" prefix:"envelope-"`
	Embed    EmbedFlags            `embed:"" prefix:"embed-"`

	DatabaseURL string `name:"database-url" env:"TENANTRY_DATABASE_URL" required:"" help:"Worker role connection string."`
	Token       string `name:"token" required:"" help:"Signed envelope (act=search) naming the tenant; - reads stdin."`
	K           int    `name:"k" default:"5" help:"Number of results."`
	JSON        bool   `name:"json" help:"JSON lines instead of a table."`
	Query       string `arg:"" help:"The query text."`
}

// Run searches.
func (c *SearchCmd) Run(g *Globals) error {
	ctx := g.Context()
	token, err := tokenArg(c.Token)
	if err != nil {
		return err
	}
	v, err := c.Envelope.Verifier(ctx, c.AWS, g.Logger())
	if err != nil {
		return err
	}
	ver, err := v.Verify(ctx, token)
	if err == nil {
		err = ver.RequireAction(envelope.ActionSearch)
	}
	if err != nil {
		return err
	}
	emb, err := c.Embed.Embedder(ctx, c.AWS, g.Logger())
	if err != nil {
		return err
	}
	vec, err := emb.Embed(ctx, []string{c.Query})
	if err != nil {
		return err
	}
	db, err := tenantdb.Open(ctx, tenantdb.Config{URL: c.DatabaseURL, MaxConns: 2, Logger: g.Logger()})
	if err != nil {
		return err
	}
	defer db.Close()
	hits, err := pgstore.New(db, g.Logger()).Search(ctx, ver.Scope, vec[0], c.K)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(os.Stdout)
	for _, h := range hits {
		if c.JSON {
			_ = enc.Encode(h)
			continue
		}
		fmt.Printf("%.3f  %s#%d (page %d)  %s\n", h.Score, h.DocumentID, h.Ordinal, h.Page, oneLine(h.Text, 100))
	}
	return nil
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}
