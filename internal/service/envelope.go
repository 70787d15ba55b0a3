package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/tenantry/tenantry/internal/envelope"
	"github.com/tenantry/tenantry/internal/output"
)

// KeyGen is a new local signing key to create.
type KeyGen struct {
	Alg, KID string
	Out      string // the private key file (mode 0600)
	Format   string // auto, pem or jwk
	JWKS     string // also add the public key to this JWKS file, if set
}

// EnvelopeKeygen creates the key of k and writes its public JWK to w.
func EnvelopeKeygen(k KeyGen, w io.Writer) error {
	s, err := envelope.GenerateKey(k.Alg, k.KID)
	if err != nil {
		return err
	}
	if err := envelope.WriteKeyFile(s, k.Out, k.Format); err != nil {
		return err
	}
	if k.JWKS != "" {
		if err := envelope.AddToJWKSFile(k.JWKS, s.PublicKey()); err != nil {
			return err
		}
	}
	pub, err := json.Marshal(s.PublicKey().JWK())
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, string(pub))
	return err
}

// SignRequest is one envelope to sign.
type SignRequest struct {
	Tenant uuid.UUID
	Actor  string
	Action envelope.Action
	// Resource is s3://bucket/key or doc:<id>; or give Bucket and Key.
	Resource    string
	Bucket, Key string
	// Body, if not nil, is the job body the envelope binds (bh).
	Body []byte
	// JSON writes {envelope, claims, bytes} instead of the bare token.
	JSON bool
}

func (r SignRequest) resource() (string, error) {
	switch {
	case r.Resource != "" && (r.Bucket != "" || r.Key != ""):
		return "", errors.New("use --resource or --bucket/--key, not both")
	case r.Resource == "" && r.Bucket != "" && r.Key != "":
		return envelope.ObjectResource(r.Bucket, r.Key), nil
	case r.Resource == "":
		return "", errors.New("--resource or --bucket and --key are required")
	}
	return r.Resource, nil
}

// EnvelopeSign signs req with the chosen key and claims and writes it to w.
func EnvelopeSign(ctx context.Context, a AWS, s Signing, cfg envelope.IssuerConfig, req SignRequest, w io.Writer) error {
	res, err := req.resource()
	if err != nil {
		return err
	}
	iss, err := s.Issuer(ctx, a, cfg)
	if err != nil {
		return err
	}
	claims := iss.Claims(req.Tenant, req.Actor, req.Action, res)
	if req.Body != nil {
		claims.BodyHash = envelope.BodyHash(req.Body)
	}
	tok, err := iss.Sign(ctx, claims)
	if err != nil {
		return err
	}
	if !req.JSON {
		_, err = fmt.Fprintln(w, tok)
		return err
	}
	return WriteJSON(w, map[string]any{"envelope": tok, "claims": claims, "bytes": len(tok)})
}

// EnvelopeVerify checks req with the verifier of t and writes its verdict
// to w in format f; a refused envelope is also an error (envelope.ErrRefused).
// It is an operator's tool: the verdict mints no scope for the database.
func EnvelopeVerify(ctx context.Context, a AWS, t Trust, req envelope.CheckRequest, w io.Writer, f output.Format, logger *zap.Logger) error {
	v, err := t.Verifier(ctx, a, logger)
	if err != nil {
		return err
	}
	verdict, err := v.Check(ctx, req)
	if err != nil && !errors.Is(err, envelope.ErrRefused) {
		return err
	}
	if werr := output.Write(w, f, verdict); werr != nil {
		return werr
	}
	return err
}

// WriteJSON writes v to w as indented JSON, HTML characters unescaped.
func WriteJSON(w io.Writer, v any) error { return output.WriteJSON(w, v) }
