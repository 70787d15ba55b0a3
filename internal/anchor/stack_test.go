package anchor_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/anchor"
	"github.com/tenantry/tenantry/internal/audit"
	"github.com/tenantry/tenantry/internal/envelope"
	"github.com/tenantry/tenantry/internal/objects"
	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/internal/tenantdb/tenantdbtest"
)

// lockedBucket creates a bucket with Object Lock enabled on the local S3
// server (skips without one). Its anchors stay locked for the test's short
// retention; the bucket is left behind (it cannot be emptied earlier).
func lockedBucket(t *testing.T) (*s3.Client, string) {
	t.Helper()
	endpoint := os.Getenv("TENANTRY_S3_ENDPOINT")
	if endpoint == "" {
		t.Skip("TENANTRY_S3_ENDPOINT not set: run with the local stack")
	}
	c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"), "")})
	bucket := fmt.Sprintf("anchors-test-%d", time.Now().UnixNano())
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: &bucket, ObjectLockEnabledForBucket: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	return c, bucket
}

// On the local stack: the owner role rewrites a tenant's whole chain in the
// database, recomputing every hash with the database's own function. The
// plain verification passes; the anchored one, against signed anchors under
// COMPLIANCE retention in S3, names the tenant and the first anchored seq.
func TestOwnerRewriteCaughtByS3Anchors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := tenantdbtest.NewDatabase(t)
	client, bucket := lockedBucket(t)
	gw := db.Open(t)
	victim, bystander := uuid.New(), uuid.New()
	write := func(tenant uuid.UUID, n int) {
		err := gw.WithTenant(ctx, tenantdbtest.Scope(t, tenant), func(ctx context.Context, tx tenantdb.Tx) error {
			for i := 0; i < n; i++ {
				if _, err := tx.Audit(ctx, "document.ingested", fmt.Sprintf("doc:d%d", i), "sha256:x", "{}"); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	write(victim, 4)
	write(bystander, 2)

	// The anchoring side logs in as the auditor: it reads every chain and
	// can rewrite none.
	reader, err := tenantdb.OpenAuditReader(ctx, db.AuditorURL)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	store, err := anchor.NewS3Store(client, objects.New(client), anchor.S3Config{Bucket: bucket, Retention: 2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	signer, err := envelope.GenerateKey(envelope.AlgEdDSA, "")
	if err != nil {
		t.Fatal(err)
	}
	ring, err := envelope.NewKeyRing(signer.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	cfg := anchor.CheckConfig{Source: reader, Store: store, Keys: ring}
	anch, err := anchor.New(anchor.Config{CheckConfig: cfg, Signer: signer})
	if err != nil {
		t.Fatal(err)
	}
	res, err := anch.Run(ctx, []uuid.UUID{victim, bystander})
	if err != nil || len(res) != 2 || res[0].Status != "anchored" || res[0].Seq != 4 {
		t.Fatalf("anchor: %+v %v", res, err)
	}
	write(victim, 2)
	if res, err = anch.Run(ctx, []uuid.UUID{victim}); err != nil || res[0].Status != "anchored" || res[0].Seq != 6 {
		t.Fatalf("second anchor: %+v %v", res, err)
	}

	// Object Lock holds on the local server: the anchor can be neither
	// deleted nor overwritten.
	key := anchor.Key("anchors/", victim, 4)
	if _, err := client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &bucket, Key: &key}); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("deleting a locked anchor: %v", err)
	}
	if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: strings.NewReader("x")}); err == nil {
		t.Fatal("overwrote a locked anchor")
	}

	// The owner rewrites the victim's chain from seq 2, consistently.
	owner := tenantdbtest.Conn(t, db.OwnerURL)
	rewrite := fmt.Sprintf(`DO $$
	DECLARE r record; prev bytea := decode(repeat('00', 32), 'hex'); h bytea;
	BEGIN
		PERFORM set_config('tenantry.tenant_id', '%[1]s', true);
		UPDATE audit_events SET detail = '{"rewritten":true}' WHERE seq = 2;
		-- (the owner's read policy shows every tenant's rows: filter)
		FOR r IN SELECT * FROM audit_events WHERE tenant_id = '%[1]s' ORDER BY seq LOOP
			h := tenantry_audit_hash(r.tenant_id, r.seq, prev, r.occurred_at, r.actor, r.job_id, r.action, r.resource, r.payload_hash, r.detail);
			UPDATE audit_events SET prev_hash = prev, hash = h WHERE seq = r.seq;
			prev := h;
		END LOOP;
		UPDATE audit_heads SET hash = prev;
	END $$`, victim)
	if _, err := owner.Exec(ctx, rewrite); err != nil {
		t.Fatal(err)
	}
	plain, err := audit.VerifyAll(ctx, reader, []uuid.UUID{victim, bystander})
	if err != nil || audit.Broken(plain) {
		t.Fatalf("plain verify should pass the consistent rewrite: %+v %v", plain, err)
	}
	reps, err := anchor.Check(ctx, cfg, nil)
	if err != nil || len(reps) != 2 {
		t.Fatalf("anchored verify: %+v %v", reps, err)
	}
	for _, r := range reps {
		switch r.TenantID {
		case victim:
			if r.OK || r.MismatchSeq != 4 || !strings.Contains(r.Problem, victim.String()) {
				t.Fatalf("victim: %+v", r)
			}
			t.Logf("anchored verify: %s", r.Problem)
		case bystander:
			if !r.OK || r.AnchoredSeq != 2 {
				t.Fatalf("bystander: %+v", r)
			}
		}
	}
}
