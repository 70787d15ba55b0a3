package extract

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSourceCharset(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, declared string
		raw            string
		want           string
	}{
		{"valid utf-8 as declared", "utf-8", "<meta charset=latin1><p>caf\xc3\xa9", "utf-8"},
		{"valid utf-8, nothing declared", "", "<p>caf\xc3\xa9", "utf-8"},
		{"invalid utf-8 declared, meta says latin-1", "utf-8", "<meta charset=\"ISO-8859-1\"><p>caf\xe9", "windows-1252"},
		{"invalid utf-8 declared, http-equiv koi8-r", "utf-8", "<meta http-equiv=Content-Type content=\"text/html; charset=koi8-r\"><p>\xf0\xd2", "koi8-r"},
		{"invalid utf-8 declared, xml declaration", "UTF-8", "<?xml version='1.0' encoding='iso-8859-2'?><p>\xb1", "iso-8859-2"},
		{"invalid utf-8, meta also claims utf-8: sniffed", "utf-8", "<meta charset=utf-8><p>caf\xe9", "windows-1252"},
		{"invalid utf-8, nothing anywhere", "", "<p>caf\xe9", "windows-1252"},
		{"declared latin-1 trusted", "iso-8859-1", "<p>caf\xc3\xa9", "iso-8859-1"},
		{"declared shift_jis trusted", "shift_jis", "<p>\x82\xa0", "shift_jis"},
		{"unknown declared label ignored", "x-made-up", "<p>caf\xe9", "windows-1252"},
		{"bom decides", "iso-8859-1", "\xef\xbb\xbf<p>caf\xc3\xa9", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := sourceCharset([]byte(tt.raw), tt.declared); got != tt.want {
				t.Fatalf("sourceCharset = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestXMLDeclEncoding(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		`<?xml version="1.0" encoding="ISO-8859-1"?>`:    "ISO-8859-1",
		"  \n<?xml version='1.0' encoding = 'koi8-r' ?>": "koi8-r",
		`<?xml version="1.0"?>`:                          "",
		`<?xml encoding="unterminated`:                   "",
		`<p><?xml encoding="late"?>`:                     "",
		`<?xml encoding=noquotes?>`:                      "",
	} {
		if got := xmlDeclEncoding([]byte(in)); got != want {
			t.Errorf("xmlDeclEncoding(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzDecodeSource: any bytes under any declared charset decode to valid
// UTF-8 (or are refused as binary); 8-bit input declared as UTF-8 or
// Latin-1, or not declared, never gains a U+FFFD it did not spell; clean
// UTF-8 text comes out as it went in; and decoding it read at offsets
// (decodeSourceTo, the incremental HTML reader's) gives the same text or
// the same refusal.
func FuzzDecodeSource(f *testing.F) {
	for _, s := range []string{"<meta charset=iso-8859-1>caf\xe9", "<?xml encoding='koi8-r'?>\xf0", "caf\xc3\xa9 \xff", "plain", "\xff\xfe<\x00p\x00", "<meta charset=shift_jis>\x82\xff\xa0"} {
		for _, cs := range []string{"", "utf-8", "iso-8859-1", "shift_jis", "utf-16le"} {
			f.Add([]byte(s), cs)
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte, declared string) {
		out, err := decodeSource(context.Background(), bytes.NewReader(raw), declared, int64(len(raw)), 1<<20)
		sp, err2 := decodeSourceTo(context.Background(), bytes.NewReader(raw), declared, 1<<20, func() *spill { return &spill{above: 2 << 20} })
		if (err == nil) != (err2 == nil) || (err != nil && err.Error() != err2.Error()) {
			t.Fatalf("decodeSource: %v, decodeSourceTo: %v", err, err2)
		}
		if err2 == nil {
			p, _ := sp.held()
			if string(p) != out {
				t.Fatalf("decodeSourceTo %q, decodeSource %q", p, out)
			}
		}
		if errors.Is(err, errBinary) {
			return
		}
		if err != nil {
			t.Fatalf("decodeSource: %v", err)
		}
		if !utf8.ValidString(out) {
			t.Fatalf("invalid UTF-8 out: %q", out)
		}
		switch strings.ToLower(declared) {
		case "", "utf-8", "iso-8859-1":
			if bomEncoding(raw) == encAuto && strings.ContainsRune(out, utf8.RuneError) && !bytes.Contains(raw, []byte("\xef\xbf\xbd")) {
				t.Fatalf("U+FFFD from 8-bit input %q: %q", raw, out)
			}
		}
		if (declared == "" || declared == "utf-8") && utf8.Valid(raw) && bomEncoding(raw) == encAuto && printable(string(raw)) && out != string(raw) {
			t.Fatalf("clean UTF-8 changed: %q -> %q", raw, out)
		}
	})
}

func printable(s string) bool {
	for _, r := range s {
		if (r < 0x20 && r != '\n' && r != '\t') || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == 0xfeff || r == utf8.RuneError {
			return false
		}
	}
	return true
}
