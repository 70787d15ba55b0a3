package envelopetest

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/envelope"
)

// Binding says which Verifier call a Case is meant for.
type Binding int

// Bindings.
const (
	BindObject Binding = iota // VerifyObject(ctx, Token, Bucket, Key)
	BindJob                   // VerifyJob(ctx, Token, Body)
)

// Case is one hostile envelope and the reason a Verifier built from
// Kit.Config() must give.
type Case struct {
	Name    string
	Token   string
	Reason  envelope.Reason
	Binding Binding
	Bucket  string // BindObject
	Key     string // BindObject
	Body    []byte // BindJob
}

// Check runs the Verifier call the case is meant for.
func (c Case) Check(ctx context.Context, v *envelope.Verifier) (envelope.Verified, error) {
	if c.Binding == BindJob {
		return v.VerifyJob(ctx, c.Token, c.Body)
	}
	return v.VerifyObject(ctx, c.Token, c.Bucket, c.Key)
}

// FitsS3Metadata reports whether the token can travel as an S3 user-metadata
// value (visible ASCII, within the 2 KB budget); the others can only be
// tested in SQS bodies or directly.
func (c Case) FitsS3Metadata() bool {
	if len(c.Token) == 0 || len(c.Token)+len(envelope.MetadataKey) > envelope.S3UserMetadataLimit {
		return false
	}
	for i := 0; i < len(c.Token); i++ {
		if c.Token[i] < 0x21 || c.Token[i] > 0x7e {
			return false
		}
	}
	return true
}

// Target names what the hostile envelopes are presented for.
type Target struct {
	Tenant uuid.UUID
	Bucket string
	Key    string // must start with Tenant + "/"
	Body   []byte // job body for job cases (default `{"job":"reindex"}`)
}

// Hostile returns the attack catalogue for target: each token, presented for
// target's object or job, must be refused with Case.Reason by a Verifier
// built from k.Config(). Cases are independent; the list only grows.
func (k *Kit) Hostile(t testing.TB, target Target) []Case {
	t.Helper()
	if !strings.HasPrefix(target.Key, target.Tenant.String()+"/") {
		t.Fatalf("envelopetest: target key must start with the tenant id")
	}
	if target.Body == nil {
		target.Body = []byte(`{"job":"reindex"}`)
	}
	other := uuid.New()
	obj := k.ObjectClaims(target.Tenant, target.Bucket, target.Key)
	job := k.JobClaims(target.Tenant, envelope.ActionReindex, envelope.DocumentResource("doc-1"), target.Body)
	now := k.Now().Truncate(time.Second)

	var cases []Case
	add := func(name string, r envelope.Reason, tok string) {
		cases = append(cases, Case{Name: name, Token: tok, Reason: r, Binding: BindObject, Bucket: target.Bucket, Key: target.Key})
	}
	addJob := func(name string, r envelope.Reason, tok string) {
		cases = append(cases, Case{Name: name, Token: tok, Reason: r, Binding: BindJob, Body: target.Body})
	}
	payload := func(c envelope.Claims) []byte {
		p, err := c.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	// edit rewrites claim members of obj's JSON (nil value deletes).
	edit := func(c envelope.Claims, set map[string]any) []byte {
		var m map[string]any
		if err := json.Unmarshal(payload(c), &m); err != nil {
			t.Fatal(err)
		}
		for n, v := range set {
			if v == nil {
				delete(m, n)
			} else {
				m[n] = v
			}
		}
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	es := Header(k.ES256)
	hdr := func(set map[string]any) []byte {
		m := map[string]any{"alg": "ES256", "kid": k.ES256.KeyID(), "typ": envelope.TokenType}
		for n, v := range set {
			if v == nil {
				delete(m, n)
			} else {
				m[n] = v
			}
		}
		b, _ := json.Marshal(m)
		return b
	}
	valid := k.Sign(t, obj)
	parts := strings.Split(valid, ".")
	signRaw := func(key string, h, p []byte) string { return k.SignRaw(t, key, h, p) }
	claims := func(mut func(*envelope.Claims)) envelope.Claims {
		c := obj
		mut(&c)
		return c
	}
	// signUnchecked signs claims the Validate step of a Signer would refuse.
	signUnchecked := func(c envelope.Claims) string { return signRaw("es256", es, payload(c)) }

	// --- structure ---
	add("empty token", envelope.ReasonMalformed, "")
	add("two parts", envelope.ReasonMalformed, parts[0]+"."+parts[1])
	add("four parts", envelope.ReasonMalformed, valid+".x")
	add("JWE-like five parts", envelope.ReasonMalformed, parts[0]+"..x.y.z")
	add("whitespace inside", envelope.ReasonMalformed, parts[0]+". "+parts[1]+"."+parts[2])
	add("trailing newline", envelope.ReasonMalformed, valid+"\n")
	add("base64 padding", envelope.ReasonMalformed, parts[0]+"."+parts[1]+"."+parts[2]+"==")
	add("standard base64 alphabet", envelope.ReasonMalformed, strings.NewReplacer("-", "+", "_", "/").Replace(parts[0])+"+/."+parts[1]+"."+parts[2])
	add("non-canonical base64 signature", envelope.ReasonMalformed, parts[0]+"."+parts[1]+"."+nonCanonical(parts[2]))
	add("header not JSON", envelope.ReasonMalformed, b64([]byte("not json"))+"."+parts[1]+"."+parts[2])
	add("header JSON array", envelope.ReasonMalformed, signRaw("es256", []byte(`["ES256"]`), payload(obj)))
	add("oversized token", envelope.ReasonTooLarge, signRaw("es256", es, edit(obj, map[string]any{"pad": strings.Repeat("A", 2000)})))
	add("empty payload", envelope.ReasonMalformed, parts[0]+".."+parts[2])

	// --- algorithm ---
	none := b64([]byte(`{"alg":"none","kid":"`+k.ES256.KeyID()+`"}`)) + "." + parts[1] + "."
	add("alg none", envelope.ReasonAlgNotAllowed, none)
	add("alg None (case trick)", envelope.ReasonAlgNotAllowed, b64(hdr(map[string]any{"alg": "None"}))+"."+parts[1]+".")
	add("alg missing", envelope.ReasonAlgNotAllowed, signRaw("es256", hdr(map[string]any{"alg": nil}), payload(obj)))
	add("alg not a string", envelope.ReasonMalformed, signRaw("es256", hdr(map[string]any{"alg": 7}), payload(obj)))
	add("HS256 with the public key as HMAC secret", envelope.ReasonAlgNotAllowed, hs256(hdr(map[string]any{"alg": "HS256"}), payload(obj), k))
	add("RS256", envelope.ReasonAlgNotAllowed, b64(hdr(map[string]any{"alg": "RS256"}))+"."+parts[1]+"."+parts[2])
	add("ES384", envelope.ReasonAlgNotAllowed, b64(hdr(map[string]any{"alg": "ES384"}))+"."+parts[1]+"."+parts[2])
	add("Ed25519 alg name", envelope.ReasonAlgNotAllowed, b64(hdr(map[string]any{"alg": "Ed25519", "kid": k.EdDSA.KeyID()}))+"."+parts[1]+"."+parts[2])
	add("alg confusion: EdDSA header on the ES256 kid", envelope.ReasonAlgMismatch,
		signRaw("stranger-ed", hdr(map[string]any{"alg": "EdDSA"}), payload(obj)))
	add("alg confusion: ES256 header on the EdDSA kid", envelope.ReasonAlgMismatch,
		signRaw("stranger", hdr(map[string]any{"kid": k.EdDSA.KeyID()}), payload(obj)))

	// --- header parameters ---
	add("kid missing", envelope.ReasonUnknownKey, signRaw("es256", hdr(map[string]any{"kid": nil}), payload(obj)))
	add("kid empty", envelope.ReasonUnknownKey, signRaw("es256", hdr(map[string]any{"kid": ""}), payload(obj)))
	add("kid unknown (stranger's key)", envelope.ReasonUnknownKey, k.SignWith(t, k.Stranger, obj))
	add("kid not a string", envelope.ReasonMalformed, signRaw("es256", hdr(map[string]any{"kid": 1}), payload(obj)))
	add("embedded jwk header (attacker's key)", envelope.ReasonMalformed,
		signRaw("stranger", hdr(map[string]any{"jwk": k.Stranger.PublicKey().JWK()}), payload(obj)))
	add("jku header (attacker's key set URL)", envelope.ReasonMalformed,
		signRaw("stranger", hdr(map[string]any{"jku": "https://attacker.test/jwks.json"}), payload(obj)))
	add("x5u header", envelope.ReasonMalformed, signRaw("stranger", hdr(map[string]any{"x5u": "https://attacker.test/cert.pem"}), payload(obj)))
	add("crit header", envelope.ReasonMalformed, signRaw("es256", hdr(map[string]any{"crit": []string{"exp"}}), payload(obj)))
	add("b64=false header", envelope.ReasonMalformed, signRaw("es256", hdr(map[string]any{"b64": false, "crit": []string{"b64"}}), payload(obj)))
	add("duplicate alg in header", envelope.ReasonMalformed,
		signRaw("es256", []byte(`{"alg":"ES256","kid":"`+k.ES256.KeyID()+`","alg":"none"}`), payload(obj)))
	add("typ of another token kind", envelope.ReasonMalformed, signRaw("es256", hdr(map[string]any{"typ": "at+jwt"}), payload(obj)))

	// --- signature ---
	add("forged: known kid, stranger's signature", envelope.ReasonBadSignature, signRaw("stranger", es, payload(obj)))
	add("tampered payload (tenant swapped)", envelope.ReasonBadSignature,
		parts[0]+"."+b64(edit(obj, map[string]any{"tid": other.String()}))+"."+parts[2])
	add("tampered signature (bit flip)", envelope.ReasonBadSignature, parts[0]+"."+parts[1]+"."+flip(parts[2]))
	add("truncated signature", envelope.ReasonBadSignature, parts[0]+"."+parts[1]+"."+parts[2][:40])
	add("empty signature", envelope.ReasonBadSignature, parts[0]+"."+parts[1]+".")
	add("signature of another envelope", envelope.ReasonBadSignature, parts[0]+"."+parts[1]+"."+strings.Split(k.Sign(t, k.ObjectClaims(target.Tenant, target.Bucket, target.Key+"x")), ".")[2])

	// --- time ---
	add("expired", envelope.ReasonExpired, k.Sign(t, claims(func(c *envelope.Claims) {
		c.IssuedAt, c.NotBefore, c.Expiry = now.Add(-2*time.Hour), now.Add(-2*time.Hour), now.Add(-time.Hour)
	})))
	add("expired just beyond the leeway", envelope.ReasonExpired, k.Sign(t, claims(func(c *envelope.Claims) {
		c.IssuedAt, c.NotBefore, c.Expiry = now.Add(-time.Hour), now.Add(-time.Hour), now.Add(-31*time.Second)
	})))
	add("nbf in the future", envelope.ReasonNotYetValid, k.Sign(t, claims(func(c *envelope.Claims) {
		c.NotBefore, c.Expiry = now.Add(time.Hour), now.Add(2*time.Hour)
	})))
	add("iat in the future", envelope.ReasonNotYetValid, k.Sign(t, claims(func(c *envelope.Claims) {
		c.IssuedAt, c.NotBefore, c.Expiry = now.Add(time.Hour), now.Add(time.Hour), now.Add(2*time.Hour)
	})))
	add("lifetime of 30 days", envelope.ReasonLifetimeExceeded, k.Sign(t, claims(func(c *envelope.Claims) {
		c.Expiry = now.Add(30 * 24 * time.Hour)
	})))
	add("exp before iat", envelope.ReasonMalformed, signUnchecked(claims(func(c *envelope.Claims) { c.Expiry = c.IssuedAt.Add(-time.Second) })))
	add("exp missing", envelope.ReasonMalformed, signRaw("es256", es, edit(obj, map[string]any{"exp": nil})))

	// --- issuer / audience ---
	add("wrong audience", envelope.ReasonWrongAudience, k.Sign(t, claims(func(c *envelope.Claims) { c.Audience = "another-service" })))
	add("audience array without ours", envelope.ReasonWrongAudience, signRaw("es256", es, edit(obj, map[string]any{"aud": []string{"a", "b"}})))
	add("wrong issuer", envelope.ReasonWrongIssuer, k.Sign(t, claims(func(c *envelope.Claims) { c.Issuer = "https://attacker.test" })))
	add("issuer differs by case", envelope.ReasonWrongIssuer, k.Sign(t, claims(func(c *envelope.Claims) { c.Issuer = strings.ToUpper(k.Issuer) })))

	// --- tenant ---
	tid := target.Tenant.String()
	add("tid not a UUID", envelope.ReasonBadTenant, signRaw("es256", es, edit(obj, map[string]any{"tid": "tenant-a"})))
	add("tid upper case", envelope.ReasonBadTenant, signRaw("es256", es, edit(obj, map[string]any{"tid": strings.ToUpper(tid)})))
	add("tid in braces", envelope.ReasonBadTenant, signRaw("es256", es, edit(obj, map[string]any{"tid": "{" + tid + "}"})))
	add("tid urn form", envelope.ReasonBadTenant, signRaw("es256", es, edit(obj, map[string]any{"tid": "urn:uuid:" + tid})))
	add("tid without hyphens", envelope.ReasonBadTenant, signRaw("es256", es, edit(obj, map[string]any{"tid": strings.ReplaceAll(tid, "-", "")})))
	add("tid nil UUID", envelope.ReasonBadTenant, signRaw("es256", es, edit(obj, map[string]any{"tid": uuid.Nil.String()})))
	add("tid missing", envelope.ReasonBadTenant, signRaw("es256", es, edit(obj, map[string]any{"tid": nil})))
	add("tid a number", envelope.ReasonBadTenant, signRaw("es256", es, edit(obj, map[string]any{"tid": 42})))

	// --- binding ---
	otherKey := other.String() + "/doc/file.txt"
	add("key not under the tenant (signed for it)", envelope.ReasonBindingMismatch,
		k.Sign(t, claims(func(c *envelope.Claims) {
			c.Resource = envelope.ObjectResource(target.Bucket, target.Key)
			c.TenantID = other
		})))
	add("resource is another object", envelope.ReasonBindingMismatch,
		k.Sign(t, claims(func(c *envelope.Claims) { c.Resource = envelope.ObjectResource(target.Bucket, tid+"/other/file.txt") })))
	add("resource in another bucket", envelope.ReasonBindingMismatch,
		k.Sign(t, claims(func(c *envelope.Claims) { c.Resource = envelope.ObjectResource(target.Bucket+"-other", target.Key) })))
	add("resource is another tenant's object", envelope.ReasonBindingMismatch,
		k.Sign(t, claims(func(c *envelope.Claims) { c.Resource = envelope.ObjectResource(target.Bucket, otherKey) })))
	add("resource is a prefix of the key", envelope.ReasonNonCanonicalKey,
		signUnchecked(claims(func(c *envelope.Claims) { c.Resource = envelope.ObjectResource(target.Bucket, tid+"/") + "x" })))
	// Keys that are not canonical (envelope.ParseObjectKey), signed by a
	// signer that does not check: refused whatever was signed.
	doc, file := "doc", "file.txt"
	if k, err := envelope.ParseObjectKey(target.Key); err == nil {
		doc, file = k.Document, k.Filename
	}
	for _, nc := range []struct{ name, key string }{
		{"resource climbs into another tenant with ../", tid + "/../" + other.String() + "/" + doc + "/" + file},
		{"resource climbs twice with ../../", tid + "/x/../../" + other.String() + "/" + doc + "/" + file},
		{"resource has a ./ segment", tid + "/./" + doc + "/" + file},
		{"resource has an empty segment", tid + "//" + doc + "/" + file},
		{"resource has four segments", tid + "/" + doc + "/sub/" + file},
		{"resource has a backslash", tid + "/" + doc + "/..\\" + file},
		{"resource has a %2F-escaped slash", tid + "/" + doc + "%2F" + file + "/" + file},
		{"resource has a %2e%2e segment", tid + "/%2e%2e/" + doc + "/" + file},
		{"resource has fullwidth dots", tid + "/\uff0e\uff0e/" + doc + "/" + file},
		{"resource has a fullwidth solidus", tid + "/" + doc + "\uff0f" + file + "/" + file},
		{"resource has a bidi override", tid + "/" + doc + "/\u202e" + file},
		{"resource is not NFC", tid + "/" + doc + "/e\u0301" + file},
	} {
		add(nc.name, envelope.ReasonNonCanonicalKey,
			signUnchecked(claims(func(c *envelope.Claims) { c.Resource = envelope.ObjectResource(target.Bucket, nc.key) })))
	}
	add("resource is a document id", envelope.ReasonBindingMismatch,
		k.Sign(t, claims(func(c *envelope.Claims) { c.Resource = envelope.DocumentResource("doc-1") })))
	add("object envelope for purge", envelope.ReasonWrongAction, k.Sign(t, claims(func(c *envelope.Claims) { c.Action = envelope.ActionPurge })))
	add("unknown action", envelope.ReasonBadAction, signRaw("es256", es, edit(obj, map[string]any{"act": "admin"})))
	add("resource has a control character", envelope.ReasonMalformed,
		signUnchecked(claims(func(c *envelope.Claims) { c.Resource = envelope.ObjectResource(target.Bucket, tid+"/d/\u0007f") })))
	add("resource not a known form", envelope.ReasonMalformed, signRaw("es256", es, edit(obj, map[string]any{"res": "https://bucket/key"})))

	// --- JSON tricks (validly signed, so only the claims parser stands) ---
	p := string(payload(obj))
	add("duplicate tid (last one another tenant)", envelope.ReasonMalformed,
		signRaw("es256", es, []byte(p[:len(p)-1]+`,"tid":"`+other.String()+`"}`)))
	add("case-variant claim TID", envelope.ReasonMalformed,
		signRaw("es256", es, []byte(p[:len(p)-1]+`,"TID":"`+other.String()+`"}`)))
	add("escaped duplicate name t\\u0069d", envelope.ReasonMalformed,
		signRaw("es256", es, []byte(p[:len(p)-1]+`,"t\u0069d":"`+other.String()+`"}`)))
	add("exp as a string", envelope.ReasonMalformed, signRaw("es256", es, edit(obj, map[string]any{"exp": "9999999999"})))
	add("exp as a float", envelope.ReasonMalformed, signRaw("es256", es, edit(obj, map[string]any{"exp": float64(now.Add(time.Hour).Unix()) + 0.5})))
	add("exp in exponent form", envelope.ReasonMalformed, signRaw("es256", es, []byte(strings.Replace(p, `"exp":`, `"exp":1e10,"x":`, 1))))
	add("sub null", envelope.ReasonMalformed, signRaw("es256", es, []byte(strings.Replace(p, `"sub":"user:test"`, `"sub":null`, 1))))
	add("sub too long", envelope.ReasonMalformed, signRaw("es256", es, edit(obj, map[string]any{"sub": strings.Repeat("u", 300)})))
	add("jti missing", envelope.ReasonMalformed, signRaw("es256", es, edit(obj, map[string]any{"jti": nil})))
	add("payload a JSON array", envelope.ReasonMalformed, signRaw("es256", es, []byte(`[`+p+`]`)))
	add("payload with trailing data", envelope.ReasonMalformed, signRaw("es256", es, []byte(p+`{}`)))
	add("payload with a byte order mark", envelope.ReasonMalformed, signRaw("es256", es, append([]byte("\xef\xbb\xbf"), p...)))
	add("payload invalid UTF-8", envelope.ReasonMalformed, signRaw("es256", es, []byte(strings.Replace(p, "user:test", "user:\xff", 1))))

	// --- jobs ---
	addJob("body hash mismatch", envelope.ReasonBodyHashMismatch, k.Sign(t, k.JobClaims(target.Tenant, envelope.ActionReindex, envelope.DocumentResource("doc-1"), []byte(`{"job":"purge"}`))))
	addJob("job without body hash", envelope.ReasonBodyHashMismatch, k.Sign(t, k.Claims(target.Tenant, envelope.ActionReindex, envelope.DocumentResource("doc-1"))))
	addJob("body hash not base64url SHA-256", envelope.ReasonMalformed, signRaw("es256", es, edit(job, map[string]any{"bh": "abc"})))
	addJob("job envelope signed by stranger", envelope.ReasonUnknownKey, k.SignWith(t, k.Stranger, job))
	addJob("expired job envelope", envelope.ReasonExpired, k.Sign(t, func() envelope.Claims {
		c := job
		c.IssuedAt, c.NotBefore, c.Expiry = now.Add(-2*time.Hour), now.Add(-2*time.Hour), now.Add(-time.Hour)
		return c
	}()))
	return cases
}

// hs256 signs like a confused verifier would check: HMAC keyed with the
// public key's PEM.
func hs256(h, p []byte, k *Kit) string {
	der, _ := x509.MarshalPKIXPublicKey(k.ES256.PublicKey().Key)
	secret := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	input := b64(h) + "." + b64(p)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(input))
	return input + "." + b64(m.Sum(nil))
}

// flip changes one bit in the middle of a base64url string, keeping it
// canonical.
func flip(s string) string {
	b := []byte(s)
	i := len(b) / 2
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

// nonCanonical changes the unused low bits of the last character of a
// base64url string whose length leaves spare bits (64-byte signature: 86
// chars, 4 spare bits), so it decodes to the same bytes.
func nonCanonical(s string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, s[len(s)-1])
	return s[:len(s)-1] + string(alphabet[last|1])
}
