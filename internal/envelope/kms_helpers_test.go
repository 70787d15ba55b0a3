package envelope_test

import (
	"crypto/x509"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

type typesAlg = types.SigningAlgorithmSpec

func publicDER(pub any) ([]byte, error) { return x509.MarshalPKIXPublicKey(pub) }

func headerOf(t *testing.T, tok string) string {
	t.Helper()
	h, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}
