package extract

import (
	"bufio"
	"context"
	"errors"
	"io"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Text encodings the decoder knows. Anything else declared falls back to
// encAuto.
type encoding int

const (
	encAuto    encoding = iota // UTF-8; Windows-1252 if invalid before any multi-byte UTF-8 sequence
	encUTF8                    // declared UTF-8: the same fallbacks (see charset.go)
	encUTF16LE                 // from a BOM or a declared charset
	encUTF16BE
	encLatin1 // declared ISO-8859-1 or Windows-1252 (decoded as Windows-1252, its superset)
)

func charsetEncoding(charset string) encoding {
	switch strings.ToLower(strings.TrimSpace(charset)) {
	case "utf-8", "utf8", "us-ascii", "ascii":
		return encUTF8
	case "utf-16le":
		return encUTF16LE
	case "utf-16be", "utf-16": // RFC 2781: big-endian when there is no BOM
		return encUTF16BE
	case "iso-8859-1", "latin1", "latin-1", "iso8859-1", "windows-1252", "cp1252":
		return encLatin1
	}
	return encAuto
}

// win1252 maps bytes 0x80-0x9F; the rest of Windows-1252 is Latin-1.
// The five bytes Windows-1252 leaves undefined are control characters
// (dropped), never U+FFFD.
var win1252 = [32]rune{
	'€', 0, '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', 0, 'Ž', 0,
	0, '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', 0, 'ž', 'Ÿ',
}

// errBinary marks 8-bit input with NUL bytes: not text.
var errBinary = errors.New("binary content")

// textDecoder decodes a byte stream into normalised UTF-8: line endings
// become "\n", C0 control characters other than tab, line feed and form
// feed (which becomes a line feed) are dropped, and invalid input never
// stops it. It writes into a strings.Builder and fails once the output
// exceeds limit bytes.
type textDecoder struct {
	enc        encoding
	out        *strings.Builder
	limit      int64
	sawMulti   bool // a valid multi-byte UTF-8 sequence was seen (encAuto)
	prevCR     bool
	checkedNUL int64 // 8-bit bytes examined for NUL so far
	controls   int64 // C0 control bytes among them (not tab, line or form feed, escape)
	flushed    int64 // output already handed over (decodeTextTo)
}

// binaryProbe is how many leading bytes of 8-bit text are checked for NUL.
const binaryProbe = 8 << 10

// errOutputLimit: the extracted text exceeds MaxTextBytes.
var errOutputLimit = errors.New("extracted text exceeds limit")

// errSourceLimit: a decoded source that is not all text (HTML, CSV)
// exceeds MaxDecompressedBytes.
var errSourceLimit = errors.New("decoded source exceeds limit")

// errSectionLimit: more sections than MaxSections.
var errSectionLimit = errors.New("too many sections")

// decodeText reads r to its end. charset is the declared charset parameter
// ("" when none). A byte-order mark overrides it.
func decodeText(ctx context.Context, r io.Reader, charset string, sizeHint, limit int64) (string, error) {
	r, charset = foreignCharset(r, charset)
	d := &textDecoder{enc: charsetEncoding(charset), out: &strings.Builder{}, limit: limit}
	if sizeHint > 0 && sizeHint <= limit {
		d.out.Grow(int(sizeHint))
	}
	if err := d.run(ctx, r, nil); err != nil {
		return "", err
	}
	return d.out.String(), nil
}

// streamBlock is how much decoded text decodeTextTo hands over at a time.
const streamBlock = 64 << 10

// decodeTextTo is decodeText handing the text over in blocks of about
// streamBlock bytes (cut between runes) instead of returning it whole:
// memory holds one block, whatever the document's size.
func decodeTextTo(ctx context.Context, r io.Reader, charset string, limit int64, emit func(string) error) error {
	r, charset = foreignCharset(r, charset)
	d := &textDecoder{enc: charsetEncoding(charset), out: &strings.Builder{}, limit: limit}
	d.out.Grow(streamBlock + 4<<10)
	return d.run(ctx, r, emit)
}

// run decodes r; with emit set, it hands over and resets the output each
// time it passes streamBlock bytes, and at the end.
func (d *textDecoder) run(ctx context.Context, r io.Reader, emit func(string) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	d.bom(br)
	buf := make([]byte, 64<<10)
	carry := 0 // bytes at the start of buf left over from the last read
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		var eof bool
		var err error
		if carry, eof, err = d.step(br, buf, carry); err != nil {
			return err
		}
		if emit != nil && (eof || d.out.Len() >= streamBlock) {
			text := d.take()
			if !eof {
				d.out.Grow(streamBlock + 4<<10)
			}
			if err := emit(text); err != nil {
				return err
			}
		}
		if eof {
			return nil
		}
	}
}

// step reads the next block of br into buf after the carry bytes left from
// the last one, decodes what it can, and returns the new carry and whether
// the input ended: the one read loop of decodeText, decodeTextTo and the
// streaming CSV reader.
func (d *textDecoder) step(br *bufio.Reader, buf []byte, carry int) (int, bool, error) {
	n, err := io.ReadFull(br, buf[carry:])
	n += carry
	eof := errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
	if err != nil && !eof {
		return 0, false, err
	}
	used, err := d.write(buf[:n], eof)
	if err != nil {
		return 0, false, err
	}
	return copy(buf, buf[used:n]), eof, nil
}

// take hands over the text decoded so far and starts a new output.
func (d *textDecoder) take() string {
	text := d.out.String()
	d.flushed += int64(len(text))
	d.out = &strings.Builder{}
	return text
}

// bom reads a byte-order mark, which overrides the declared charset.
func (d *textDecoder) bom(br *bufio.Reader) {
	if head, _ := br.Peek(3); len(head) >= 2 {
		switch {
		case len(head) == 3 && head[0] == 0xEF && head[1] == 0xBB && head[2] == 0xBF:
			d.enc = encUTF8
			_, _ = br.Discard(3)
		case head[0] == 0xFF && head[1] == 0xFE:
			d.enc = encUTF16LE
			_, _ = br.Discard(2)
		case head[0] == 0xFE && head[1] == 0xFF:
			d.enc = encUTF16BE
			_, _ = br.Discard(2)
		}
	}
}

// write decodes p and returns how many bytes it consumed: all of them at
// the end of input, else all but an incomplete trailing sequence.
func (d *textDecoder) write(p []byte, final bool) (int, error) {
	switch d.enc {
	case encUTF16LE, encUTF16BE:
		return d.writeUTF16(p, final)
	case encLatin1:
		if err := d.probeNUL(p); err != nil {
			return 0, err
		}
		for _, b := range p {
			d.rune(latin1(b))
		}
		return len(p), d.checkLimit()
	}
	if err := d.probeNUL(p); err != nil {
		return 0, err
	}
	i := 0
	for i < len(p) {
		b := p[i]
		if b < utf8.RuneSelf {
			d.rune(rune(b))
			i++
			continue
		}
		if d.enc == encLatin1 {
			d.rune(latin1(b))
			i++
			continue
		}
		if !final && !utf8.FullRune(p[i:]) {
			break // wait for the rest of the sequence
		}
		r, size := utf8.DecodeRune(p[i:])
		if r == utf8.RuneError && size <= 1 {
			if !d.sawMulti {
				// Everything so far was ASCII, which Windows-1252 shares:
				// the declaration (if any) was wrong; decode the rest as
				// Windows-1252.
				d.enc = encLatin1
				continue
			}
			// Valid multi-byte text before: a stray byte of another
			// encoding, taken as Windows-1252 on its own.
			d.rune(latin1(b))
			i++
			continue
		}
		d.sawMulti = true
		d.rune(r)
		i += size
	}
	return i, d.checkLimit()
}

func (d *textDecoder) writeUTF16(p []byte, final bool) (int, error) {
	i := 0
	for i+1 < len(p) {
		u := d.unit(p[i:])
		if utf16.IsSurrogate(rune(u)) && u < 0xDC00 {
			if i+3 >= len(p) {
				if !final {
					break
				}
				d.rune(utf8.RuneError)
				i += 2
				continue
			}
			if lo := d.unit(p[i+2:]); lo >= 0xDC00 && lo <= 0xDFFF {
				d.rune(utf16.DecodeRune(rune(u), rune(lo)))
				i += 4
				continue
			}
			d.rune(utf8.RuneError)
			i += 2
			continue
		}
		if utf16.IsSurrogate(rune(u)) { // a lone low surrogate
			d.rune(utf8.RuneError)
		} else {
			d.rune(rune(u))
		}
		i += 2
	}
	if final && i < len(p) { // an odd trailing byte
		d.rune(utf8.RuneError)
		i = len(p)
	}
	return i, d.checkLimit()
}

func (d *textDecoder) unit(p []byte) uint16 {
	if d.enc == encUTF16LE {
		return uint16(p[0]) | uint16(p[1])<<8
	}
	return uint16(p[0])<<8 | uint16(p[1])
}

func latin1(b byte) rune {
	if b >= 0x80 && b < 0xA0 {
		return win1252[b-0x80]
	}
	return rune(b)
}

// probeNUL fails 8-bit input with a NUL byte, or more than one control
// byte in sixteen, among its first binaryProbe bytes: that is a binary
// file, not text.
func (d *textDecoder) probeNUL(p []byte) error {
	if d.checkedNUL >= binaryProbe {
		return nil
	}
	n := min(int64(len(p)), binaryProbe-d.checkedNUL)
	for _, b := range p[:n] {
		switch {
		case b == 0:
			return errBinary
		case b < 0x20 && b != '\t' && b != '\n' && b != '\r' && b != '\f' && b != 0x1b:
			d.controls++
		}
	}
	d.checkedNUL += n
	// Text has few control characters (escape sequences of coloured logs
	// aside); random bytes have one in eight.
	if d.checkedNUL >= 64 && d.controls*16 > d.checkedNUL {
		return errBinary
	}
	return nil
}

// rune appends r after normalising line endings and dropping control
// characters.
func (d *textDecoder) rune(r rune) {
	if d.prevCR {
		d.prevCR = false
		if r == '\n' {
			return // the "\n" was written for the "\r"
		}
	}
	switch {
	case r == '\r':
		d.prevCR = true
		d.out.WriteByte('\n')
	case r == '\f':
		d.out.WriteByte('\n')
	case r == '\t' || r == '\n':
		d.out.WriteByte(byte(r))
	case r < 0x20 || r == 0x7F:
		// dropped
	case r == 0xFEFF: // a stray BOM / zero-width no-break space
	default:
		d.out.WriteRune(r)
	}
}

func (d *textDecoder) checkLimit() error {
	if d.flushed+int64(d.out.Len()) > d.limit {
		return errOutputLimit
	}
	return nil
}

// hasText reports whether s holds anything other than whitespace.
func hasText(s string) bool {
	return strings.TrimSpace(s) != ""
}
