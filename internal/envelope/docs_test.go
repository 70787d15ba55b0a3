package envelope_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/envelope"
)

const docPath = "../../docs/envelope.md"

// docBlock returns the fenced code block that follows "<!-- doctest: name -->".
func docBlock(t *testing.T, name string) string {
	t.Helper()
	doc, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile("(?s)<!-- doctest: " + regexp.QuoteMeta(name) + " -->\n```[a-z]*\n(.*?)\n```")
	m := re.FindSubmatch(doc)
	if m == nil {
		t.Fatalf("docs: no doctest block %q", name)
	}
	return string(m[1])
}

func TestDocsListEveryReason(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range envelope.Reasons() {
		if !strings.Contains(string(doc), "| `"+string(r)+"` |") {
			t.Errorf("docs/envelope.md has no row for reason %q", r)
		}
	}
}

// TestDocExamples runs the TypeScript and Python signing examples of
// docs/envelope.md with real keys and verifies their envelopes in Go.
func TestDocExamples(t *testing.T) {
	t.Parallel()
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	tenant := uuid.New()
	bucket, key := "uploads", tenant.String()+"/doc-1/report.pdf"
	body := `{"type":"reindex","document_id":"doc-1","note":"héllo"}`
	// Keys the examples must refuse to sign: the canonical-key rule.
	other := uuid.NewString()
	badKeys := []string{
		tenant.String() + "/../" + other + "/doc-1/report.pdf",
		tenant.String() + "/x/../../" + other + "/doc-1/report.pdf",
		tenant.String() + "/./report.pdf",
		tenant.String() + "//report.pdf",
		tenant.String() + "/doc-1/sub/report.pdf",
		tenant.String() + "/doc-1/..\\report.pdf",
		tenant.String() + "/doc-1%2Freport.pdf/x",
		tenant.String() + "/\uff0e\uff0e/report.pdf",
		tenant.String() + "/doc-1/\u202ereport.pdf",
		tenant.String() + "/doc-1/e\u0301.pdf",
		tenant.String() + "/doc-1/a\u0007.pdf",
		other + "/doc-1/report.pdf",
	}
	badKeysRaw, _ := json.Marshal(badKeys)
	badKeysJSON := string(badKeysRaw)
	for _, k := range badKeys {
		if envelope.CheckObjectKey(k) == nil && strings.HasPrefix(k, tenant.String()) {
			t.Fatalf("%q is canonical: the list is wrong", k)
		}
	}

	type lang struct {
		name string
		run  func(t *testing.T, keyPEM []byte, alg, kid string) []string
	}
	langs := []lang{
		{"typescript", func(t *testing.T, keyPEM []byte, alg, kid string) []string {
			node, joseURL := nodeJose(t)
			src := strings.Replace(docBlock(t, "ts"), `from "jose"`, "from "+strconvQuote(joseURL), 1) +
				"\nconsole.log(await objectEnvelope(process.argv[2], \"user:42\", process.argv[3], process.argv[4]));" +
				"\nconsole.log(await jobEnvelope(process.argv[2], \"svc:scheduler\", \"reindex\", \"doc:doc-1\", process.argv[5]));\n" +
				"for (const k of JSON.parse(process.env.TENANTRY_BAD_KEYS!)) {\n" +
				"  try { await objectEnvelope(process.argv[2], \"user:42\", process.argv[3], k); console.log(\"accepted \" + k); }\n" +
				"  catch { console.log(\"refused\"); }\n}\n"
			file := filepath.Join(t.TempDir(), "envelope.mts")
			if err := os.WriteFile(file, []byte(src), 0o600); err != nil {
				t.Fatal(err)
			}
			return runCmd(t, []string{node, "--no-warnings", file, tenant.String(), bucket, key, body},
				"TENANTRY_ENVELOPE_KEY="+string(keyPEM), "TENANTRY_ENVELOPE_KID="+kid, "TENANTRY_ENVELOPE_ALG="+alg, "TENANTRY_BAD_KEYS="+badKeysJSON)
		}},
		{"python", func(t *testing.T, keyPEM []byte, alg, kid string) []string {
			py, err := exec.LookPath("python3")
			if err != nil || exec.Command(py, "-c", "import cryptography").Run() != nil {
				t.Skip("python3 with the cryptography package is not installed")
			}
			src := docBlock(t, "python") + `

import json, os, sys
from cryptography.hazmat.primitives import serialization
key = serialization.load_pem_private_key(os.environ["TENANTRY_ENVELOPE_KEY"].encode(), password=None)
kid = os.environ["TENANTRY_ENVELOPE_KID"]
print(object_envelope(key, kid, sys.argv[1], "user:42", sys.argv[2], sys.argv[3]))
print(job_envelope(key, kid, sys.argv[1], "svc:scheduler", "reindex", "doc:doc-1", sys.argv[4].encode("utf-8")))
for k in json.loads(os.environ["TENANTRY_BAD_KEYS"]):
    try:
        object_envelope(key, kid, sys.argv[1], "user:42", sys.argv[2], k)
        print("accepted " + k)
    except ValueError:
        print("refused")
`
			file := filepath.Join(t.TempDir(), "envelope.py")
			if err := os.WriteFile(file, []byte(src), 0o600); err != nil {
				t.Fatal(err)
			}
			return runCmd(t, []string{py, file, tenant.String(), bucket, key, body}, "TENANTRY_ENVELOPE_KEY="+string(keyPEM),
				"TENANTRY_ENVELOPE_KID="+kid, "TENANTRY_BAD_KEYS="+badKeysJSON)
		}},
	}
	for _, l := range langs {
		for _, priv := range []crypto.Signer{ecKey, edKey} {
			signer, err := envelope.NewKeySigner(priv, "")
			if err != nil {
				t.Fatal(err)
			}
			t.Run(l.name+"/"+signer.Algorithm(), func(t *testing.T) {
				t.Parallel()
				der, _ := x509.MarshalPKCS8PrivateKey(priv)
				keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
				lines := l.run(t, keyPEM, signer.Algorithm(), signer.KeyID())
				if len(lines) != 2+len(badKeys) {
					t.Fatalf("want 2 envelopes and %d refusals, got %q", len(badKeys), lines)
				}
				for i, l := range lines[2:] {
					if l != "refused" {
						t.Errorf("the example signed the non-canonical key %q", badKeys[i])
					}
				}
				ring, _ := envelope.NewKeyRing(signer.PublicKey())
				v, err := envelope.NewVerifier(envelope.Config{Audience: "tenantry", Issuers: []string{"https://api.example.com"}, Keys: ring}, nil)
				if err != nil {
					t.Fatal(err)
				}
				ctx := context.Background()
				got, err := v.VerifyObject(ctx, lines[0], bucket, key)
				if err != nil {
					t.Fatalf("object envelope refused: %v", err)
				}
				if got.Scope.TenantID() != tenant || got.Claims.Subject != "user:42" || got.Claims.Expiry.Sub(got.Claims.IssuedAt) != 24*time.Hour {
					t.Fatalf("claims %+v", got.Claims)
				}
				job, err := v.VerifyJob(ctx, lines[1], []byte(body))
				if err != nil {
					t.Fatalf("job envelope refused: %v", err)
				}
				if err := job.RequireAction(envelope.ActionReindex); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

func runCmd(t *testing.T, argv []string, env ...string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", filepath.Base(argv[0]), err, stderr.String())
	}
	return strings.Fields(string(out))
}
