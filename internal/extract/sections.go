package extract

import (
	"errors"
	"strings"

	"github.com/tenantry/tenantry/pipeline"
)

// sectionBuilder collects headings and the body text between them, or,
// with emit set, hands each section over as soon as it is complete (a
// heading at once, a body when the next heading starts it, or in pieces of
// about streamBlock bytes: continuation sections that join to the same
// text).
type sectionBuilder struct {
	out         []pipeline.Section
	body        strings.Builder
	page        int
	bytes       int64
	limit       int64
	maxSections int // 0: no bound (sub-builders whose sections are joined)

	emit     func(pipeline.Section) error // nil: collect into out
	sections int                          // sections added so far
	bodyCont bool                         // part of the current body was handed over
	lastHead string                       // the last section's text, when it was a heading
	isHead   bool                         // the last section added was a heading
	emitErr  error                        // the last error emit returned
}

// block appends a block of body text, separated from the previous block by
// a blank line.
func (b *sectionBuilder) block(text string) error {
	// Leading spaces of the first line may matter (preformatted text).
	text = strings.TrimRight(strings.TrimLeft(text, "\n"), " \t\n")
	if strings.TrimSpace(text) == "" {
		return nil
	}
	if err := b.count(len(text) + 2); err != nil {
		return err
	}
	if b.body.Len() > 0 || b.bodyCont {
		b.body.WriteString("\n\n")
	}
	b.body.WriteString(text)
	if b.emit != nil && b.body.Len() >= streamBlock {
		return b.handOver(true)
	}
	return nil
}

// heading ends the current body and adds a heading section.
func (b *sectionBuilder) heading(text string) error {
	text = strings.Join(strings.Fields(text), " ")
	if text == "" {
		return nil
	}
	if err := b.count(len(text)); err != nil {
		return err
	}
	if err := b.flush(); err != nil {
		return err
	}
	if b.maxSections > 0 && b.sections >= b.maxSections {
		return errSectionLimit
	}
	b.sections++
	b.lastHead, b.isHead = text, true
	s := pipeline.Section{Text: text, Heading: true, Page: b.page}
	if b.emit != nil {
		return b.send(s)
	}
	b.out = append(b.out, s)
	return nil
}

// lastHeading reports the text of the last section when it is a heading
// with no body after it yet.
func (b *sectionBuilder) lastHeading() (string, bool) {
	if !b.isHead || b.body.Len() > 0 || b.bodyCont {
		return "", false
	}
	return b.lastHead, true
}

// flush ends the current body section.
func (b *sectionBuilder) flush() error {
	if b.body.Len() == 0 {
		b.bodyCont = false
		return nil
	}
	return b.handOver(false)
}

// handOver adds the body so far as a section (more of it may follow as
// continuations when more is set).
func (b *sectionBuilder) handOver(more bool) error {
	s := pipeline.Section{Text: b.body.String(), Page: b.page, Cont: b.bodyCont}
	if !b.bodyCont {
		b.sections++
	}
	b.body.Reset()
	b.bodyCont = more
	b.isHead = false
	if b.emit != nil {
		return b.send(s)
	}
	b.out = append(b.out, s)
	return nil
}

func (b *sectionBuilder) send(s pipeline.Section) error {
	if err := b.emit(s); err != nil {
		b.emitErr = err
		return err
	}
	return nil
}

func (b *sectionBuilder) count(n int) error {
	b.bytes += int64(n)
	if b.bytes > b.limit {
		return errOutputLimit
	}
	return nil
}

// emitted reports an error returned by emit (the sink's own, passed
// through unchanged).
func (b *sectionBuilder) emitted(err error) bool {
	return b.emitErr != nil && errors.Is(err, b.emitErr)
}

// done returns what was collected (emit unset).
func (b *sectionBuilder) done() pipeline.Extracted {
	_ = b.flush() // collecting: no error
	return pipeline.Extracted{Sections: b.out}
}

// textBudget counts text as it is written, before it reaches a section, so
// a limit bites at the first node past it rather than at the end of a block.
type textBudget struct{ left int64 }

func (t *textBudget) spend(n int) error {
	t.left -= int64(n)
	if t.left < 0 {
		return errOutputLimit
	}
	return nil
}

// collapseSpace replaces each run of whitespace with one space.
func collapseSpace(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
