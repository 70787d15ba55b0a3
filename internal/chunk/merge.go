package chunk

import (
	"context"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tenantry/tenantry/pipeline"
)

// Boundary strengths: how good a place the start of a piece is to begin a
// chunk. The merger cuts at the strongest boundary in the second half of a
// full chunk.
const (
	bRune      int8 = iota // inside a word that alone exceeds MaxTokens
	bWord                  // a whitespace run
	bLine                  // a single line break
	bSentence              // after . ! ? … (and CJK 。！？)
	bParagraph             // a blank line
	bSection               // a section boundary (e.g. a PDF page)
	bHeading               // the start of a heading section
)

// piece is a run of one section's text that fits in MaxTokens. Pieces are
// contiguous: together they cover every section completely. A piece holds
// its own text (a substring of what the stream handed over), so the merger
// keeps only the window's text, never a whole section or document.
type piece struct {
	sec       int    // index of the (logical) section: continuations share it
	text      string // the piece's text
	mid       bool   // starts after the first byte of its section
	page      int    // the section's page
	runeStart int    // rune offset in Text(doc)
	runeLen   int
	tokens    int // tokens of the text, plus one for a section separator before it
	strength  int8
	// forced: the text was counted with a cut where the tokenizer does not
	// split (see Counter.count), so its count does not add up with others.
	forced bool
}

// merger turns the stream of pieces into chunks. It holds only the pieces of
// the chunk being built and the unsplit tail of the current section, so
// memory does not grow with the document.
type merger struct {
	ctx     context.Context
	cfg     Config
	counter *Counter

	// The current (logical) section: its index, page, the text handed over
	// but not yet split into pieces (cur, starting at byte curOff of the
	// section and rune pos of Text(doc)), the strength of the boundary the
	// next part starts at, the separator tokens owed to the next piece, and
	// where the sentence scan resumes in cur.
	sec       int
	page      int
	cur       string
	curOff    int
	pos       int
	strength  int8
	sepTokens int
	resume    int
	sentEnd   bool

	buf  []piece // window of pieces not yet dropped; buf[0] starts the current chunk
	sum  int     // tokens of buf
	next int     // index in buf of the first piece no chunk has covered yet

	pushed  int
	lastSec int // section of the last piece pushed; -1 before the first
	err     error

	// yield receives each chunk as it is cut; max > 0 caps their number
	// (the chunk past it stops the merger with ErrTooLarge).
	yield   func(pipeline.Chunk) error
	max     int
	count   int // chunks cut so far
	lastEnd int // CharEnd of the last chunk cut
}

func newMerger(ctx context.Context, cfg Config, counter *Counter) *merger {
	return &merger{ctx: ctx, cfg: cfg, counter: counter, lastSec: -1, sec: -1}
}

// add hands the merger the next section. A section with Cont set continues
// the current one (no Separator between); the first section never does.
func (m *merger) add(s pipeline.Section) error {
	if m.err != nil {
		return m.err
	}
	text := s.Text
	if !utf8.ValidString(text) {
		// As []rune(Text(doc)) would read it, so offsets hold.
		text = string([]rune(text))
	}
	if s.Cont && m.sec >= 0 {
		if text != "" {
			m.cur += text
			m.scan(false)
		}
		return m.err
	}
	if m.sec >= 0 {
		m.scan(true)
		if m.err != nil {
			return m.err
		}
		m.pos += utf8.RuneCountInString(Separator)
	}
	m.sec++
	m.page = s.Page
	m.cur, m.curOff, m.resume, m.sentEnd = text, 0, 0, false
	m.strength = bSection
	if s.Heading {
		m.strength = bHeading
	}
	// The separators since the last piece pushed: one per section boundary,
	// so empty sections in between add theirs ("\n\n" is one cl100k token,
	// a longer run of newlines more).
	seps := m.sec
	if m.lastSec >= 0 {
		seps = m.sec - m.lastSec
	}
	m.sepTokens = 0
	if seps > 0 {
		m.sepTokens = m.counter.Count(strings.Repeat(Separator, seps))
	}
	if text != "" {
		m.scan(false)
	}
	return m.err
}

// close splits what is left and cuts the last chunks.
func (m *merger) close() error {
	if m.err != nil {
		return m.err
	}
	if m.sec >= 0 {
		m.scan(true)
	}
	m.finish()
	return m.err
}

// scan cuts the current section's unsplit text into sentence pieces (each
// tagged with the strength of the boundary it starts at), words when a
// sentence does not fit, and runes when a word does not fit. Unless final
// (the section ends here), it keeps the tail whose cut depends on text not
// handed over yet, and resumes the scan there when more arrives.
func (m *merger) scan(final bool) {
	text := m.cur
	emit := func(start, end int, s int8) bool {
		m.pos += m.splitSentence(text, start, end, m.pos, m.strength, m.sepTokens)
		m.strength = s
		m.sepTokens = 0
		return m.err == nil
	}
	last, resume, sentEnd := scanSentences(text, m.resume, m.sentEnd, final, emit)
	if m.err != nil {
		return
	}
	if final {
		if last < len(text) {
			_ = emit(last, len(text), bWord)
		}
		m.curOff += len(text)
		m.cur, m.resume, m.sentEnd = "", 0, false
		return
	}
	m.curOff += last
	m.cur = text[last:]
	m.resume, m.sentEnd = resume-last, sentEnd
}

// splitSentence pushes text[start:end] as one piece when it fits, else as
// word (and rune) pieces; the first piece gets strength first. It returns the
// rune count. text starts at byte curOff of the current section.
func (m *merger) splitSentence(text string, start, end, runeStart int, first int8, sepTokens int) int {
	sec, page, off := m.sec, m.page, m.curOff
	s := text[start:end]
	runes := utf8.RuneCountInString(s)
	if start == end {
		// An empty section still advances offsets by nothing; emit nothing.
		return 0
	}
	max := m.cfg.MaxTokens
	if len(s) <= max*8 {
		if t, forced := m.counter.count(s); t+sepTokens <= max {
			m.push(piece{sec: sec, text: s, mid: off+start > 0, page: page, runeStart: runeStart, runeLen: runes, tokens: t + sepTokens, strength: first, forced: forced})
			return runes
		}
	}
	// Words: cut where each whitespace run starts.
	pos := runeStart
	strength := first
	wStart := start
	flushWord := func(wEnd int) {
		w := text[wStart:wEnd]
		for len(w) > 0 && m.err == nil {
			budget := max - sepTokens
			n, t := m.counter.prefixWithin(w, budget)
			rl := utf8.RuneCountInString(w[:n])
			m.push(piece{sec: sec, text: w[:n], mid: off+wStart > 0, page: page, runeStart: pos, runeLen: rl, tokens: t + sepTokens, strength: strength,
				forced: n > segmentBytes})
			pos += rl
			wStart += n
			w = w[n:]
			strength = bRune
			sepTokens = 0
		}
	}
	prevSpace := true
	for i, r := range s {
		space := unicode.IsSpace(r)
		if space && !prevSpace && start+i > wStart {
			flushWord(start + i)
			strength = bWord
		}
		prevSpace = space
	}
	flushWord(end)
	return runes
}

// scanSentences calls emit for each sentence-level part of text: parts start
// where a whitespace run starts after a sentence end, or where a run holding a
// line break starts, or right after a CJK full stop. The strength passed is
// that of the boundary the next part starts at. It returns the offset where
// the unemitted tail begins (emit is never called for the last part).
//
// Unless final (text is the whole rest of its section), it stops before the
// first decision that depends on text past the end (a whitespace run or a
// CJK full stop at the end) and also returns where to resume and the state
// to resume with; from is such a resume point (0 with sentenceEnd false at
// the start), so scanning in steps cuts exactly where one scan of the whole
// text does.
func scanSentences(text string, from int, sentenceEnd, final bool, emit func(start, end int, next int8) bool) (last, resume int, resumeEnd bool) {
	partStart := 0
	i := from
	for i < len(text) {
		r, size := utf8.DecodeRuneInString(text[i:])
		if unicode.IsSpace(r) {
			runStart := i
			newlines := 0
			for i < len(text) {
				r, size = utf8.DecodeRuneInString(text[i:])
				if !unicode.IsSpace(r) {
					break
				}
				if r == '\n' {
					newlines++
				}
				i += size
			}
			if i >= len(text) && !final {
				return partStart, runStart, sentenceEnd
			}
			if i >= len(text) || runStart == partStart {
				sentenceEnd = false
				continue
			}
			s := int8(-1)
			switch {
			case newlines >= 2:
				s = bParagraph
			case sentenceEnd:
				s = bSentence
			case newlines == 1:
				s = bLine
			}
			sentenceEnd = false
			if s >= 0 {
				// Where the tokenizer splits, so counts add up.
				prev, _ := utf8.DecodeLastRuneInString(text[:runStart])
				cut := min(runCut(text, runStart, prev), i)
				if !emit(partStart, cut, s) {
					return len(text), len(text), false
				}
				partStart = cut
			}
			continue
		}
		i += size
		switch r {
		case '.', '!', '?', '…':
			sentenceEnd = true
		case '"', '\'', '”', '’', ')', ']', '»':
			// a closing mark keeps a sentence end pending
		case '。', '！', '？':
			if i >= len(text) && !final {
				return partStart, i - size, sentenceEnd
			}
			sentenceEnd = false
			if i < len(text) {
				if nr, _ := utf8.DecodeRuneInString(text[i:]); !unicode.IsSpace(nr) {
					if !emit(partStart, i, bSentence) {
						return len(text), len(text), false
					}
					partStart = i
				}
			}
		default:
			sentenceEnd = false
		}
	}
	return partStart, i, sentenceEnd
}

// push adds a piece and emits chunks while the window overflows.
func (m *merger) push(p piece) {
	if m.err != nil {
		return
	}
	m.pushed++
	m.lastSec = p.sec
	if m.pushed%1024 == 0 {
		if err := m.ctx.Err(); err != nil {
			m.err = err
			return
		}
	}
	m.buf = append(m.buf, p)
	m.sum += p.tokens
	for m.sum > m.cfg.MaxTokens && len(m.buf) > 1 && m.err == nil {
		m.cut()
	}
}

func (m *merger) finish() {
	if m.err != nil {
		return
	}
	for len(m.buf) > m.next && m.err == nil {
		if m.sum > m.cfg.MaxTokens && len(m.buf) > 1 {
			m.cut()
			continue
		}
		c := m.emit(len(m.buf))
		if c >= len(m.buf) {
			break
		}
		m.advance(c)
	}
	m.buf = m.buf[:0]
}

// cut emits one chunk from the start of the window and keeps the overlap.
func (m *merger) cut() {
	max := m.cfg.MaxTokens
	// e: the first piece that does not fit after buf[0:e].
	e, sum := 1, m.buf[0].tokens
	for e < len(m.buf) && sum+m.buf[e].tokens <= max {
		sum += m.buf[e].tokens
		e++
	}
	// Choose the chunk end c in [lo, e]: the strongest boundary whose prefix
	// is at least half full (a heading: a quarter), the latest among equals.
	lo := max1(1, m.next+1)
	c, best := e, int8(-1)
	prefix := 0
	for i := 0; i < e; i++ {
		prefix += m.buf[i].tokens
		cand := i + 1
		if cand < lo {
			continue
		}
		s := bHeading + 1 // the end of the window is always allowed
		if cand < len(m.buf) {
			s = m.buf[cand].strength
		}
		ok := prefix*2 >= max || s == bHeading && prefix*4 >= max
		if cand == e && best < 0 {
			ok = true
		}
		if ok && s >= best {
			c, best = cand, s
		}
	}
	if c > e {
		c = e
	}
	m.advance(m.emit(c))
}

// advance drops the pieces before the next chunk's start: c, less the
// overlap.
func (m *merger) advance(c int) {
	max := m.cfg.MaxTokens
	// Overlap: whole pieces before c, not reaching back to the chunk's first
	// piece with text (progress: the next chunk must start after this one
	// does, and leading whitespace-only pieces are trimmed away) and never
	// carried over a heading.
	start := c
	if c < len(m.buf) && m.buf[c].strength < bHeading && m.cfg.OverlapTokens > 0 {
		first := 0
		for first < c-1 && strings.TrimSpace(m.pieceText(m.buf[first])) == "" {
			first++
		}
		tok := 0
		for k := c - 1; k > first; k-- {
			t := m.buf[k].tokens
			if tok+t > m.cfg.OverlapTokens || tok+t+m.buf[c].tokens > max {
				break
			}
			tok += t
			start = k
			if m.buf[k].strength >= bHeading {
				break
			}
		}
	}
	m.next = c - start
	n := copy(m.buf, m.buf[start:])
	m.buf = m.buf[:n]
	m.sum = 0
	for _, p := range m.buf {
		m.sum += p.tokens
	}
}

// emit builds the chunk buf[0:c] (shrinking c while the exact count exceeds
// MaxTokens and more than the new pieces remain) and returns the c used.
func (m *merger) emit(c int) int {
	for {
		text, runeStart, runeEnd, page := m.build(c)
		if text == "" || m.count > 0 && runeEnd <= m.lastEnd {
			// Only whitespace beyond what the last chunk already holds.
			return c
		}
		tokens := m.boundTokens(c, text)
		if tokens > m.cfg.MaxTokens {
			tokens = m.counter.Count(text)
		}
		if tokens > m.cfg.MaxTokens && c-1 > m.next && c > 1 {
			c--
			continue
		}
		if tokens > m.cfg.MaxTokens && c == 1 && m.splitFirst() {
			// One piece that fitted with its leading whitespace but not
			// without it (" Bun" is one token, "Bun" two): it is now two.
			continue
		}
		if tokens > m.cfg.MaxTokens && m.next > 0 && c > 1 {
			// The overlap carried from the last chunk pushed this one over
			// the limit (joined text can count more tokens than its pieces):
			// give up one overlap piece, it is already in the last chunk.
			m.sum -= m.buf[0].tokens
			m.buf = m.buf[1:]
			m.next--
			c--
			continue
		}
		m.deliver(pipeline.Chunk{
			Ordinal:    m.count,
			Text:       text,
			TokenCount: tokens,
			CharStart:  runeStart,
			CharEnd:    runeEnd,
			Page:       page,
		})
		return c
	}
}

// deliver hands a chunk to yield, or stops the merger when it is one past
// the cap: the cap bites at the first chunk past it, not after the whole
// document was cut.
func (m *merger) deliver(ch pipeline.Chunk) {
	m.count++
	m.lastEnd = ch.CharEnd
	if m.max > 0 && m.count > m.max {
		m.err = fmt.Errorf("chunk: %w: more than %d chunks", pipeline.ErrTooLarge, m.max)
		return
	}
	if err := m.yield(ch); err != nil {
		m.err = err
	}
}

// splitFirst cuts buf[0] after the longest prefix of its text, leading
// whitespace trimmed, that fits MaxTokens, and reports whether it did (it
// does not when the trimmed text fits whole). The rest becomes a new piece
// that starts inside a word.
func (m *merger) splitFirst() bool {
	p := m.buf[0]
	raw := m.pieceText(p)
	trimmed := strings.TrimLeftFunc(raw, unicode.IsSpace)
	lead := len(raw) - len(trimmed)
	n, t := m.counter.prefixWithin(trimmed, m.cfg.MaxTokens)
	if lead+n >= len(raw) {
		return false
	}
	a, b := p, p
	a.text = raw[:lead+n]
	a.runeLen = utf8.RuneCountInString(raw[:lead+n])
	a.tokens, a.forced = t, lead+n > segmentBytes
	b.text = raw[lead+n:]
	b.mid = true
	b.runeStart = p.runeStart + a.runeLen
	b.runeLen = p.runeLen - a.runeLen
	b.tokens, b.forced = m.counter.count(raw[lead+n:])
	b.strength = bRune
	m.buf = append([]piece{a, b}, m.buf[1:]...)
	m.sum += a.tokens + b.tokens - p.tokens
	return true
}

// boundTokens bounds the token count of text, the trimmed text of buf[0:c],
// from above, without counting it again where it can. Pieces are mostly cut
// where the tokenizer itself splits (see additive), so after the first one
// their counts add up to the count of their concatenation, or more (trimmed
// trailing whitespace); a chunk with any other join, or with a piece whose
// count needed a cut where the tokenizer does not split, is counted exactly.
// Leading pieces of only whitespace are trimmed away; the first piece with
// text is counted again without its leading whitespace (" Bun" is one token,
// "Bun" two).
func (m *merger) boundTokens(c int, text string) int {
	i := 0
	for i < c-1 && strings.TrimSpace(m.pieceText(m.buf[i])) == "" {
		i++
	}
	tokens := m.counter.Count(strings.TrimLeftFunc(m.pieceText(m.buf[i]), unicode.IsSpace))
	for k := i + 1; k < c; k++ {
		p := m.buf[k]
		first, _ := utf8.DecodeRuneInString(m.pieceText(p))
		prev, _ := utf8.DecodeLastRuneInString(m.pieceText(m.buf[k-1]))
		if p.forced || !additive(prev, first, p.mid, p.sec != m.buf[k-1].sec) {
			return m.counter.Count(text)
		}
		tokens += p.tokens
	}
	return tokens
}

// additive reports whether the tokenizer is known to split the joined text
// of two pieces where they meet, so that their counts add up: prev is the
// last rune of the first, first the first rune of the second, cut whether
// the second starts inside a section, newSection whether a section boundary
// (a Separator) lies between them. cl100k's pre-tokenizer splits between a
// letter or digit and a whitespace run, and between a line break and the word
// after it, but not inside a run of non-space (a long word, after a CJK full
// stop), not between punctuation
// and the line breaks after it (")\n\n" is one pre-token), and not inside a
// whitespace run (one cut in two, or joined by a section boundary).
func additive(prev, first rune, cut, newSection bool) bool {
	wordEnd := unicode.IsLetter(prev) || unicode.IsNumber(prev)
	switch {
	case cut && !unicode.IsSpace(first):
		// Inside a run of non-space; only a word right after a line break
		// starts a new pre-token.
		return prev == '\n' || prev == '\r'
	case unicode.IsSpace(prev) && unicode.IsSpace(first):
		return false // one whitespace run, cut in two
	case newSection:
		return wordEnd && !unicode.IsSpace(first)
	case first == '\n' || first == '\r':
		return wordEnd
	}
	return true
}

func (m *merger) pieceText(p piece) string { return p.text }

// build returns the trimmed text of buf[0:c], its rune offsets in Text(doc)
// and the page of the section its first kept rune is in ("" when it is all
// whitespace).
func (m *merger) build(c int) (string, int, int, int) {
	first, last := m.buf[0], m.buf[c-1]
	var text string
	if c == 1 {
		text = first.text
	} else {
		n := 0
		for _, p := range m.buf[:c] {
			n += len(p.text)
		}
		var b strings.Builder
		b.Grow(n + (last.sec-first.sec)*len(Separator))
		prev := first.sec
		for _, p := range m.buf[:c] {
			for ; prev < p.sec; prev++ {
				b.WriteString(Separator)
			}
			b.WriteString(p.text)
		}
		text = b.String()
	}
	runeStart := first.runeStart
	runeEnd := last.runeStart + last.runeLen
	trimmed := strings.TrimLeftFunc(text, unicode.IsSpace)
	lead := text[:len(text)-len(trimmed)]
	runeStart += utf8.RuneCountInString(lead)
	out := strings.TrimRightFunc(trimmed, unicode.IsSpace)
	runeEnd -= utf8.RuneCountInString(trimmed[len(out):])
	if out == "" {
		return "", 0, 0, 0
	}
	// The page of the first piece with a kept rune.
	page := first.page
	for _, p := range m.buf[:c] {
		if strings.TrimSpace(p.text) != "" {
			page = p.page
			break
		}
	}
	return out, runeStart, runeEnd, page
}

func max1(a, b int) int {
	if a > b {
		return a
	}
	return b
}
