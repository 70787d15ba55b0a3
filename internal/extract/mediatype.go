package extract

import (
	"bytes"
	"mime"
	"path"
	"strings"
)

// Media types the extractor understands.
const (
	TypeText     = "text/plain"
	TypeMarkdown = "text/markdown"
	TypeHTML     = "text/html"
	TypeCSV      = "text/csv"
	TypeTSV      = "text/tab-separated-values"
	TypeDOCX     = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
	TypePDF      = "application/pdf"
)

var aliases = map[string]string{
	"text/plain":                  TypeText,
	"text/x-log":                  TypeText,
	"text/markdown":               TypeMarkdown,
	"text/x-markdown":             TypeMarkdown,
	"text/md":                     TypeMarkdown,
	"text/html":                   TypeHTML,
	"application/xhtml+xml":       TypeHTML,
	"text/csv":                    TypeCSV,
	"application/csv":             TypeCSV,
	"text/comma-separated-values": TypeCSV,
	"text/tab-separated-values":   TypeTSV,
	TypeDOCX:                      TypeDOCX,
	"application/pdf":             TypePDF,
	"application/x-pdf":           TypePDF,
}

var extensions = map[string]string{
	".txt": TypeText, ".text": TypeText, ".log": TypeText,
	".md": TypeMarkdown, ".markdown": TypeMarkdown, ".mdown": TypeMarkdown,
	".html": TypeHTML, ".htm": TypeHTML, ".xhtml": TypeHTML,
	".csv": TypeCSV, ".tsv": TypeTSV, ".tab": TypeTSV,
	".docx": TypeDOCX,
	".pdf":  TypePDF,
}

// generic reports declared types that say nothing about the content.
func generic(t string) bool {
	switch t {
	case "", "application/octet-stream", "binary/octet-stream", "application/binary",
		"application/unknown", "application/x-www-form-urlencoded":
		return true
	}
	return false
}

// MediaType resolves the media type to extract a document as, from the type
// its uploader declared (Content-Type, parameters kept) and its file name.
// The file name's extension decides when the declared type is missing,
// generic (application/octet-stream) or text/plain (which many clients send
// for any text file); otherwise the declared type wins. It returns "" when
// neither names a type; Extract then sniffs the content.
func MediaType(declared, filename string) string {
	base, params := parseType(declared)
	ext := extensions[strings.ToLower(path.Ext(filename))]
	switch {
	case generic(base):
		return ext
	case base == TypeText && ext != "" && ext != TypeText:
		return withCharset(ext, params)
	}
	if t, ok := aliases[base]; ok {
		return withCharset(t, params)
	}
	return base
}

// parseType returns the lower-case type without parameters, and its
// parameters; an unparseable value is treated as missing.
func parseType(mediaType string) (string, map[string]string) {
	if strings.TrimSpace(mediaType) == "" {
		return "", nil
	}
	t, params, err := mime.ParseMediaType(mediaType)
	if err != nil {
		// A malformed parameter list still names a type.
		t = strings.ToLower(strings.TrimSpace(strings.SplitN(mediaType, ";", 2)[0]))
		if !strings.Contains(t, "/") {
			return "", nil
		}
		return t, nil
	}
	return t, params
}

func withCharset(t string, params map[string]string) string {
	if cs := params["charset"]; cs != "" && strings.HasPrefix(t, "text/") {
		return mime.FormatMediaType(t, map[string]string{"charset": cs})
	}
	return t
}

// sniff names the type of content whose declared type said nothing, from
// its first bytes: PDF and ZIP (DOCX) signatures, an HTML start, else plain
// text when the bytes decode as text.
func sniff(head []byte) string {
	trimmed := bytes.TrimLeft(head, " \t\r\n\xef\xbb\xbf")
	switch {
	case bytes.HasPrefix(head, []byte("%PDF-")):
		return TypePDF
	case bytes.HasPrefix(head, []byte("PK\x03\x04")):
		return TypeDOCX
	case hasPrefixFold(trimmed, "<!doctype html"), hasPrefixFold(trimmed, "<html"):
		return TypeHTML
	case bytes.HasPrefix(head, []byte{0xff, 0xfe}), bytes.HasPrefix(head, []byte{0xfe, 0xff}):
		return TypeText
	case len(head) > 0 && bytes.IndexByte(head, 0) < 0:
		return TypeText
	}
	return ""
}

func hasPrefixFold(b []byte, prefix string) bool {
	return len(b) >= len(prefix) && strings.EqualFold(string(b[:len(prefix)]), prefix)
}
