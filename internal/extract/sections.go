package extract

import (
	"strings"

	"github.com/tenantry/tenantry/pipeline"
)

// sectionBuilder collects headings and the body text between them.
type sectionBuilder struct {
	out         []pipeline.Section
	body        strings.Builder
	page        int
	bytes       int64
	limit       int64
	maxSections int // 0: no bound (sub-builders whose sections are joined)
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
	if b.body.Len() > 0 {
		b.body.WriteString("\n\n")
	}
	b.body.WriteString(text)
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
	b.flush()
	if b.maxSections > 0 && len(b.out) >= b.maxSections {
		return errSectionLimit
	}
	b.out = append(b.out, pipeline.Section{Text: text, Heading: true, Page: b.page})
	return nil
}

func (b *sectionBuilder) flush() {
	if b.body.Len() > 0 {
		b.out = append(b.out, pipeline.Section{Text: b.body.String(), Page: b.page})
		b.body.Reset()
	}
}

func (b *sectionBuilder) count(n int) error {
	b.bytes += int64(n)
	if b.bytes > b.limit {
		return errOutputLimit
	}
	return nil
}

func (b *sectionBuilder) done() pipeline.Extracted {
	b.flush()
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
