package envelope

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"golang.org/x/text/unicode/norm"
)

// Limits of a canonical object key.
const (
	// MaxKeyBytes is S3's limit on an object key.
	MaxKeyBytes = 1024
	// MaxDocumentIDBytes bounds the document segment (the database's limit
	// on documents.document_id).
	MaxDocumentIDBytes = 256
	// MaxFilenameBytes bounds the filename segment (a POSIX NAME_MAX).
	MaxFilenameBytes = 255
)

// ObjectKey is a canonical object key: {tenant}/{document}/{filename}.
type ObjectKey struct {
	Tenant   uuid.UUID
	Document string
	Filename string
}

// String is the key itself.
func (k ObjectKey) String() string {
	return k.Tenant.String() + "/" + k.Document + "/" + k.Filename
}

// ParseObjectKey is the one canonical-key rule (design invariant 8). A key
// means something only if it is exactly three non-empty segments
// {tenant}/{document}/{filename} where:
//   - the tenant is a canonical lower-case, non-nil UUID;
//   - no segment is "." or "..", nor folds to one under NFKC ("．．");
//   - there is no backslash, nor a character that folds to "/" or "\";
//   - there are no control characters, bidirectional overrides, U+FFFD or
//     non-characters;
//   - there is no percent-escape of a separator, a dot, a control character
//     or of "%" itself (a server or a second decoder could resolve them);
//   - the key is valid UTF-8 in Unicode normalisation form C;
//   - the key is at most MaxKeyBytes, the document MaxDocumentIDBytes and
//     the filename MaxFilenameBytes bytes long.
//
// Anything else is an *Error with ReasonNonCanonicalKey (ReasonBadTenant for
// the tenant segment), whatever an
// envelope says about it: servers differ in how they resolve such keys
// (AWS S3 takes them literally; others collapse "a/../b" to "b"), and a
// verifier must not depend on which one it talks to.
func ParseObjectKey(key string) (ObjectKey, error) {
	if detail := keyProblem(key); detail != "" {
		return ObjectKey{}, reject(ReasonNonCanonicalKey, detail)
	}
	parts := strings.Split(key, "/")
	tid, err := uuid.Parse(parts[0])
	if err != nil || tid == uuid.Nil || tid.String() != parts[0] {
		return ObjectKey{}, reject(ReasonBadTenant, "object key does not start with a canonical tenant id")
	}
	return ObjectKey{Tenant: tid, Document: parts[1], Filename: parts[2]}, nil
}

// CheckObjectKey reports whether key is canonical (see ParseObjectKey).
func CheckObjectKey(key string) error {
	_, err := ParseObjectKey(key)
	return err
}

// keyProblem returns why key is not canonical, or "".
func keyProblem(key string) string {
	switch {
	case key == "":
		return "object key is empty"
	case len(key) > MaxKeyBytes:
		return "object key is longer than 1024 bytes"
	case !utf8.ValidString(key):
		return "object key is not valid UTF-8"
	case !norm.NFC.IsNormalString(key):
		return "object key is not in Unicode normalisation form C"
	}
	parts := strings.Split(key, "/")
	if len(parts) != 3 {
		return "object key is not {tenant}/{document}/{filename}"
	}
	for i, seg := range parts {
		if seg == "" {
			return "object key has an empty segment"
		}
		if folded := norm.NFKC.String(seg); folded == "." || folded == ".." {
			return "object key has a dot segment"
		}
		if p := segmentProblem(seg); p != "" {
			return p
		}
		if i == 1 && len(seg) > MaxDocumentIDBytes {
			return "document segment is longer than 256 bytes"
		}
		if i == 2 && len(seg) > MaxFilenameBytes {
			return "filename segment is longer than 255 bytes"
		}
	}
	return ""
}

func segmentProblem(seg string) string {
	for i, r := range seg {
		switch {
		case r == '\\':
			return "object key has a backslash"
		case unicode.IsControl(r), isBidiControl(r), r == utf8.RuneError, r == 0xFFFE, r == 0xFFFF:
			return "object key has a control or invisible formatting character"
		case r >= 0x80 && strings.ContainsAny(norm.NFKC.String(string(r)), `/\`):
			return "object key has a character that folds to a separator"
		case isSlashLookalike(r):
			return "object key has a character that looks like a separator"
		case r == '%' && escapesSeparator(seg[i:]):
			return "object key has a percent-escaped separator, dot, control character or percent sign"
		}
	}
	return ""
}

// escapesSeparator reports whether s starts with "%XX" where XX decodes to
// a byte that would change the key's meaning if decoded again.
func escapesSeparator(s string) bool {
	if len(s) < 3 {
		return false
	}
	hi, ok1 := unhex(s[1])
	lo, ok2 := unhex(s[2])
	if !ok1 || !ok2 {
		return false
	}
	b := hi<<4 | lo
	return b == '/' || b == '\\' || b == '.' || b == '%' || b < 0x20 || b == 0x7f
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// isBidiControl: characters that reorder how a key is displayed (a key that
// reads as another tenant's in a log or console), and zero-width ones.
func isBidiControl(r rune) bool {
	switch {
	case r == 0x061C, r == 0x200B, r == 0x200E, r == 0x200F, r == 0xFEFF:
		return true
	case 0x202A <= r && r <= 0x202E, 0x2066 <= r && r <= 0x2069:
		return true
	}
	return false
}

// isSlashLookalike: solidus-like characters that NFKC leaves alone.
func isSlashLookalike(r rune) bool {
	switch r {
	case 0x2044, 0x2215, 0x29F5, 0x29F8, 0x29F9, 0x2216:
		return true
	}
	return false
}
