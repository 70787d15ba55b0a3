package service_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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
	"github.com/tenantry/tenantry/internal/service"
	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/internal/tenantdb/tenantdbtest"
)

// The whole operator path on the local stack: support grant and read land
// in the tenant's chain; audit anchor signs heads into an Object Lock bucket
// with a key file; verify --anchors passes; export --out writes a bundle
// that verify --bundle and the documented shell procedure both accept, and
// both refuse once the bundle's chain is rewritten consistently.
func TestAnchoringAndSupportThroughService(t *testing.T) {
	t.Parallel()
	endpoint := os.Getenv("TENANTRY_S3_ENDPOINT")
	if endpoint == "" {
		t.Skip("TENANTRY_S3_ENDPOINT not set: run with the local stack")
	}
	ctx := context.Background()
	db := tenantdbtest.NewDatabase(t)
	gw := db.Open(t)
	tenant := uuid.New()
	err := gw.WithTenant(ctx, tenantdbtest.Scope(t, tenant), func(ctx context.Context, tx tenantdb.Tx) error {
		for i := 0; i < 3; i++ {
			if _, err := tx.Audit(ctx, "document.ingested", fmt.Sprintf("doc:d%d", i), "sha256:x", `{"n":"ünïcode"}`); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	signer, err := envelope.GenerateKey(envelope.AlgEdDSA, "anchor-test")
	if err != nil {
		t.Fatal(err)
	}
	keyFile, jwksFile := filepath.Join(dir, "anchor.jwk"), filepath.Join(dir, "anchor.jwks")
	if err := envelope.WriteKeyFile(signer, keyFile, "jwk"); err != nil {
		t.Fatal(err)
	}
	if err := envelope.AddToJWKSFile(jwksFile, signer.PublicKey()); err != nil {
		t.Fatal(err)
	}
	client := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"), "")})
	bucket := fmt.Sprintf("anchors-svc-%d", time.Now().UnixNano())
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &bucket, ObjectLockEnabledForBucket: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	a := service.AWS{Region: "us-east-1", S3Endpoint: endpoint}
	// The read-only auditor role is enough to anchor, verify and export.
	settings := service.Anchoring{OwnerURL: db.AuditorURL, Location: "s3://" + bucket + "/anchors/", Retention: 2 * time.Minute,
		Signing: service.Signing{KeyFile: keyFile}, Keys: service.Trust{JWKSFile: jwksFile}}

	// Support: grant (audited), read (audited).
	g, err := service.SupportGrant(ctx, db.OwnerURL, tenant, "carol", "ticket 1", time.Hour, "lead")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := service.SupportRead(ctx, db.SupportURL, service.SupportRequest{Tenant: tenant, Grant: g.ID, Operator: "carol", What: "documents"}); err != nil {
		t.Fatal(err)
	}

	var results []anchor.Result
	if err := service.AuditAnchor(ctx, a, settings, nil, 0, nil, func(r []anchor.Result) error { results = r; return nil }); err != nil {
		t.Fatal(err)
	}
	if len(results) != 1 || results[0].Status != "anchored" || results[0].Seq != 5 {
		t.Fatalf("anchor: %+v", results)
	}
	reps, err := service.AuditVerifyAnchored(ctx, a, settings, nil, nil)
	if err != nil || len(reps) != 1 || !reps[0].OK || reps[0].AnchoredSeq != 5 {
		t.Fatalf("verify --anchors: %+v %v", reps, err)
	}
	// The support read is in the anchored chain.
	plain, err := service.AuditVerify(ctx, db.AuditorURL, []uuid.UUID{tenant})
	if err != nil || audit.Broken(plain) || plain[0].Events != 5 {
		t.Fatalf("plain verify: %+v %v", plain, err)
	}

	bundle := filepath.Join(dir, "bundle")
	if err := service.AuditExportBundle(ctx, a, settings, tenant, bundle, nil); err != nil {
		t.Fatal(err)
	}
	if r, err := service.AuditVerifyBundle(ctx, a, settings.Keys, bundle, nil); err != nil || !r.OK {
		t.Fatalf("verify --bundle: %+v %v", r, err)
	}
	events, err := os.ReadFile(filepath.Join(bundle, anchor.BundleEvents))
	if err != nil || !bytes.Contains(events, []byte(`"action":"support.read"`)) {
		t.Fatalf("bundle events lack the support read: %v", err)
	}
	script := docScript(t)
	if out, ok := runScript(t, script, bundle); !ok || !strings.Contains(out, "OK: chain verified against 1 anchor(s)") {
		t.Fatalf("documented procedure on a good bundle: %s", out)
	}

	// The auditor's copy rewritten consistently (every hash recomputed,
	// SHA256SUMS regenerated): both checks refuse it.
	rewriteBundle(t, bundle, 2)
	if r, err := service.AuditVerifyBundle(ctx, a, settings.Keys, bundle, nil); err != nil || r.OK || r.MismatchSeq != 5 {
		t.Fatalf("verify --bundle after a rewrite: %+v %v", r, err)
	}
	if out, ok := runScript(t, script, bundle); ok || !strings.Contains(out, "chain differs from the anchor at seq 5") {
		t.Fatalf("documented procedure on a rewritten bundle passed: %s", out)
	}
}

// docScript extracts the offline procedure from docs/operations.md.
func docScript(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(raw), "<!-- BEGIN OFFLINE VERIFY -->\n```bash\n")
	body, _, ok2 := strings.Cut(rest, "```\n<!-- END OFFLINE VERIFY -->")
	if !ok || !ok2 {
		t.Fatal("offline procedure not found in docs/operations.md")
	}
	return body
}

func runScript(t *testing.T, script, dir string) (string, bool) {
	t.Helper()
	for _, tool := range []string{"bash", "jq", "openssl", "basenc", "xxd", "sha256sum"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed: the documented procedure cannot run here", tool)
		}
	}
	cmd := exec.Command("bash", "-c", script)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err == nil
}

// rewriteBundle changes the detail of row seq and recomputes every hash
// and SHA256SUMS, as someone rewriting the exported chain would.
func rewriteBundle(t *testing.T, dir string, seq int64) {
	t.Helper()
	path := filepath.Join(dir, anchor.BundleEvents)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var lines []anchor.BundleEvent
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e anchor.BundleEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, e)
	}
	f.Close()
	var out bytes.Buffer
	prev := audit.Genesis
	for _, b := range lines {
		if b.Seq == seq {
			b.Detail = `{"rewritten":true}`
		}
		at, _ := time.Parse("2006-01-02T15:04:05.000000Z", b.OccurredAt)
		e := audit.Event{TenantID: uuid.MustParse(b.TenantID), Seq: b.Seq, OccurredAt: at, Actor: b.Actor, JobID: b.JobID,
			Action: b.Action, Resource: b.Resource, PayloadHash: b.PayloadHash, Detail: b.Detail, PrevHash: prev}
		e.Hash = audit.Hash(e)
		b.PrevHash, b.Hash = hex.EncodeToString(prev), hex.EncodeToString(e.Hash)
		prev = e.Hash
		line, _ := json.Marshal(b)
		out.Write(append(line, '\n'))
	}
	if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	sums, _ := os.ReadFile(filepath.Join(dir, anchor.BundleSums))
	var fixed []string
	for _, l := range strings.Split(strings.TrimSpace(string(sums)), "\n") {
		if strings.HasSuffix(l, "  "+anchor.BundleEvents) {
			s := sha256.Sum256(out.Bytes())
			l = hex.EncodeToString(s[:]) + "  " + anchor.BundleEvents
		}
		fixed = append(fixed, l)
	}
	if err := os.WriteFile(filepath.Join(dir, anchor.BundleSums), []byte(strings.Join(fixed, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}
