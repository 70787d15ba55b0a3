package envelope_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/asn1"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/envelope"
	"github.com/tenantry/tenantry/internal/envelope/envelopetest"
)

// TestKMSSignAndVerify goes through the real aws-sdk-go-v2 kms client to a
// server speaking KMS's JSON 1.1 protocol with real keys behind it.
func TestKMSSignAndVerify(t *testing.T) {
	t.Parallel()
	for _, spec := range []string{"ECC_NIST_P256", "ECC_NIST_EDWARDS25519"} {
		t.Run(spec, func(t *testing.T) {
			t.Parallel()
			fake := envelopetest.NewKMS(t)
			arn := fake.CreateKey(t, spec)
			fake.SetAlias("alias/tenantry-envelope", arn)
			client := fake.Client()
			signer, err := envelope.NewKMSSigner(client, envelope.KMSSignerConfig{KeyID: "alias/tenantry-envelope"})
			if err != nil {
				t.Fatal(err)
			}
			keys, err := envelope.NewKMSKeySource(client, envelope.KMSKeysConfig{KeyIDs: []string{"alias/tenantry-envelope"}}, nil)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			pub, err := signer.PublicKey(ctx)
			if err != nil {
				t.Fatal(err)
			}
			wantAlg := map[string]string{"ECC_NIST_P256": envelope.AlgES256, "ECC_NIST_EDWARDS25519": envelope.AlgEdDSA}[spec]
			if pub.KeyID != envelope.KMSKeyID(arn) || pub.Algorithm != wantAlg {
				t.Fatalf("kid %q alg %q", pub.KeyID, pub.Algorithm)
			}
			for i := 0; i < 3; i++ {
				signAndVerify(t, signer, keys)
			}
			if n := fake.GetPublicKeyCalls.Load(); n != 2 { // one for the signer, one for the key source
				t.Fatalf("%d GetPublicKey calls, want 2 (cached)", n)
			}
			if n := fake.SignCalls.Load(); n != 3 {
				t.Fatalf("%d Sign calls", n)
			}
		})
	}
}

// TestKMSRotationByAlias: moving the alias to a new key makes the signer
// use it (after Refresh) with the new kid, while envelopes of the old key
// stay valid for one more refresh period.
func TestKMSRotationByAlias(t *testing.T) {
	t.Parallel()
	fake := envelopetest.NewKMS(t)
	oldARN := fake.CreateKey(t, "ECC_NIST_P256")
	fake.SetAlias("alias/env", oldARN)
	clk := newClock()
	client := fake.Client()
	signer, _ := envelope.NewKMSSigner(client, envelope.KMSSignerConfig{KeyID: "alias/env", Refresh: time.Minute, Now: clk.Now})
	keys, _ := envelope.NewKMSKeySource(client, envelope.KMSKeysConfig{KeyIDs: []string{"alias/env"}, Refresh: time.Minute, Now: clk.Now}, nil)
	v, err := envelope.NewVerifier(envelope.Config{Audience: "a", Issuers: []string{"i"}, Keys: keys, Now: clk.Now}, nil)
	if err != nil {
		t.Fatal(err)
	}
	iss, _ := envelope.NewIssuer(signer, envelope.IssuerConfig{Issuer: "i", Audience: "a", Now: clk.Now})
	ctx := context.Background()
	tenant := uuid.New()
	oldTok, _, err := iss.Job(ctx, tenant, "svc", envelope.ActionReindex, "doc:1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.VerifyJob(ctx, oldTok, nil); err != nil {
		t.Fatal(err)
	}
	newARN := fake.CreateKey(t, "ECC_NIST_P256")
	fake.SetAlias("alias/env", newARN)
	clk.Advance(2 * time.Minute)
	newTok, c, err := iss.Job(ctx, tenant, "svc", envelope.ActionReindex, "doc:1", nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = c
	if !strings.Contains(headerOf(t, newTok), envelope.KMSKeyID(newARN)) {
		t.Fatal("signer did not follow the alias to the new key")
	}
	for _, tok := range []string{newTok, oldTok} {
		if _, err := v.VerifyJob(ctx, tok, nil); err != nil {
			t.Fatalf("during rotation: %v", err)
		}
	}
	clk.Advance(2 * time.Minute)
	if _, err := v.VerifyJob(ctx, newTok, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := v.VerifyJob(ctx, oldTok, nil); envelope.ReasonOf(err) != string(envelope.ReasonUnknownKey) {
		t.Fatalf("old key still trusted two periods after the alias moved: %v", err)
	}
}

// TestKMSKeySourceNeverResolvesTokenKids: a kid naming some other KMS key
// (even one that exists) is unknown unless configured.
func TestKMSKeySourceNeverResolvesTokenKids(t *testing.T) {
	t.Parallel()
	fake := envelopetest.NewKMS(t)
	trusted := fake.CreateKey(t, "ECC_NIST_P256")
	other := fake.CreateKey(t, "ECC_NIST_P256")
	clk := newClock()
	keys, _ := envelope.NewKMSKeySource(fake.Client(), envelope.KMSKeysConfig{KeyIDs: []string{trusted}, Now: clk.Now}, nil)
	ctx := context.Background()
	if _, err := keys.PublicKey(ctx, envelope.KMSKeyID(trusted)); err != nil {
		t.Fatal(err)
	}
	calls := fake.GetPublicKeyCalls.Load()
	for _, kid := range []string{envelope.KMSKeyID(other), other, "alias/aws/other"} {
		if _, err := keys.PublicKey(ctx, kid); !errors.Is(err, envelope.ErrUnknownKey) {
			t.Fatalf("kid %q: %v", kid, err)
		}
	}
	if fake.GetPublicKeyCalls.Load() != calls {
		t.Fatal("a token kid caused a KMS call")
	}
}

func TestKMSOutage(t *testing.T) {
	t.Parallel()
	fake := envelopetest.NewKMS(t)
	arn := fake.CreateKey(t, "ECC_NIST_P256")
	clk := newClock()
	client := fake.Client()
	keys, _ := envelope.NewKMSKeySource(client, envelope.KMSKeysConfig{KeyIDs: []string{arn}, Now: clk.Now}, nil)
	signer, _ := envelope.NewKMSSigner(client, envelope.KMSSignerConfig{KeyID: arn, Now: clk.Now})
	ctx := context.Background()
	kid := envelope.KMSKeyID(arn)

	fake.SetDown(true)
	if _, err := keys.PublicKey(ctx, kid); !errors.Is(err, envelope.ErrKeysUnavailable) {
		t.Fatalf("cold start during outage: %v", err)
	}
	if _, err := signer.Sign(ctx, envelopetest.New(t).Claims(uuid.New(), envelope.ActionPurge, "doc:*")); err == nil {
		t.Fatal("signed while KMS is down")
	}
	fake.SetDown(false)
	clk.Advance(time.Minute)
	if _, err := keys.PublicKey(ctx, kid); err != nil {
		t.Fatal(err)
	}
	fake.SetDown(true)
	clk.Advance(2 * time.Hour)
	if _, err := keys.PublicKey(ctx, kid); err != nil {
		t.Fatalf("cached key not served during outage: %v", err)
	}
}

func TestKMSRefusesUnsuitableKeys(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		out  kms.GetPublicKeyOutput
	}{
		{"encryption key", kms.GetPublicKeyOutput{KeyId: str("arn:aws:kms:us-east-1:1:key/a"), KeyUsage: "ENCRYPT_DECRYPT", KeySpec: "ECC_NIST_P256"}},
		{"RSA", kms.GetPublicKeyOutput{KeyId: str("arn:aws:kms:us-east-1:1:key/a"), KeyUsage: "SIGN_VERIFY", KeySpec: "RSA_2048"}},
		{"P-384", kms.GetPublicKeyOutput{KeyId: str("arn:aws:kms:us-east-1:1:key/a"), KeyUsage: "SIGN_VERIFY", KeySpec: "ECC_NIST_P384"}},
		{"no key id", kms.GetPublicKeyOutput{KeyUsage: "SIGN_VERIFY", KeySpec: "ECC_NIST_P256"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, _ := envelope.NewKMSSigner(stubKMS{out: tt.out}, envelope.KMSSignerConfig{KeyID: "k"})
			if _, err := s.PublicKey(context.Background()); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func str(s string) *string { return &s }

type stubKMS struct {
	out kms.GetPublicKeyOutput
	sig []byte
}

func (s stubKMS) GetPublicKey(context.Context, *kms.GetPublicKeyInput, ...func(*kms.Options)) (*kms.GetPublicKeyOutput, error) {
	out := s.out
	return &out, nil
}

func (s stubKMS) Sign(context.Context, *kms.SignInput, ...func(*kms.Options)) (*kms.SignOutput, error) {
	return &kms.SignOutput{Signature: s.sig}, nil
}

// TestKMSSignatureConversion: DER signatures with short or padded integers
// become fixed 64-byte r||s; garbage and signatures that do not verify are
// refused rather than turned into envelopes.
func TestKMSSignatureConversion(t *testing.T) {
	t.Parallel()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := publicDER(&key.PublicKey)
	out := kms.GetPublicKeyOutput{KeyId: str("arn:aws:kms:us-east-1:1:key/k1"), KeyUsage: "SIGN_VERIFY", KeySpec: "ECC_NIST_P256",
		PublicKey: der, SigningAlgorithms: []typesAlg{"ECDSA_SHA_256"}}
	tests := []struct {
		name string
		sig  func(digest []byte) []byte
		ok   bool
	}{
		{"garbage", func([]byte) []byte { return []byte("nope") }, false},
		{"trailing bytes", func(d []byte) []byte { s, _ := ecdsa.SignASN1(rand.Reader, key, d); return append(s, 0) }, false},
		{"r too large", func([]byte) []byte {
			b, _ := asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).Lsh(big.NewInt(1), 300), big.NewInt(1)})
			return b
		}, false},
		{"zero s", func([]byte) []byte {
			b, _ := asn1.Marshal(struct{ R, S *big.Int }{big.NewInt(1), big.NewInt(0)})
			return b
		}, false},
		{"valid DER but wrong signature", func([]byte) []byte {
			b, _ := asn1.Marshal(struct{ R, S *big.Int }{big.NewInt(5), big.NewInt(7)})
			return b
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			digest := sha256.Sum256([]byte("x"))
			s, _ := envelope.NewKMSSigner(stubKMS{out: out, sig: tt.sig(digest[:])}, envelope.KMSSignerConfig{KeyID: "k"})
			_, err := s.Sign(context.Background(), envelopetest.New(t).Claims(uuid.New(), envelope.ActionPurge, "doc:*"))
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

func TestKMSKeyID(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab": "1234abcd-12ab-34cd-56ef-1234567890ab",
		"arn:aws:kms:eu-west-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab": "mrk-1234abcd12ab34cd56ef1234567890ab",
		"1234abcd-12ab-34cd-56ef-1234567890ab":                                        "1234abcd-12ab-34cd-56ef-1234567890ab",
		"alias/x":                                                                     "alias/x",
	} {
		if got := envelope.KMSKeyID(in); got != want {
			t.Errorf("KMSKeyID(%q) = %q, want %q", in, got, want)
		}
	}
}

// SignerPublicKey serves every signer of this package (a KMS signer asks
// KMS, and reports its outage) and refuses any other.
func TestSignerPublicKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	local, err := envelope.GenerateKey(envelope.AlgEdDSA, "local")
	if err != nil {
		t.Fatal(err)
	}
	fake := envelopetest.NewKMS(t)
	arn := fake.CreateKey(t, "ECC_NIST_P256")
	kmsSigner, err := envelope.NewKMSSigner(fake.Client(), envelope.KMSSignerConfig{KeyID: arn})
	if err != nil {
		t.Fatal(err)
	}
	down := envelopetest.NewKMS(t)
	downArn := down.CreateKey(t, "ECC_NIST_P256")
	down.SetDown(true)
	downSigner, err := envelope.NewKMSSigner(down.Client(), envelope.KMSSignerConfig{KeyID: downArn})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		signer  any
		wantKid string
		wantErr func(error) bool
	}{
		{"local key", local, "local", nil},
		{"KMS key", kmsSigner, envelope.KMSKeyID(arn), nil},
		{"KMS down", downSigner, "", func(err error) bool { return err != nil && !errors.Is(err, envelope.ErrForeignSigner) }},
		{"foreign signer", foreignSigner{}, "", func(err error) bool { return errors.Is(err, envelope.ErrForeignSigner) }},
		{"nil", nil, "", func(err error) bool { return errors.Is(err, envelope.ErrForeignSigner) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pub, err := envelope.SignerPublicKey(ctx, tc.signer)
			if tc.wantErr != nil {
				if !tc.wantErr(err) {
					t.Fatalf("error %v", err)
				}
				return
			}
			if err != nil || pub.KeyID != tc.wantKid || pub.Key == nil {
				t.Fatalf("kid %q key %v, %v", pub.KeyID, pub.Key, err)
			}
		})
	}
}

// foreignSigner is a Signer this package did not build.
type foreignSigner struct{}

func (foreignSigner) Sign(context.Context, envelope.Claims) (string, error) { return "", nil }
