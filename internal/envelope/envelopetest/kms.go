package envelopetest

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/google/uuid"
)

// KMS is a fake AWS KMS speaking the JSON 1.1 wire protocol
// (X-Amz-Target: TrentService.Sign / TrentService.GetPublicKey) with real
// keys behind it, for the real aws-sdk-go-v2 kms client. It checks that
// requests are SigV4-signed (not the signature itself).
type KMS struct {
	URL    string
	Region string
	// SignCalls and GetPublicKeyCalls count requests.
	SignCalls, GetPublicKeyCalls atomic.Int64

	mu      sync.Mutex
	keys    map[string]kmsKey // by key id
	aliases map[string]string // alias name -> key id
	down    bool
}

type kmsKey struct {
	id   string
	spec string // ECC_NIST_P256 | ECC_NIST_EDWARDS25519
	ec   *ecdsa.PrivateKey
	ed   ed25519.PrivateKey
}

const fakeAccount = "111122223333"

// NewKMS starts the server; it stops in t.Cleanup.
func NewKMS(t testing.TB) *KMS {
	t.Helper()
	k := &KMS{Region: "us-east-1", keys: map[string]kmsKey{}, aliases: map[string]string{}}
	srv := httptest.NewServer(http.HandlerFunc(k.serve))
	t.Cleanup(srv.Close)
	k.URL = srv.URL
	return k
}

// CreateKey adds a signing key (spec "ECC_NIST_P256" or
// "ECC_NIST_EDWARDS25519") and returns its ARN.
func (k *KMS) CreateKey(t testing.TB, spec string) string {
	t.Helper()
	key := kmsKey{id: uuid.NewString(), spec: spec}
	switch spec {
	case "ECC_NIST_P256":
		ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		key.ec = ec
	case "ECC_NIST_EDWARDS25519":
		_, ed, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		key.ed = ed
	default:
		t.Fatalf("envelopetest: KMS key spec %q not supported", spec)
	}
	k.mu.Lock()
	k.keys[key.id] = key
	k.mu.Unlock()
	return k.arn(key.id)
}

// SetAlias points alias ("alias/name") at the key with the given ARN or id.
func (k *KMS) SetAlias(alias, keyARN string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.aliases[alias] = keyIDOf(keyARN)
}

// SetDown makes every request fail with KMSInternalException (HTTP 500).
func (k *KMS) SetDown(down bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.down = down
}

// Client returns a real KMS client for this server (static credentials, no
// retries so failures show at once).
func (k *KMS) Client() *kms.Client {
	return kms.New(kms.Options{
		Region:       k.Region,
		BaseEndpoint: aws.String(k.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		Retryer:      aws.NopRetryer{},
	})
}

func (k *KMS) arn(id string) string {
	return fmt.Sprintf("arn:aws:kms:%s:%s:key/%s", k.Region, fakeAccount, id)
}

func keyIDOf(s string) string {
	if i := strings.LastIndex(s, ":key/"); i >= 0 {
		return s[i+len(":key/"):]
	}
	return s
}

// find resolves a key id, key ARN, alias name or alias ARN.
func (k *KMS) find(ref string) (kmsKey, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if i := strings.Index(ref, ":alias/"); i >= 0 {
		ref = ref[i+1:]
	}
	if strings.HasPrefix(ref, "alias/") {
		id, ok := k.aliases[ref]
		if !ok {
			return kmsKey{}, false
		}
		ref = id
	}
	key, ok := k.keys[keyIDOf(ref)]
	return key, ok
}

type kmsError struct {
	status int
	typ    string
	msg    string
}

func (k *KMS) serve(w http.ResponseWriter, r *http.Request) {
	out, kerr := k.handle(r)
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	if kerr != nil {
		w.WriteHeader(kerr.status)
		_ = json.NewEncoder(w).Encode(map[string]string{"__type": kerr.typ, "message": kerr.msg})
		return
	}
	_ = json.NewEncoder(w).Encode(out)
}

func (k *KMS) handle(r *http.Request) (any, *kmsError) {
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-amz-json-1.1" {
		return nil, &kmsError{400, "SerializationException", "expected POST application/x-amz-json-1.1"}
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential=") {
		return nil, &kmsError{400, "MissingAuthenticationTokenException", "request is not SigV4-signed"}
	}
	k.mu.Lock()
	down := k.down
	k.mu.Unlock()
	if down {
		return nil, &kmsError{500, "KMSInternalException", "service unavailable"}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return nil, &kmsError{400, "SerializationException", "unreadable body"}
	}
	switch r.Header.Get("X-Amz-Target") {
	case "TrentService.GetPublicKey":
		k.GetPublicKeyCalls.Add(1)
		var in struct{ KeyId string }
		if json.Unmarshal(body, &in) != nil {
			return nil, &kmsError{400, "SerializationException", "bad JSON"}
		}
		key, ok := k.find(in.KeyId)
		if !ok {
			return nil, &kmsError{400, "NotFoundException", "key not found"}
		}
		var pub any
		var alg string
		if key.ec != nil {
			pub, alg = &key.ec.PublicKey, "ECDSA_SHA_256"
		} else {
			pub, alg = key.ed.Public(), "ED25519_SHA_512"
		}
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return nil, &kmsError{500, "KMSInternalException", "marshal"}
		}
		return map[string]any{
			"KeyId": k.arn(key.id), "KeySpec": key.spec, "KeyUsage": "SIGN_VERIFY",
			"PublicKey": der, "SigningAlgorithms": []string{alg},
		}, nil
	case "TrentService.Sign":
		k.SignCalls.Add(1)
		var in struct {
			KeyId            string
			Message          []byte
			MessageType      string
			SigningAlgorithm string
		}
		if json.Unmarshal(body, &in) != nil {
			return nil, &kmsError{400, "SerializationException", "bad JSON"}
		}
		key, ok := k.find(in.KeyId)
		if !ok {
			return nil, &kmsError{400, "NotFoundException", "key not found"}
		}
		var sig []byte
		switch {
		case key.ec != nil && in.SigningAlgorithm == "ECDSA_SHA_256":
			digest := in.Message
			switch in.MessageType {
			case "DIGEST":
				if len(digest) != sha256.Size {
					return nil, &kmsError{400, "ValidationException", "digest length"}
				}
			case "", "RAW":
				sum := sha256.Sum256(in.Message)
				digest = sum[:]
			default:
				return nil, &kmsError{400, "ValidationException", "MessageType"}
			}
			sig, err = ecdsa.SignASN1(rand.Reader, key.ec, digest)
			if err != nil {
				return nil, &kmsError{500, "KMSInternalException", "sign"}
			}
		case key.ed != nil && in.SigningAlgorithm == "ED25519_SHA_512" && in.MessageType == "RAW":
			sig = ed25519.Sign(key.ed, in.Message)
		default:
			return nil, &kmsError{400, "InvalidKeyUsageException", "algorithm not valid for this key"}
		}
		return map[string]any{"KeyId": k.arn(key.id), "Signature": sig, "SigningAlgorithm": in.SigningAlgorithm}, nil
	}
	return nil, &kmsError{400, "UnknownOperationException", "operation not supported by the fake"}
}
