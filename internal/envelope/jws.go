package envelope

import (
	"encoding/json"
	"strings"
)

// TokenType is the typ header signers in this package write. Verifiers also
// accept "JWT" (what PyJWT writes by default) or no typ at all.
const TokenType = "tenantry+jwt" //nolint:gosec // a JWS typ header value, not a credential

// header is the protected JWS header of an envelope.
type header struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Typ string `json:"typ,omitempty"`
}

// allowedHeader lists the only header parameters an envelope may carry.
// Everything else (crit, b64, jwk, jku, x5u, x5c, zip, enc, ...) is refused:
// keys are never taken from the token, and no extension changes processing.
var allowedHeader = map[string]struct{}{"alg": {}, "kid": {}, "typ": {}}

// splitCompact cuts a compact JWS into its three base64url parts, refusing
// anything but the strict alphabet (no whitespace, no padding).
func splitCompact(token string) (h, p, s string, err error) {
	if token == "" {
		return "", "", "", reject(ReasonMalformed, "empty token")
	}
	for i := 0; i < len(token); i++ {
		c := token[i]
		if (c < 'A' || c > 'Z') && (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' && c != '_' && c != '.' {
			return "", "", "", reject(ReasonMalformed, "token has characters outside base64url")
		}
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", "", "", reject(ReasonMalformed, "token is not a compact JWS (three parts)")
	}
	if parts[0] == "" || parts[1] == "" {
		return "", "", "", reject(ReasonMalformed, "empty header or payload")
	}
	return parts[0], parts[1], parts[2], nil
}

// parseHeader decodes and checks the protected header: strict JSON, only
// alg/kid/typ, alg in the allowlist, kid present. It runs before any key
// lookup, so nothing in a refused header reaches a key source.
func parseHeader(seg string) (header, error) { return parseHeaderTyp(seg, "") }

// parseHeaderTyp is parseHeader with the typ rule: with payloadTyp "" (an
// envelope) typ may be absent, "JWT" or the envelope type; otherwise (a
// signed payload) typ must be exactly payloadTyp.
func parseHeaderTyp(seg, payloadTyp string) (header, error) {
	raw, err := b64.DecodeString(seg)
	if err != nil {
		return header{}, reject(ReasonMalformed, "header is not base64url")
	}
	obj, err := strictObject(raw)
	if err != nil {
		return header{}, reject(ReasonMalformed, "header is not a strict JSON object")
	}
	for name := range obj {
		if _, ok := allowedHeader[name]; !ok {
			return header{}, reject(ReasonMalformed, "header carries a parameter that is not allowed")
		}
	}
	var h header
	algRaw, ok := obj["alg"]
	if !ok {
		return header{}, reject(ReasonAlgNotAllowed, "alg missing")
	}
	if !isJSONString(algRaw) || json.Unmarshal(algRaw, &h.Alg) != nil {
		return header{}, reject(ReasonMalformed, "alg is not a string")
	}
	if h.Alg != AlgES256 && h.Alg != AlgEdDSA {
		return header{}, reject(ReasonAlgNotAllowed, "alg is not ES256 or EdDSA")
	}
	typRaw, hasTyp := obj["typ"]
	switch {
	case payloadTyp == "" && hasTyp:
		if !isJSONString(typRaw) || json.Unmarshal(typRaw, &h.Typ) != nil || !typeAllowed(h.Typ) {
			return header{}, reject(ReasonMalformed, "typ is not an envelope type")
		}
	case payloadTyp != "":
		if !hasTyp || !isJSONString(typRaw) || json.Unmarshal(typRaw, &h.Typ) != nil || h.Typ != payloadTyp {
			return header{}, reject(ReasonMalformed, "typ is not the expected payload type")
		}
	}
	kidRaw, ok := obj["kid"]
	if !ok {
		return header{}, reject(ReasonUnknownKey, "kid missing")
	}
	if !isJSONString(kidRaw) || json.Unmarshal(kidRaw, &h.Kid) != nil {
		return header{}, reject(ReasonMalformed, "kid is not a string")
	}
	if h.Kid == "" || len(h.Kid) > maxKeyID {
		return header{}, reject(ReasonUnknownKey, "kid empty or too long")
	}
	return h, nil
}

// typeAllowed compares typ case-insensitively with an optional
// "application/" prefix (RFC 7515 section 4.1.9).
func typeAllowed(t string) bool {
	t = strings.ToLower(t)
	t = strings.TrimPrefix(t, "application/")
	return t == "jwt" || t == TokenType
}
