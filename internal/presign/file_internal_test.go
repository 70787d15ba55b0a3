package presign

import "testing"

// TestFileContentTypeClaimsNoCharset: an upload never declares a charset
// it cannot know (Go's table says UTF-8 for every .html).
func TestFileContentTypeClaimsNoCharset(t *testing.T) {
	t.Parallel()
	for path, want := range map[string]string{
		"page.html":  "text/html",
		"PAGE.HTM":   "text/html",
		"style.css":  "text/css",
		"report.pdf": "application/pdf",
		"no-ext":     "",
	} {
		if got := fileContentType(path); got != want {
			t.Errorf("fileContentType(%q) = %q, want %q", path, got, want)
		}
	}
}
