package envelope_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/envelope"
	"github.com/tenantry/tenantry/internal/envelope/envelopetest"
)

// nodeJose returns the node binary and the file URL of the jose ESM entry
// ($TENANTRY_NODE, $TENANTRY_NODE_MODULES), skipping when they are unset.
func nodeJose(t *testing.T) (node, joseURL string) {
	t.Helper()
	node, mods := os.Getenv("TENANTRY_NODE"), os.Getenv("TENANTRY_NODE_MODULES")
	if node == "" || mods == "" {
		t.Skip("TENANTRY_NODE / TENANTRY_NODE_MODULES not set (eval \"$(bash deploy/local/stack.sh env)\")")
	}
	entry := filepath.Join(mods, "jose", "dist", "webapi", "index.js")
	if _, err := os.Stat(entry); err != nil {
		t.Fatalf("jose is not installed in TENANTRY_NODE_MODULES: %v", err)
	}
	return node, (&url.URL{Scheme: "file", Path: entry}).String()
}

// runNode runs an ES module with stdin and returns stdout.
func runNode(t *testing.T, node, file string, stdin []byte, env ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, file)
	cmd.Dir = filepath.Dir(file)
	cmd.Stdin = bytes.NewReader(stdin)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node %s: %v\n%s", filepath.Base(file), err, stderr.String())
	}
	return stdout.Bytes()
}

const interopScript = `
import * as jose from %q;

const input = JSON.parse(await new Promise((resolve) => {
  let s = ""; process.stdin.on("data", (d) => (s += d)); process.stdin.on("end", () => resolve(s));
}));
const out = { tokens: [], jwks: { keys: [] }, verified: [], rejected: [] };

// Node signs: one key per algorithm, kid = RFC 7638 thumbprint.
for (const [alg, opts] of [["ES256", {}], ["EdDSA", { crv: "Ed25519" }]]) {
  const { publicKey, privateKey } = await jose.generateKeyPair(alg, { ...opts, extractable: true });
  const jwk = await jose.exportJWK(publicKey);
  jwk.kid = await jose.calculateJwkThumbprint(jwk);
  jwk.alg = alg; jwk.use = "sig";
  out.jwks.keys.push(jwk);
  out.tokens.push(await new jose.SignJWT(input.claims)
    .setProtectedHeader({ alg, kid: jwk.kid, typ: "tenantry+jwt" })
    .sign(privateKey));
}

// Node verifies what Go signed.
const keys = jose.createLocalJWKSet(input.goJwks);
for (const token of input.goTokens) {
  const { payload, protectedHeader } = await jose.jwtVerify(token, keys, {
    issuer: input.issuer, audience: input.audience, algorithms: ["ES256", "EdDSA"], typ: "tenantry+jwt",
  });
  out.verified.push({ alg: protectedHeader.alg, payload });
}
for (const token of input.badGoTokens) {
  try {
    await jose.jwtVerify(token, keys, { issuer: input.issuer, audience: input.audience, algorithms: ["ES256", "EdDSA"] });
    out.rejected.push("accepted");
  } catch (e) {
    out.rejected.push(e.code);
  }
}
process.stdout.write(JSON.stringify(out));
`

// TestInteropJose: envelopes signed by the npm jose library verify in Go,
// and Go-signed envelopes verify in jose (and tampered ones do not).
func TestInteropJose(t *testing.T) {
	t.Parallel()
	node, joseURL := nodeJose(t)
	dir := t.TempDir()
	script := filepath.Join(dir, "interop.mjs")
	if err := os.WriteFile(script, []byte(strings.Replace(interopScript, "%q", strconvQuote(joseURL), 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	k := envelopetest.New(t) // real clock: jose checks exp against its own
	tenant := uuid.New()
	bucket, key := "uploads", tenant.String()+"/doc-7/notes.md"
	claims := k.ObjectClaims(tenant, bucket, key)
	payload, _ := claims.MarshalJSON()
	goTokens := []string{k.Sign(t, claims), k.SignEdDSA(t, claims)}
	tampered := []byte(goTokens[0])
	if tampered[len(tampered)-5] == 'A' { // stay inside the base64url alphabet
		tampered[len(tampered)-5] = 'B'
	} else {
		tampered[len(tampered)-5] = 'A'
	}
	forged := k.SignWith(t, k.Stranger, claims)
	in, _ := json.Marshal(map[string]any{
		"claims": json.RawMessage(payload), "goJwks": json.RawMessage(k.JWKS(t)), "goTokens": goTokens,
		"badGoTokens": []string{string(tampered), forged}, "issuer": k.Issuer, "audience": k.Audience,
	})
	var out struct {
		Tokens   []string        `json:"tokens"`
		JWKS     json.RawMessage `json:"jwks"`
		Verified []struct {
			Alg     string         `json:"alg"`
			Payload map[string]any `json:"payload"`
		} `json:"verified"`
		Rejected []string `json:"rejected"`
	}
	if err := json.Unmarshal(runNode(t, node, script, in), &out); err != nil {
		t.Fatal(err)
	}

	t.Run("jose signs, Go verifies", func(t *testing.T) {
		ring, skipped, err := envelope.ParseJWKS(out.JWKS, envelope.JWKSLimits{})
		if err != nil || skipped != 0 || ring.Len() != 2 {
			t.Fatalf("jose JWKS: %v (skipped %d)", err, skipped)
		}
		cfg := k.Config()
		cfg.Keys = ring
		v, _ := envelope.NewVerifier(cfg, nil)
		for _, tok := range out.Tokens {
			got, err := v.VerifyObject(context.Background(), tok, bucket, key)
			if err != nil {
				t.Fatalf("jose token %s refused: %v", headerOf(t, tok), err)
			}
			if got.Scope.TenantID() != tenant {
				t.Fatal("wrong tenant")
			}
		}
	})
	t.Run("Go signs, jose verifies", func(t *testing.T) {
		if len(out.Verified) != 2 || out.Verified[0].Alg != "ES256" || out.Verified[1].Alg != "EdDSA" {
			t.Fatalf("jose verified %+v", out.Verified)
		}
		for _, v := range out.Verified {
			if v.Payload["tid"] != tenant.String() || v.Payload["res"] != envelope.ObjectResource(bucket, key) {
				t.Fatalf("jose read payload %v", v.Payload)
			}
		}
		want := []string{"ERR_JWS_SIGNATURE_VERIFICATION_FAILED", "ERR_JWKS_NO_MATCHING_KEY"}
		if strings.Join(out.Rejected, ",") != strings.Join(want, ",") {
			t.Fatalf("jose on tampered/forged tokens: %v, want %v", out.Rejected, want)
		}
	})
}

func strconvQuote(s string) string { b, _ := json.Marshal(s); return string(b) }
