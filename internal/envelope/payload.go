package envelope

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"

	"github.com/go-jose/go-jose/v4"
)

// Signed payloads: the same keys, algorithms and header rules as envelopes,
// for documents that are not envelopes (audit chain anchors). Each kind of
// payload has its own typ header, which an envelope verifier refuses and
// which OpenSigned demands exactly, so a signed payload can never pass for an
// envelope, nor an envelope for a payload, nor one kind of payload for
// another. There is one signer per key (KeySigner, KMSSigner), not a second
// signing path.

// MaxPayloadTokenBytes bounds signed payload tokens.
const MaxPayloadTokenBytes = 16 << 10

// payloadType is the shape of a payload typ: "tenantry-<name>+jws".
var payloadType = regexp.MustCompile(`^tenantry-[a-z][a-z0-9-]{0,31}\+jws$`)

// PayloadSigner signs an arbitrary payload under a payload type.
type PayloadSigner interface {
	SignPayload(ctx context.Context, typ string, payload []byte) (string, error)
}

var (
	_ PayloadSigner = (*KeySigner)(nil)
	_ PayloadSigner = (*KMSSigner)(nil)
)

// payloadInput returns base64url(header) "." base64url(payload) for typ.
func payloadInput(alg, kid, typ string, payload []byte) ([]byte, error) {
	if !payloadType.MatchString(typ) {
		return nil, fmt.Errorf("envelope: payload type %q is not of the form tenantry-<name>+jws", typ)
	}
	if len(payload) == 0 {
		return nil, errors.New("envelope: empty payload")
	}
	h, err := json.Marshal(header{Alg: alg, Kid: kid, Typ: typ})
	if err != nil {
		return nil, err
	}
	enc := base64.RawURLEncoding
	out := make([]byte, 0, enc.EncodedLen(len(h))+1+enc.EncodedLen(len(payload)))
	out = enc.AppendEncode(out, h)
	out = append(out, '.')
	out = enc.AppendEncode(out, payload)
	return out, nil
}

// SignPayload implements PayloadSigner.
func (s *KeySigner) SignPayload(_ context.Context, typ string, payload []byte) (string, error) {
	input, err := payloadInput(s.alg, s.kid, typ, payload)
	if err != nil {
		return "", err
	}
	sig, err := s.signBytes(input)
	if err != nil {
		return "", err
	}
	return finishLimit(input, sig, MaxPayloadTokenBytes)
}

// SignPayload implements PayloadSigner (the private key stays in KMS).
func (s *KMSSigner) SignPayload(ctx context.Context, typ string, payload []byte) (string, error) {
	k, err := s.resolve(ctx)
	if err != nil {
		return "", err
	}
	input, err := payloadInput(k.pub.Algorithm, k.pub.KeyID, typ, payload)
	if err != nil {
		return "", err
	}
	sig, err := s.signBytes(ctx, k, input)
	if err != nil {
		return "", err
	}
	return finishLimit(input, sig, MaxPayloadTokenBytes)
}

// SignedPayload is an opened signed payload.
type SignedPayload struct {
	Payload []byte
	KeyID   string
	Alg     string
}

// OpenSigned checks a signed payload token of type typ against keys and
// returns its payload: strict compact JWS, only alg/kid/typ in the header,
// typ exactly typ, ES256 or EdDSA matching the key's algorithm, a kid that
// keys knows, a signature that verifies. Refusals are *Error values with the
// envelope's reason codes (malformed, unknown_key, alg_mismatch,
// bad_signature, ...); a key source outage wraps ErrKeysUnavailable.
func OpenSigned(ctx context.Context, keys KeySource, token, typ string) (SignedPayload, error) {
	if err := ctx.Err(); err != nil {
		return SignedPayload{}, err
	}
	if !payloadType.MatchString(typ) {
		return SignedPayload{}, fmt.Errorf("envelope: payload type %q is not of the form tenantry-<name>+jws", typ)
	}
	if len(token) > MaxPayloadTokenBytes {
		return SignedPayload{}, reject(ReasonTooLarge, "token exceeds the size limit")
	}
	hseg, pseg, sseg, err := splitCompact(token)
	if err != nil {
		return SignedPayload{}, err
	}
	h, err := parseHeaderTyp(hseg, typ)
	if err != nil {
		return SignedPayload{}, err
	}
	payload, err := b64.DecodeString(pseg)
	if err != nil {
		return SignedPayload{}, reject(ReasonMalformed, "payload is not base64url")
	}
	if _, err := b64.DecodeString(sseg); err != nil {
		return SignedPayload{}, reject(ReasonMalformed, "signature is not base64url")
	}
	key, err := keys.PublicKey(ctx, h.Kid)
	switch {
	case err == nil:
	case errors.Is(err, ErrUnknownKey):
		return SignedPayload{}, reject(ReasonUnknownKey, "kid names no trusted key")
	case ctx.Err() != nil:
		return SignedPayload{}, ctx.Err()
	default:
		return SignedPayload{}, fmt.Errorf("%w: %w", ErrKeysUnavailable, err)
	}
	if key.Algorithm != h.Alg {
		return SignedPayload{}, reject(ReasonAlgMismatch, "alg does not match the key's algorithm")
	}
	algs := algsES256
	if key.Algorithm == AlgEdDSA {
		algs = algsEdDSA
	}
	jws, err := jose.ParseSignedCompact(token, algs)
	if err != nil {
		return SignedPayload{}, reject(ReasonMalformed, "token is not a valid JWS")
	}
	if _, err := jws.Verify(key.Key); err != nil {
		return SignedPayload{}, reject(ReasonBadSignature, "signature does not verify")
	}
	return SignedPayload{Payload: payload, KeyID: h.Kid, Alg: h.Alg}, nil
}
