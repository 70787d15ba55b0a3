package envelope

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Action is what the signer authorises on the resource.
type Action string

// Actions.
const (
	ActionIngest  Action = "ingest"
	ActionReindex Action = "reindex"
	ActionDelete  Action = "delete"
	ActionPurge   Action = "purge"
	// ActionSearch authorises reading the tenant's chunks (tenantry search);
	// its resource is "doc:*" (every document) or one "doc:<id>".
	ActionSearch Action = "search"
	// ActionOperate authorises an operator's audited action on the tenant
	// (the operator console: pause, resume, verify, reindex requests); its
	// resource is "doc:*". It is no job type: the worker refuses it for
	// every job and object.
	ActionOperate Action = "operate"
)

// Valid reports whether a is one of the known actions.
func (a Action) Valid() bool {
	switch a {
	case ActionIngest, ActionReindex, ActionDelete, ActionPurge, ActionSearch, ActionOperate:
		return true
	}
	return false
}

// Claim names (JWT registered names where one exists, short private names
// otherwise: the envelope must fit S3's 2 KB user-metadata budget).
const (
	ClaimIssuer    = "iss"
	ClaimAudience  = "aud"
	ClaimSubject   = "sub"
	ClaimTenant    = "tid"
	ClaimAction    = "act"
	ClaimResource  = "res"
	ClaimBodyHash  = "bh"
	ClaimIssuedAt  = "iat"
	ClaimNotBefore = "nbf"
	ClaimExpiry    = "exp"
	ClaimID        = "jti"
)

// Limits on claim values (bytes).
const (
	maxLabel    = 256  // iss, aud, sub, jti (sub and jti end up in tenantdb.Scope)
	maxResource = 1100 // "s3://" + bucket (63) + "/" + key (1024)
	maxAudience = 8    // entries of an aud array
)

// ResourcePrefixS3 and ResourcePrefixDoc start the two resource forms.
const (
	ResourcePrefixS3  = "s3://"
	ResourcePrefixDoc = "doc:"
)

// Claims is the payload of an envelope. JSON names are in the field tags;
// docs/envelope.md is the reference.
type Claims struct {
	Issuer string // iss: who signed (the backend), one of Config.Issuers
	// Audience (aud) must contain Config.Audience. Signers write a string;
	// the verifier also accepts an array and then holds the matched entry.
	Audience string
	Subject  string    // sub: the actor (user or service) that asked for the work
	TenantID uuid.UUID // tid: the tenant, canonical lower-case UUID
	Action   Action    // act: ingest | reindex | delete | purge
	Resource string    // res: "s3://bucket/key" or "doc:<id>"
	BodyHash string    // bh: base64url(SHA-256(job body)), for SQS jobs
	IssuedAt time.Time // iat
	// NotBefore (nbf) is optional; zero means "from IssuedAt".
	NotBefore time.Time
	Expiry    time.Time // exp
	ID        string    // jti: unique id; becomes the Scope's job id
}

// ObjectResource is the res value binding an S3 object.
func ObjectResource(bucket, key string) string { return ResourcePrefixS3 + bucket + "/" + key }

// DocumentResource is the res value naming a document by id.
func DocumentResource(id string) string { return ResourcePrefixDoc + id }

// BodyHash is the bh value for a job body: base64url (no padding) of its
// SHA-256, computed over exactly these bytes.
func BodyHash(body []byte) string {
	sum := sha256.Sum256(body)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// wireClaims fixes the JSON order and names.
type wireClaims struct {
	Iss string `json:"iss"`
	Aud string `json:"aud"`
	Sub string `json:"sub"`
	Tid string `json:"tid"`
	Act Action `json:"act"`
	Res string `json:"res"`
	Bh  string `json:"bh,omitempty"`
	Iat int64  `json:"iat"`
	Nbf int64  `json:"nbf,omitempty"`
	Exp int64  `json:"exp"`
	Jti string `json:"jti"`
}

// Validate checks that c is something a verifier could accept (shape only:
// no clock, issuer or audience policy). Signers call it before signing.
func (c Claims) Validate() error {
	if err := c.validateShape(); err != nil {
		var e *Error
		if errors.As(err, &e) {
			return fmt.Errorf("envelope: invalid claims: %s", e.Detail)
		}
		return fmt.Errorf("envelope: invalid claims: %w", err)
	}
	return nil
}

func (c Claims) validateShape() error {
	for _, f := range []struct{ name, v string }{
		{ClaimIssuer, c.Issuer}, {ClaimAudience, c.Audience}, {ClaimSubject, c.Subject}, {ClaimID, c.ID},
	} {
		if f.v == "" || len(f.v) > maxLabel || !utf8.ValidString(f.v) {
			return reject(ReasonMalformed, "claim "+f.name+" missing, too long or not UTF-8")
		}
	}
	if c.TenantID == uuid.Nil {
		return reject(ReasonBadTenant, "tenant id is nil")
	}
	if !c.Action.Valid() {
		return reject(ReasonBadAction, "unknown action")
	}
	if !validResource(c.Resource) {
		return reject(ReasonMalformed, "resource is not s3://bucket/key or doc:<id>")
	}
	if key, ok := strings.CutPrefix(c.Resource, ResourcePrefixS3); ok {
		_, key, _ = strings.Cut(key, "/")
		if err := CheckObjectKey(key); err != nil {
			return err
		}
	}
	if c.BodyHash != "" && !validBodyHash(c.BodyHash) {
		return reject(ReasonMalformed, "body hash is not base64url SHA-256")
	}
	if c.IssuedAt.IsZero() || c.Expiry.IsZero() {
		return reject(ReasonMalformed, "iat and exp are required")
	}
	if !c.Expiry.After(c.IssuedAt) {
		return reject(ReasonMalformed, "exp is not after iat")
	}
	if !c.NotBefore.IsZero() && c.NotBefore.After(c.Expiry) {
		return reject(ReasonMalformed, "nbf is after exp")
	}
	return nil
}

func validResource(r string) bool {
	if len(r) > maxResource || !utf8.ValidString(r) {
		return false
	}
	for i := 0; i < len(r); i++ {
		if r[i] < 0x20 || r[i] == 0x7f {
			return false
		}
	}
	switch {
	case strings.HasPrefix(r, ResourcePrefixS3):
		bucket, key, ok := strings.Cut(r[len(ResourcePrefixS3):], "/")
		return ok && bucket != "" && key != ""
	case strings.HasPrefix(r, ResourcePrefixDoc):
		return len(r) > len(ResourcePrefixDoc)
	}
	return false
}

func validBodyHash(s string) bool {
	if len(s) != 43 {
		return false
	}
	b, err := b64.DecodeString(s)
	return err == nil && len(b) == sha256.Size
}

// b64 is strict base64url without padding: non-canonical encodings (stray
// trailing bits) are refused, so one token has one spelling.
var b64 = base64.RawURLEncoding.Strict()

// MarshalJSON writes the compact wire form with fixed names and order.
func (c Claims) MarshalJSON() ([]byte, error) {
	w := wireClaims{
		Iss: c.Issuer, Aud: c.Audience, Sub: c.Subject, Act: c.Action, Res: c.Resource,
		Bh: c.BodyHash, Iat: c.IssuedAt.Unix(), Exp: c.Expiry.Unix(), Jti: c.ID,
	}
	if c.TenantID != uuid.Nil {
		w.Tid = c.TenantID.String()
	}
	if !c.NotBefore.IsZero() {
		w.Nbf = c.NotBefore.Unix()
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(w); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// knownClaims are matched exactly; a name that equals one of them only when
// case is ignored ("TID") is refused, so no parser can read it differently.
var knownClaims = map[string]struct{}{
	ClaimIssuer: {}, ClaimAudience: {}, ClaimSubject: {}, ClaimTenant: {}, ClaimAction: {},
	ClaimResource: {}, ClaimBodyHash: {}, ClaimIssuedAt: {}, ClaimNotBefore: {}, ClaimExpiry: {}, ClaimID: {},
}

// parseClaims reads the payload strictly: one JSON object, valid UTF-8, no
// duplicate names, no case variants of known names, exact types. Unknown
// claims are ignored. Errors are *Error (malformed, bad_tenant, bad_action).
func parseClaims(payload []byte, audience string) (Claims, error) {
	obj, err := strictObject(payload)
	if err != nil {
		return Claims{}, err
	}
	for name := range obj {
		if _, ok := knownClaims[name]; ok {
			continue
		}
		for known := range knownClaims {
			if strings.EqualFold(name, known) {
				return Claims{}, reject(ReasonMalformed, "claim name differs from a known claim only by case")
			}
		}
	}
	var c Claims
	str := func(name string, dst *string, required bool) error {
		raw, ok := obj[name]
		if !ok {
			if required {
				return reject(ReasonMalformed, "claim "+name+" missing")
			}
			return nil
		}
		if !isJSONString(raw) || json.Unmarshal(raw, dst) != nil {
			return reject(ReasonMalformed, "claim "+name+" is not a string")
		}
		return nil
	}
	date := func(name string, dst *time.Time, required bool) error {
		raw, ok := obj[name]
		if !ok {
			if required {
				return reject(ReasonMalformed, "claim "+name+" missing")
			}
			return nil
		}
		n, err := numericDate(raw)
		if err != nil {
			return reject(ReasonMalformed, "claim "+name+" is not an integer NumericDate")
		}
		*dst = time.Unix(n, 0).UTC()
		return nil
	}
	var tid, act string
	steps := []error{
		str(ClaimIssuer, &c.Issuer, true),
		str(ClaimSubject, &c.Subject, true),
		str(ClaimResource, &c.Resource, true),
		str(ClaimBodyHash, &c.BodyHash, false),
		str(ClaimID, &c.ID, true),
		date(ClaimIssuedAt, &c.IssuedAt, true),
		date(ClaimNotBefore, &c.NotBefore, false),
		date(ClaimExpiry, &c.Expiry, true),
	}
	for _, err := range steps {
		if err != nil {
			return Claims{}, err
		}
	}
	aud, err := parseAudience(obj[ClaimAudience], audience)
	if err != nil {
		return Claims{}, err
	}
	c.Audience = aud
	if raw, ok := obj[ClaimTenant]; !ok || !isJSONString(raw) || json.Unmarshal(raw, &tid) != nil {
		return Claims{}, reject(ReasonBadTenant, "tenant id missing or not a string")
	}
	if c.TenantID, err = parseTenant(tid); err != nil {
		return Claims{}, err
	}
	if raw, ok := obj[ClaimAction]; !ok || !isJSONString(raw) || json.Unmarshal(raw, &act) != nil {
		return Claims{}, reject(ReasonBadAction, "action missing or not a string")
	}
	c.Action = Action(act)
	if err := c.validateShape(); err != nil {
		return Claims{}, err
	}
	return c, nil
}

// parseAudience accepts a string or an array of strings; the result is the
// entry equal to want, or the first entry when none is (the verifier then
// rejects with wrong_audience).
func parseAudience(raw json.RawMessage, want string) (string, error) {
	if raw == nil {
		return "", reject(ReasonMalformed, "claim aud missing")
	}
	if isJSONString(raw) {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return "", reject(ReasonMalformed, "claim aud is not a string")
		}
		return s, nil
	}
	var list []json.RawMessage
	if len(raw) == 0 || raw[0] != '[' || json.Unmarshal(raw, &list) != nil || len(list) == 0 || len(list) > maxAudience {
		return "", reject(ReasonMalformed, "claim aud is not a string or a short array of strings")
	}
	first := ""
	for i, item := range list {
		var s string
		if !isJSONString(item) || json.Unmarshal(item, &s) != nil {
			return "", reject(ReasonMalformed, "claim aud array holds a non-string")
		}
		if i == 0 {
			first = s
		}
		if s == want {
			return s, nil
		}
	}
	return first, nil
}

// parseTenant accepts only the canonical form uuid.UUID.String() produces
// (36 characters, lower case, hyphens), so the {tid}/ key prefix has exactly
// one spelling.
func parseTenant(s string) (uuid.UUID, error) {
	if len(s) != 36 {
		return uuid.Nil, reject(ReasonBadTenant, "tenant id is not a canonical UUID")
	}
	id, err := uuid.Parse(s)
	if err != nil || id.String() != s {
		return uuid.Nil, reject(ReasonBadTenant, "tenant id is not a canonical UUID")
	}
	if id == uuid.Nil {
		return uuid.Nil, reject(ReasonBadTenant, "tenant id is nil")
	}
	return id, nil
}

func isJSONString(raw json.RawMessage) bool { return len(raw) >= 2 && raw[0] == '"' }

// numericDate accepts a non-negative integer of at most 11 digits (years
// up to 5138): no fractions, exponents or strings.
func numericDate(raw json.RawMessage) (int64, error) {
	s := string(raw)
	if s == "" || len(s) > 11 {
		return 0, errors.New("bad date")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errors.New("bad date")
		}
	}
	if len(s) > 1 && s[0] == '0' {
		return 0, errors.New("bad date")
	}
	return strconv.ParseInt(s, 10, 64)
}

// strictObject decodes one JSON object into raw members, refusing invalid
// UTF-8, duplicate member names (after unescaping), and trailing data.
func strictObject(data []byte) (map[string]json.RawMessage, error) {
	bad := func(detail string) (map[string]json.RawMessage, error) {
		return nil, reject(ReasonMalformed, detail)
	}
	if !utf8.Valid(data) {
		return bad("JSON is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return bad("JSON is not an object")
	}
	obj := make(map[string]json.RawMessage)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return bad("invalid JSON")
		}
		name, ok := tok.(string)
		if !ok {
			return bad("invalid JSON")
		}
		if _, dup := obj[name]; dup {
			return bad("duplicate JSON member name")
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return bad("invalid JSON")
		}
		if string(raw) == "null" {
			return bad("null JSON member")
		}
		obj[name] = raw
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return bad("invalid JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return bad("trailing data after JSON object")
	}
	return obj, nil
}
