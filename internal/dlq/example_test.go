package dlq_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/dlq"
	"github.com/tenantry/tenantry/internal/envelope"
	"github.com/tenantry/tenantry/internal/objects"
	"github.com/tenantry/tenantry/internal/tenantdb"
)

// A filter selects by verified tenant, dead-letter reason, stage, age and id.
func ExampleFilter_Match() {
	tenant := uuid.MustParse("7d1c5d6e-2f44-4b8e-9a59-3f0c2b7e1a10")
	f := dlq.Filter{Tenants: []uuid.UUID{tenant}, Reasons: []string{"handler_failed"}, MaxAge: 24 * time.Hour}
	verified := dlq.Message{ID: "m1", Verified: true, Tenant: tenant, Reason: "handler_failed", Age: time.Hour}
	forged := verified
	forged.Verified = false // its envelope did not verify: never selected by tenant
	fmt.Println(f.Match(verified), f.Match(forged))
	// Output: true false
}

// The replay history travels on the message as a bounded JSON attribute.
func ExampleFormatHistory() {
	at := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	s := dlq.FormatHistory([]dlq.HistoryEntry{{Reason: "handler_failed", Stage: "embed", Attempts: 5, ReplayedAt: at}})
	fmt.Println(s)
	h, _ := dlq.ParseHistory(s)
	fmt.Println(len(h), h[0].Reason)
	// Output:
	// [{"reason":"handler_failed","stage":"embed","attempts":5,"replayed_at":"2026-11-23T10:00:00Z"}]
	// 1 handler_failed
}

// Inspect a DLQ without consuming it.
func ExampleInspector() {
	ctx := context.Background()
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		panic(err)
	}
	verifier, err := envelope.NewVerifier(envelope.Config{Audience: "tenantry", Issuers: []string{"https://backend.example"}, Keys: mustJWKS()}, nil)
	if err != nil {
		panic(err)
	}
	resolver := &dlq.EnvelopeResolver{Verifier: verifier, Objects: objects.New(s3.NewFromConfig(awsCfg))}
	in, err := dlq.NewInspector(dlq.InspectConfig{QueueURL: os.Getenv("DLQ_URL")}, sqs.NewFromConfig(awsCfg), resolver, nil)
	if err != nil {
		panic(err)
	}
	rep, err := in.Inspect(ctx)
	if err != nil {
		panic(err)
	}
	for _, g := range rep.Groups {
		fmt.Println(g.Tenant, g.Reason, g.Count)
	}
}

// Replay one tenant's failed messages, audited in its chain.
func ExampleReplayer() {
	ctx := context.Background()
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		panic(err)
	}
	verifier, err := envelope.NewVerifier(envelope.Config{Audience: "tenantry", Issuers: []string{"https://backend.example"}, Keys: mustJWKS()}, nil)
	if err != nil {
		panic(err)
	}
	db, err := tenantdb.Open(ctx, tenantdb.Config{URL: os.Getenv("TENANTRY_DATABASE_URL")})
	if err != nil {
		panic(err)
	}
	defer db.Close()
	r, err := dlq.NewReplayer(dlq.ReplayConfig{
		DLQURL: os.Getenv("DLQ_URL"), // the target defaults to the DLQ's source queue
		Filter: dlq.Filter{Tenants: []uuid.UUID{uuid.MustParse("7d1c5d6e-2f44-4b8e-9a59-3f0c2b7e1a10")}, Reasons: []string{"handler_failed"}},
		Reason: "embedder outage INC-42 fixed", Actor: "alice", Rate: 20,
	}, sqs.NewFromConfig(awsCfg), &dlq.EnvelopeResolver{Verifier: verifier}, db, nil)
	if err != nil {
		panic(err)
	}
	st, err := r.Replay(ctx)
	fmt.Println(st.Replayed, st.Rejected, st.Refused, err)
}

func mustJWKS() envelope.KeySource {
	src, err := envelope.NewJWKSSource(envelope.JWKSConfig{Path: "/etc/tenantry/jwks.json"}, nil)
	if err != nil {
		panic(err)
	}
	return src
}
