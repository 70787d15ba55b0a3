package event

import (
	"net/url"
	"strings"
	"unicode/utf8"
)

// MaxKeyBytes is S3's limit on an object key.
const MaxKeyBytes = 1024

// DecodeKey decodes an object key as S3 sends it in event notifications:
// form-style URL encoding, where '+' is a space and "%2B" a plus. Invalid
// escapes, invalid UTF-8, empty and over-long keys are rejected
// (ErrBadKeyEncoding, reason bad_key_encoding).
func DecodeKey(s string) (string, error) {
	if s == "" {
		return "", newError(ReasonBadKeyEncoding, ErrBadKeyEncoding, "empty key")
	}
	k, err := url.QueryUnescape(s)
	if err != nil {
		return "", newError(ReasonBadKeyEncoding, ErrBadKeyEncoding, "invalid percent-encoding")
	}
	return k, checkKey(k)
}

func checkKey(k string) error {
	switch {
	case k == "":
		return newError(ReasonBadKeyEncoding, ErrBadKeyEncoding, "empty key")
	case len(k) > MaxKeyBytes:
		return newError(ReasonBadKeyEncoding, ErrBadKeyEncoding, "key longer than %d bytes", MaxKeyBytes)
	case !utf8.ValidString(k):
		return newError(ReasonBadKeyEncoding, ErrBadKeyEncoding, "key is not valid UTF-8")
	}
	return nil
}

// EncodeKey encodes a key the way S3 notifications do (the inverse of
// DecodeKey): form-style, '/' kept as is. Useful for tests and for relays
// from servers that send raw keys.
func EncodeKey(k string) string {
	return strings.ReplaceAll(url.QueryEscape(k), "%2F", "/")
}
