package extract

import (
	"bytes"
	"context"
	"io"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html/charset"
	xencoding "golang.org/x/text/encoding"
	"golang.org/x/text/transform"
)

// A declared charset is a claim, not a fact: uploaders (and tenantry's own
// CLI, before it learnt better) declare UTF-8 for files that are not. The
// rules, in order:
//
//  1. A byte-order mark wins (decodeText honours it).
//  2. A declared charset other than UTF-8 is trusted (it can only have come
//     from someone who knew), when it is one the WHATWG encoding index knows.
//  3. Bytes that are valid UTF-8 are UTF-8.
//  4. Otherwise the document's own declaration: an XML declaration's
//     encoding, or HTML's <meta charset> / http-equiv (prescan of the first
//     1024 bytes, as browsers do), unless it too claims UTF-8 or does not
//     decode the document either.
//  5. Otherwise Windows-1252 (the superset of Latin-1 that browsers assume),
//     which decodes every byte: 8-bit input never becomes U+FFFD.
//
// Rules 1–3 and 5 also hold for plain text, Markdown and CSV, which are
// decoded as a stream (textDecoder): a declared UTF-8 that turns out invalid
// before any multi-byte sequence switches the rest to Windows-1252, and a
// stray invalid byte after valid multi-byte text is taken as Windows-1252
// on its own.

// sourceCharset returns the charset to decode an HTML (or XHTML) source
// with, following the rules above; "" means "let decodeText decide" (a
// byte-order mark, or the declared charset).
func sourceCharset(raw []byte, declared string) string {
	return chooseCharset(raw[:min(len(raw), prescanBytes)], declared, func() bool { return utf8.Valid(raw) })
}

// prescanBytes is how much of a source its own declarations are looked for
// in (the HTML prescan's 1024 bytes; a byte-order mark is in the first 3).
const prescanBytes = 1024

// chooseCharset is sourceCharset given the source's first prescanBytes
// (head) and a way to tell whether all of it is valid UTF-8 (called only
// when the rules get that far).
func chooseCharset(head []byte, declared string, valid func() bool) string {
	if bomEncoding(head) != encAuto {
		return ""
	}
	if declared != "" && !utf8Label(declared) {
		if charsetEncoding(declared) != encAuto {
			return declared
		}
		if _, name := charset.Lookup(declared); name != "" {
			return declared
		}
	}
	if valid() {
		return "utf-8"
	}
	if enc := xmlDeclEncoding(head); enc != "" && !utf8Label(enc) {
		if _, name := charset.Lookup(enc); name != "" {
			return enc
		}
	}
	if _, name, _ := charset.DetermineEncoding(head, ""); name != "" && !utf8Label(name) {
		return name
	}
	return "windows-1252"
}

// utf8Label reports labels that mean UTF-8 (or, in a document's own
// declaration, the UTF-16 that a byte stream without a BOM cannot be).
func utf8Label(label string) bool {
	switch strings.ToLower(strings.TrimSpace(label)) {
	case "utf-8", "utf8", "unicode-1-1-utf-8", "us-ascii", "ascii", "utf-16", "utf-16le", "utf-16be":
		return true
	}
	return false
}

// bomEncoding names the encoding a byte-order mark at the start of p
// declares (encAuto: none).
func bomEncoding(p []byte) encoding {
	switch {
	case len(p) >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF:
		return encUTF8
	case len(p) >= 2 && p[0] == 0xFF && p[1] == 0xFE:
		return encUTF16LE
	case len(p) >= 2 && p[0] == 0xFE && p[1] == 0xFF:
		return encUTF16BE
	}
	return encAuto
}

// xmlDeclEncoding returns the encoding pseudo-attribute of an XML
// declaration at the start of p ("" when there is none).
func xmlDeclEncoding(p []byte) string {
	p = bytes.TrimLeft(p[:min(len(p), 1024)], " \t\r\n")
	if !bytes.HasPrefix(p, []byte("<?xml")) {
		return ""
	}
	end := bytes.Index(p, []byte("?>"))
	if end < 0 {
		return ""
	}
	decl := string(p[5:end])
	i := strings.Index(decl, "encoding")
	if i < 0 {
		return ""
	}
	rest := strings.TrimLeft(decl[i+len("encoding"):], " \t\r\n")
	rest, ok := strings.CutPrefix(rest, "=")
	if !ok {
		return ""
	}
	rest = strings.TrimLeft(rest, " \t\r\n")
	if rest == "" || (rest[0] != '"' && rest[0] != '\'') {
		return ""
	}
	q := rest[0]
	rest = rest[1:]
	j := strings.IndexByte(rest, q)
	if j < 0 || j > 40 {
		return ""
	}
	return rest[:j]
}

// foreignDecoder returns a decoder for a declared charset that the text
// decoder does not handle itself (Shift_JIS, KOI8-R, ISO-8859-2, GBK …),
// from the WHATWG encoding index; nil when there is none.
func foreignDecoder(label string) *xencoding.Decoder {
	if label == "" || charsetEncoding(label) != encAuto {
		return nil
	}
	e, name := charset.Lookup(label)
	if e == nil || name == "utf-8" || name == "windows-1252" || name == "replacement" {
		return nil
	}
	return e.NewDecoder()
}

// decodeSource reads a whole HTML source and decodes it after choosing its
// charset with sourceCharset (which needs all of it: only the whole tells
// whether it is valid UTF-8). Both the raw bytes and the decoded text are
// bounded by limit, so reading stops once the raw source passes it.
func decodeSource(ctx context.Context, r io.Reader, declared string, sizeHint, limit int64) (string, error) {
	if sizeHint > limit {
		sizeHint = -1
	}
	raw, err := readAll(ctx, io.LimitReader(r, limit+1), sizeHint)
	if err != nil {
		return "", err
	}
	if int64(len(raw)) > limit {
		return "", errOutputLimit
	}
	cs := sourceCharset(raw, declared)
	text, err := decodeText(ctx, bytes.NewReader(raw), cs, sizeHint, limit)
	if err == nil && redecode(cs, declared, strings.ContainsRune(text, utf8.RuneError)) && !bytes.Contains(raw, replacementUTF8) {
		return decodeText(ctx, bytes.NewReader(raw), "windows-1252", sizeHint, limit)
	}
	return text, err
}

// replacementUTF8 is U+FFFD as UTF-8: a source that spells it can have it
// in its decoded text without a decoding error.
var replacementUTF8 = []byte("\xef\xbf\xbd")

// redecode is the fallback rule of decodeSource and decodeSourceTo: a
// source decoded by the charset sourceCharset chose from the source itself
// (cs: not the transport's declared one, nor a byte-order mark's) into
// text with replacement characters (replaced) is decoded again as
// Windows-1252 — unless the source spells U+FFFD itself, which the caller
// checks last (it reads the source again).
func redecode(cs, declared string, replaced bool) bool {
	return cs != declared && cs != "" && replaced
}

// foreignCharset wraps r in the decoder of a declared charset the text
// decoder does not handle itself, and then names what it produces (UTF-8);
// otherwise it returns both unchanged.
func foreignCharset(r io.Reader, charset string) (io.Reader, string) {
	dec := foreignDecoder(charset)
	if dec == nil {
		return r, charset
	}
	return transform.NewReader(r, dec), "utf-8"
}

// decodeSourceTo is decodeSource for a source read at offsets (raw, whose
// size the caller bounded) instead of held: it reads raw through once to
// tell whether it is valid UTF-8 (when the rules need to know), once to
// decode it into out (bounded by limit), and, when the document's own
// declaration does not decode it either, once more as Windows-1252 into a
// fresh out. It returns the spill holding the decoded source.
func decodeSourceTo(ctx context.Context, raw sizedReaderAt, declared string, limit int64, newOut func() *spill) (*spill, error) {
	head, err := spanAt(raw, 0, min(raw.Size(), prescanBytes), nil)
	if err != nil {
		return nil, err
	}
	var verr error
	cs := chooseCharset(head, declared, func() bool {
		ok, err := validUTF8At(ctx, raw, 64<<10)
		verr = err
		return ok
	})
	if verr != nil {
		return nil, verr
	}
	decode := func(cs string) (*spill, bool, error) {
		out := newOut()
		replaced := false
		err := decodeTextTo(ctx, io.NewSectionReader(raw, 0, raw.Size()), cs, limit, func(s string) error {
			replaced = replaced || strings.ContainsRune(s, utf8.RuneError)
			_, err := out.WriteString(s)
			return err
		})
		if err != nil {
			out.close()
			return nil, false, err
		}
		return out, replaced, nil
	}
	out, replaced, err := decode(cs)
	if err != nil || !redecode(cs, declared, replaced) {
		return out, err
	}
	spelt, err := containsAt(ctx, raw, string(replacementUTF8))
	if err != nil || spelt {
		if err != nil {
			out.close()
			return nil, err
		}
		return out, nil
	}
	// The document's own declaration does not decode it either.
	out.close()
	out, _, err = decode("windows-1252")
	return out, err
}

// validUTF8At reports whether r is valid UTF-8, read in blocks of block
// bytes (utf8.Valid of the whole, without holding it).
func validUTF8At(ctx context.Context, r sizedReaderAt, block int) (bool, error) {
	valid := true
	err := scanBlocks(ctx, r, block, func(p []byte, final bool) (int, bool) {
		cut := len(p)
		if !final {
			// Keep an incomplete sequence at the end for the next block.
			for i := len(p) - 1; i >= 0 && i >= len(p)-utf8.UTFMax+1; i-- {
				if utf8.RuneStart(p[i]) {
					if !utf8.FullRune(p[i:]) {
						cut = i
					}
					break
				}
			}
		}
		if !utf8.Valid(p[:cut]) {
			valid = false
			return 0, true
		}
		return len(p) - cut, false
	})
	return valid, err
}

// containsAt reports whether r holds sub (at most 9 bytes).
func containsAt(ctx context.Context, r sizedReaderAt, sub string) (bool, error) {
	found := false
	err := scanBlocks(ctx, r, 64<<10, func(p []byte, _ bool) (int, bool) {
		if bytes.Contains(p, []byte(sub)) {
			found = true
			return 0, true
		}
		return min(len(p), len(sub)-1), false
	})
	return found, err
}
