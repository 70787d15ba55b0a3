package envelope

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
)

// WriteKeyFile writes s's private key to a new file (mode 0600, never
// overwritten) as a PKCS#8 PEM ("pem") or a private JWK ("jwk"); "auto"
// or "" chooses PEM for a .pem name, else JWK.
func WriteKeyFile(s *KeySigner, path, format string) error {
	if format == "" || format == "auto" {
		format = "jwk"
		if strings.HasSuffix(strings.ToLower(path), ".pem") {
			format = "pem"
		}
	}
	var (
		priv []byte
		err  error
	)
	if format == "pem" {
		priv, err = s.MarshalPEM()
	} else {
		priv, err = s.MarshalJWK()
	}
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create private key file (never overwritten): %w", err)
	}
	if _, err := f.Write(priv); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// AddToJWKSFile appends a public key to a JWKS file (created if missing),
// keeping existing entries as they are and refusing a duplicate kid.
func AddToJWKSFile(path string, pub PublicKey) error {
	kid := pub.KeyID
	jwk, err := json.Marshal(pub.JWK())
	if err != nil {
		return err
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := json.Unmarshal(data, &set); err != nil {
			return fmt.Errorf("%s is not a JWKS: %w", path, err)
		}
	case errors.Is(err, os.ErrNotExist):
	default:
		return err
	}
	for _, k := range set.Keys {
		var h struct {
			Kid string `json:"kid"`
		}
		if json.Unmarshal(k, &h) == nil && h.Kid == kid {
			return fmt.Errorf("%s already has kid %q", path, kid)
		}
	}
	set.Keys = append(set.Keys, jwk)
	out, err := json.MarshalIndent(set, "", "  ")
	if err != nil {
		return err
	}
	if _, _, err := ParseJWKS(out, JWKSLimits{}); err != nil {
		return fmt.Errorf("resulting JWKS would not load: %w", err)
	}
	return os.WriteFile(path, append(out, '\n'), 0o644) //nolint:gosec // a JWKS holds public keys only: it is meant to be published
}
