package demo

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/breaker"
	"github.com/tenantry/tenantry/internal/pgstore"
	"github.com/tenantry/tenantry/internal/presign"
	"github.com/tenantry/tenantry/internal/tenantdb"
)

// failingUploads is how many uploads of the failing tenant fail (the demo
// worker trips a breaker after 3 consecutive permanent failures).
const failingUploads = 4

// uploadFailing uploads the failing tenant's broken files: a content type
// no extractor reads, so every one fails permanently.
func uploadFailing(ctx context.Context, cfg Config, pre *presign.Presigner) error {
	if cfg.Failing == nil {
		return nil
	}
	for i := range failingUploads {
		name := fmt.Sprintf("export-%d.bin", i)
		if err := uploadBytes(ctx, pre, *cfg.Failing, strings.TrimSuffix(name, ".bin"), name, "application/x-msdownload",
			[]byte("MZ\x90\x00 a broken integration's export")); err != nil {
			return err
		}
		fmt.Fprintf(cfg.Out, "    %-8s %s (broken)\n", cfg.Failing.Name, name)
	}
	return nil
}

// breakerStep shows the failing tenant's breaker: tripped by its failures
// (the other tenants were served meanwhile), its next uploads parked once
// its integration is fixed, then resumed by an operator and released.
func breakerStep(ctx context.Context, cfg Config, pre *presign.Presigner, store *pgstore.Store, scope tenantdb.Scope) error {
	t := *cfg.Failing
	op, err := tenantdb.OpenOperator(ctx, cfg.OwnerURL)
	if err != nil {
		return err
	}
	defer op.Close()
	ops := breaker.NewOperator(op, nil, cfg.Logger)
	status := func() (breaker.Status, error) { return ops.Status(ctx, t.ID) }
	show := func(st breaker.Status) {
		fmt.Fprintf(cfg.Out, "    %-8s breaker %s, %d parked  (reason: %s; by %s)\n", t.Name, st.State, st.Parked, st.Reason, st.Actor)
	}
	st, err := waitFor(ctx, status, func(st breaker.Status) bool { return st.State == breaker.Open })
	if err != nil {
		return fmt.Errorf("the failing tenant's breaker did not trip: %w", err)
	}
	show(st)

	fmt.Fprintf(cfg.Out, "    %s fixes its integration and uploads 2 good documents: parked while the breaker is open\n", t.Name)
	for _, d := range []string{"fixed-1", "fixed-2"} {
		if err := uploadBytes(ctx, pre, t, d, d+".txt", "text/plain",
			[]byte("Initech's integration is fixed: this document about warranty claims is "+d+".")); err != nil {
			return err
		}
	}
	if st, err = waitFor(ctx, status, func(st breaker.Status) bool { return st.Parked == 2 }); err != nil {
		return fmt.Errorf("the good uploads were not parked: %w", err)
	}
	show(st)

	fmt.Fprintf(cfg.Out, "    tenantry tenant resume --tenant %s --reason \"integration fixed\"\n", t.ID)
	if err := ops.Resume(ctx, t.ID, "demo", "integration fixed"); err != nil {
		return err
	}
	for {
		docs, err := store.For(scope).Documents(ctx)
		if err != nil {
			return err
		}
		ready := 0
		for _, d := range docs {
			if strings.HasPrefix(d.DocumentID, "fixed-") && d.Status == "ready" {
				ready++
			}
		}
		if ready == 2 {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("released documents not ready: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	if st, err = status(); err != nil {
		return err
	}
	show(st)
	fmt.Fprintf(cfg.Out, "    both released documents are searchable; trip, resume and each release are in %s's audit chain\n", t.Name)
	return nil
}

func waitFor(ctx context.Context, get func() (breaker.Status, error), ok func(breaker.Status) bool) (breaker.Status, error) {
	for {
		st, err := get()
		if err != nil || ok(st) {
			return st, err
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func uploadBytes(ctx context.Context, pre *presign.Presigner, t Tenant, docID, name, ctype string, data []byte) error {
	p, err := pre.Presign(ctx, presign.Request{TenantID: t.ID, DocumentID: docID, Filename: name,
		Actor: "demo:" + t.Name, ContentType: ctype})
	if err != nil {
		return err
	}
	return presign.Upload(ctx, nil, p, strings.NewReader(string(data)), int64(len(data)))
}

// NewFailingTenant is the demo's third tenant: a fresh id every run, so no
// earlier run's breaker or parked work carries over.
func NewFailingTenant(name string) *Tenant { return &Tenant{Name: name, ID: uuid.New()} }
