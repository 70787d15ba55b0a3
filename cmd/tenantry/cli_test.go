package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/exitcode"
	"github.com/tenantry/tenantry/internal/output"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// binary builds the real tenantry binary once per test run.
func binary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary (-short)")
	}
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "tenantry-cli-")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "tenantry")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = &buildError{out: string(out), err: err}
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

type buildError struct {
	out string
	err error
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }

type result struct {
	code           int
	stdout, stderr string
}

// runCLI runs the binary with only the given environment (plus PATH and a
// private HOME): nothing of the developer's AWS or tenantry settings leaks in.
func runCLI(t *testing.T, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), args...)
	home := t.TempDir()
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + home,
		"AWS_CONFIG_FILE=" + filepath.Join(home, "config"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "credentials"),
		"AWS_EC2_METADATA_DISABLED=true", "TENANTRY_LOG_JSON=false", "TENANTRY_LOG_LEVEL=error"}, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, stdout.String(), stderr.String()}
}

func (r result) must(t *testing.T, code int) result {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, code, r.stdout, r.stderr)
	}
	return r
}

func snake(t *testing.T, out string, passThrough ...string) {
	t.Helper()
	bad, err := output.SnakeCaseViolations([]byte(out), passThrough...)
	if err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if len(bad) > 0 {
		t.Errorf("JSON keys not snake_case: %v\n%s", bad, out)
	}
}

// keys creates a signing key and its JWKS with the binary.
func keys(t *testing.T) (keyFile, jwks string) {
	t.Helper()
	dir := t.TempDir()
	keyFile, jwks = filepath.Join(dir, "signing.jwk"), filepath.Join(dir, "trusted.jwks")
	runCLI(t, nil, "envelope", "keygen", "--out", keyFile, "--jwks", jwks).must(t, exitcode.OK)
	return keyFile, jwks
}

// TestExitCodes runs the binary: usage errors exit 2, a refused envelope 3,
// an unreachable endpoint or database 4, success 0.
func TestExitCodes(t *testing.T) {
	t.Parallel()
	keyFile, jwks := keys(t)
	tenant := uuid.NewString()
	bucket, key := "uploads", tenant+"/doc-1/a.pdf"
	signed := runCLI(t, nil, "envelope", "sign", "--envelope-key-file", keyFile, "--envelope-issuer", "https://backend.test",
		"--tenant", tenant, "--actor", "user:1", "--bucket", bucket, "--key", key).must(t, exitcode.OK)
	token := strings.TrimSpace(signed.stdout)
	verify := []string{"envelope", "verify", "--envelope-issuer", "https://backend.test", "--envelope-jwks-file", jwks, "--output", "json"}
	aws := []string{"AWS_ACCESS_KEY_ID=AKIDTEST", "AWS_SECRET_ACCESS_KEY=secret"}

	for _, tc := range []struct {
		name string
		env  []string
		args []string
		code int
		out  string // in stdout or stderr
	}{
		{"no command", nil, nil, exitcode.Usage, "expected one of"},
		{"unknown flag", nil, []string{"version", "--bogus"}, exitcode.Usage, "unknown flag --bogus"},
		{"missing required flag", nil, []string{"envelope", "verify", "x"}, exitcode.Usage, "--envelope-issuer"},
		{"bad enum", nil, []string{"audit", "verify", "--owner-database-url", "postgres://x", "--output", "yaml"}, exitcode.Usage, "--output"},
		{"bad tenant id", nil, []string{"envelope", "sign", "--envelope-key-file", keyFile, "--envelope-issuer", "i", "--tenant", "acme", "--actor", "a", "--resource", "doc:1"}, exitcode.Usage, "not a tenant id"},
		{"no trusted keys", nil, []string{"envelope", "verify", "--envelope-issuer", "i", token}, exitcode.Usage, "no trusted keys"},
		{"no AWS region", aws, []string{"dlq", "redrive", "list", "--dlq-url", "https://sqs.example/q"}, exitcode.Usage, "no AWS region"},
		{"valid envelope", nil, append(slicesClone(verify), "--bucket", bucket, "--key", key, token), exitcode.OK, `"valid": true`},
		{"envelope bound to another object", nil, append(slicesClone(verify), "--bucket", bucket, "--key", uuid.NewString()+"/doc-1/a.pdf", token), exitcode.Refused, `"valid": false`},
		{"forged envelope", nil, append(slicesClone(verify), token[:len(token)-4]+"AAAA"), exitcode.Refused, `"reason"`},
		{"garbage", nil, append(slicesClone(verify), "not-a-jws"), exitcode.Refused, `"valid": false`},
		{"SQS unreachable", aws, []string{"dlq", "redrive", "list", "--region", "eu-west-1", "--endpoint-url", "http://127.0.0.1:1", "--dlq-url", "http://127.0.0.1:1/q"}, exitcode.Unreachable, "connect"},
		{"database unreachable", nil, []string{"audit", "verify", "--owner-database-url", "postgres://u:p@127.0.0.1:1/db?connect_timeout=5"}, exitcode.Unreachable, "127.0.0.1"},
		{"version", nil, []string{"version"}, exitcode.OK, "tenantry"},
		{"health: nothing listening", nil, []string{"health", "--url", "http://127.0.0.1:1/readyz"}, exitcode.Unreachable, "refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := runCLI(t, tc.env, tc.args...).must(t, tc.code)
			if !strings.Contains(r.stdout+r.stderr, tc.out) {
				t.Errorf("output lacks %q\nstdout: %s\nstderr: %s", tc.out, r.stdout, r.stderr)
			}
			if strings.HasPrefix(strings.TrimSpace(r.stdout), "{") {
				snake(t, r.stdout)
			}
		})
	}
}

func slicesClone(s []string) []string { return append([]string(nil), s...) }

// TestDeprecatedSpellings: the old flag and variable names still work and
// warn on stderr; the new ones do not warn.
func TestDeprecatedSpellings(t *testing.T) {
	t.Parallel()
	keyFile, jwks := keys(t)
	tenant := uuid.NewString()
	oldSign := runCLI(t, nil, "envelope", "sign", "--key-file", keyFile, "--issuer", "https://backend.test", "--ttl", "1h",
		"--tenant", tenant, "--actor", "user:1", "--resource", "doc:doc-1", "--action", "reindex", "--json").must(t, exitcode.OK)
	for _, w := range []string{"--key-file is deprecated; use --envelope-key-file", "--issuer is deprecated; use --envelope-issuer",
		"--ttl is deprecated", "--json is deprecated; use --output json"} {
		if !strings.Contains(oldSign.stderr, w) {
			t.Errorf("no warning %q in %q", w, oldSign.stderr)
		}
	}
	var signed struct {
		Envelope string `json:"envelope"`
	}
	if err := json.Unmarshal([]byte(oldSign.stdout), &signed); err != nil || signed.Envelope == "" {
		t.Fatalf("--json output: %v %s", err, oldSign.stdout)
	}
	snake(t, oldSign.stdout)
	r := runCLI(t, nil, "envelope", "verify", "--issuer", "https://backend.test", "--jwks-file", jwks, "--leeway", "1m", signed.Envelope).must(t, exitcode.OK)
	if !strings.Contains(r.stderr, "--jwks-file is deprecated") {
		t.Errorf("no warning for --jwks-file: %q", r.stderr)
	}
	r = runCLI(t, nil, "envelope", "verify", "--envelope-issuer", "https://backend.test", "--envelope-jwks-file", jwks, signed.Envelope).must(t, exitcode.OK)
	if strings.Contains(r.stderr, "deprecated") {
		t.Errorf("new spellings warn: %q", r.stderr)
	}
	// presign reads the old TENANTRY_UPLOAD_BUCKET, warns, and prints snake_case JSON.
	env := []string{"AWS_ACCESS_KEY_ID=AKIDTEST", "AWS_SECRET_ACCESS_KEY=secret", "AWS_REGION=eu-west-1", "TENANTRY_UPLOAD_BUCKET=old-bucket",
		"TENANTRY_ENVELOPE_KEY_FILE=" + keyFile, "TENANTRY_ENVELOPE_ISSUER=https://backend.test"}
	p := runCLI(t, env, "presign", "--tenant", tenant, "--actor", "user:1", "--filename", "a.pdf").must(t, exitcode.OK)
	if !strings.Contains(p.stderr, "TENANTRY_UPLOAD_BUCKET is deprecated; use TENANTRY_BUCKET") || !strings.Contains(p.stdout, `"bucket": "old-bucket"`) {
		t.Errorf("presign with TENANTRY_UPLOAD_BUCKET: %s / %s", p.stdout, p.stderr)
	}
	if !strings.Contains(p.stdout, "s3.eu-west-1.amazonaws.com") {
		t.Errorf("presign ignored AWS_REGION: %s", p.stdout)
	}
	snake(t, p.stdout, "headers")
	table := runCLI(t, append(env, "TENANTRY_BUCKET=new-bucket"), "presign", "--tenant", tenant, "--actor", "user:1", "--filename", "a.pdf", "-o", "table").must(t, exitcode.OK)
	if !regexp.MustCompile(`(?m)^bucket\s+new-bucket$`).MatchString(table.stdout) || strings.Contains(table.stderr, "deprecated") {
		t.Errorf("presign -o table with TENANTRY_BUCKET: %s / %s", table.stdout, table.stderr)
	}
}

// fakeSQS answers the two calls of `dlq redrive list` and records the
// region each request was signed for.
func fakeSQS(t *testing.T) (*httptest.Server, func() []string) {
	t.Helper()
	var mu sync.Mutex
	var regions []string
	scope := regexp.MustCompile(`Credential=[^/]+/\d+/([^/]+)/sqs/`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if m := scope.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
			mu.Lock()
			regions = append(regions, m[1])
			mu.Unlock()
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		switch r.Header.Get("X-Amz-Target") {
		case "AmazonSQS.GetQueueAttributes":
			_, _ = w.Write([]byte(`{"Attributes":{"QueueArn":"arn:aws:sqs:eu-west-1:123456789012:dlq"}}`))
		case "AmazonSQS.ListMessageMoveTasks":
			_, _ = w.Write([]byte(`{"Results":[{"Status":"COMPLETED","SourceArn":"arn:aws:sqs:eu-west-1:123456789012:dlq","ApproximateNumberOfMessagesMoved":3}]}`))
		default:
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"__type":"com.amazon.coral.service#UnknownOperationException"}`))
		}
	}))
	t.Cleanup(srv.Close)
	return srv, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), regions...)
	}
}

// TestAWSDefaultChain: the region comes from --region, else AWS_REGION,
// else AWS_DEFAULT_REGION, else --profile's (or AWS_PROFILE's) config;
// never from a built-in default that would override them.
func TestAWSDefaultChain(t *testing.T) {
	t.Parallel()
	creds := []string{"AWS_ACCESS_KEY_ID=AKIDTEST", "AWS_SECRET_ACCESS_KEY=secret"}
	for _, tc := range []struct {
		name    string
		env     []string
		args    []string
		profile string // written to the config file as [profile ops] region
		want    string
	}{
		{"AWS_REGION", []string{"AWS_REGION=eu-west-1"}, nil, "", "eu-west-1"},
		{"AWS_DEFAULT_REGION", []string{"AWS_DEFAULT_REGION=eu-central-1"}, nil, "", "eu-central-1"},
		{"--region wins over the environment", []string{"AWS_REGION=eu-west-1"}, []string{"--region", "ap-south-1"}, "", "ap-south-1"},
		{"--profile", nil, []string{"--profile", "ops"}, "sa-east-1", "sa-east-1"},
		{"AWS_PROFILE", []string{"AWS_PROFILE=ops"}, nil, "ca-central-1", "ca-central-1"},
		{"AWS_REGION wins over the profile", []string{"AWS_PROFILE=ops", "AWS_REGION=eu-north-1"}, nil, "ca-central-1", "eu-north-1"},
		{"custom endpoint without any region", nil, nil, "", "us-east-1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, regions := fakeSQS(t)
			env := append(slicesClone(creds), tc.env...)
			if tc.profile != "" {
				dir := t.TempDir()
				cfg, cred := filepath.Join(dir, "config"), filepath.Join(dir, "credentials")
				if err := os.WriteFile(cfg, []byte("[profile ops]\nregion = "+tc.profile+"\n"), 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(cred, []byte("[ops]\naws_access_key_id = AKIDOPS\naws_secret_access_key = secret\n"), 0o600); err != nil {
					t.Fatal(err)
				}
				env = append(env, "AWS_CONFIG_FILE="+cfg, "AWS_SHARED_CREDENTIALS_FILE="+cred)
			}
			args := append([]string{"dlq", "redrive", "list", "--endpoint-url", srv.URL, "--dlq-url", srv.URL + "/123456789012/dlq", "-o", "json"}, tc.args...)
			r := runCLI(t, env, args...).must(t, exitcode.OK)
			got := regions()
			if len(got) == 0 || got[0] != tc.want {
				t.Errorf("signed for %v, want %s", got, tc.want)
			}
			if !strings.Contains(r.stdout, `"moved":3`) {
				t.Errorf("output %s", r.stdout)
			}
			snake(t, r.stdout)
		})
	}
	t.Run("per-service endpoint overrides --endpoint-url", func(t *testing.T) {
		t.Parallel()
		srv, regions := fakeSQS(t)
		r := runCLI(t, append(slicesClone(creds), "AWS_REGION=eu-west-1", "TENANTRY_SQS_ENDPOINT="+srv.URL),
			"dlq", "redrive", "list", "--endpoint-url", "http://127.0.0.1:1", "--dlq-url", srv.URL+"/q").must(t, exitcode.OK)
		if len(regions()) == 0 || !strings.Contains(r.stdout, "COMPLETED") {
			t.Errorf("the SQS endpoint was not used: %s %s", r.stdout, r.stderr)
		}
	})
}
