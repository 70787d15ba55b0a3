package extract

import (
	"bufio"
	"context"
	"strings"

	"github.com/tenantry/tenantry/pipeline"
)

// Lightweight markup whose headings are cheap to find; every other textual
// type (unknown text/*, logs, YAML, TOML, JSON, XML, source code) is
// extracted as plain text.
const (
	TypeRST      = "text/x-rst"
	TypeAsciiDoc = "text/asciidoc"
	TypeOrg      = "text/org"
)

// textAliases name the media types that mean one of the markups above, or
// text that is best read as plain text.
var textAliases = map[string]string{
	"text/x-rst": TypeRST, "text/prs.fallenstein.rst": TypeRST, "text/rst": TypeRST,
	"text/asciidoc": TypeAsciiDoc, "text/x-asciidoc": TypeAsciiDoc,
	"text/org": TypeOrg, "text/x-org": TypeOrg, "application/vnd.lotus-organizer": TypeOrg,
	"application/json": TypeText, "application/ld+json": TypeText, "application/x-ndjson": TypeText,
	"application/yaml": TypeText, "application/x-yaml": TypeText, "application/toml": TypeText,
	"application/xml": TypeText, "application/javascript": TypeText, "application/x-javascript": TypeText,
	"application/ecmascript": TypeText, "application/typescript": TypeText, "application/x-sh": TypeText,
	"application/x-shellscript": TypeText, "application/sql": TypeText, "application/x-tex": TypeText,
	"application/x-latex": TypeText, "application/x-python": TypeText, "application/x-perl": TypeText,
	"application/x-ruby": TypeText, "application/x-httpd-php": TypeText, "application/x-subrip": TypeText,
}

// textExtensions name file extensions of textual formats.
var textExtensions = map[string]string{
	".rst": TypeRST, ".rest": TypeRST,
	".adoc": TypeAsciiDoc, ".asciidoc": TypeAsciiDoc,
	".org": TypeOrg,
}

// plainExtensions are extensions of files read as plain text.
var plainExtensions = []string{
	".log", ".out", ".yaml", ".yml", ".toml", ".json", ".jsonl", ".ndjson", ".ini", ".cfg", ".conf",
	".env", ".properties", ".xml", ".tex", ".bib", ".srt", ".vtt", ".diff", ".patch",
	".go", ".py", ".js", ".mjs", ".cjs", ".ts", ".tsx", ".jsx", ".c", ".h", ".cc", ".cpp", ".hpp",
	".cs", ".java", ".kt", ".scala", ".rs", ".rb", ".php", ".pl", ".pm", ".sh", ".bash", ".zsh",
	".ps1", ".sql", ".css", ".scss", ".less", ".lua", ".r", ".swift", ".m", ".hs", ".ml", ".ex",
	".exs", ".erl", ".clj", ".el", ".vim", ".proto", ".graphql", ".tf", ".hcl", ".dockerfile",
	".mk", ".cmake", ".gradle",
}

func init() {
	for k, v := range textAliases {
		aliases[k] = v
	}
	for k, v := range textExtensions {
		extensions[k] = v
	}
	for _, ext := range plainExtensions {
		if _, ok := extensions[ext]; !ok {
			extensions[ext] = TypeText
		}
	}
}

// textual reports a media type the extractor reads as plain text although
// it does not know it: any text/* type.
func textual(mediaType string) bool {
	return strings.HasPrefix(mediaType, "text/")
}

// lightMarkup extracts reStructuredText, AsciiDoc or Org text: plain text
// whose headings become heading sections. Anything the heading rules do not
// recognise stays in the body, as written.
func (e *Extractor) lightMarkup(kind string) func(ctx context.Context, r *bufio.Reader, size int64, params map[string]string) (pipeline.Extracted, error) {
	return func(ctx context.Context, r *bufio.Reader, size int64, params map[string]string) (pipeline.Extracted, error) {
		src, err := decodeText(ctx, r, params["charset"], size, e.cfg.MaxTextBytes)
		if err != nil {
			return pipeline.Extracted{}, err
		}
		b := sectionBuilder{limit: e.cfg.MaxTextBytes, maxSections: e.cfg.MaxSections}
		if err := splitMarkup(ctx, kind, src, &b); err != nil {
			return pipeline.Extracted{}, err
		}
		return b.done(), nil
	}
}

// lightMarkupTo is lightMarkup handing each section to emit as soon as it
// is complete (the decoded source is held; its sections are not).
func (e *Extractor) lightMarkupTo(ctx context.Context, kind string, r *bufio.Reader, size int64, params map[string]string, emit func(pipeline.Section) error) error {
	src, err := decodeText(ctx, r, params["charset"], size, e.cfg.MaxTextBytes)
	if err != nil {
		return err
	}
	b := sectionBuilder{limit: e.cfg.MaxTextBytes, maxSections: e.cfg.MaxSections, emit: emit}
	if err := splitMarkup(ctx, kind, src, &b); err != nil {
		return err
	}
	return b.flush()
}

// splitMarkup writes src's headings and body blocks (split on blank lines)
// into b.
func splitMarkup(ctx context.Context, kind, src string, b *sectionBuilder) error {
	lines := strings.Split(src, "\n")
	var block []string
	flush := func() error {
		err := b.block(strings.Join(block, "\n"))
		block = block[:0]
		return err
	}
	for i := 0; i < len(lines); i++ {
		if i%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		line := lines[i]
		next := ""
		if i+1 < len(lines) {
			next = lines[i+1]
		}
		title, skip, ok := markupHeading(kind, line, next, len(block) == 0)
		if ok {
			if err := flush(); err != nil {
				return err
			}
			if err := b.heading(title); err != nil {
				return err
			}
			i += skip
			continue
		}
		if kind == TypeRST && len(block) == 0 && adornment(line) && i+2 < len(lines) && adornment(lines[i+2]) &&
			strings.TrimSpace(lines[i+1]) != "" {
			// An overlined title: adornment, title, adornment.
			if err := flush(); err != nil {
				return err
			}
			if err := b.heading(strings.TrimSpace(lines[i+1])); err != nil {
				return err
			}
			i += 2
			continue
		}
		if kind == TypeRST && rstNoise(line) {
			// An image (badge) or a link target: no text, and neither are
			// its indented options.
			for i+1 < len(lines) && strings.HasPrefix(strings.TrimSpace(lines[i+1]), ":") && strings.HasPrefix(lines[i+1], " ") {
				i++
			}
			continue
		}
		if kind == TypeOrg && strings.HasPrefix(line, "#+") {
			if k, v, ok := strings.Cut(line[2:], ":"); ok && strings.EqualFold(k, "title") {
				if err := flush(); err != nil {
					return err
				}
				if err := b.heading(v); err != nil {
					return err
				}
			}
			continue // other #+KEYWORD lines are settings, not text
		}
		if strings.TrimSpace(line) == "" {
			if err := flush(); err != nil {
				return err
			}
			continue
		}
		block = append(block, line)
	}
	return flush()
}

// markupHeading recognises a heading at line (with the following line for
// underlined titles): its title, how many further lines it used, and
// whether it is one.
func markupHeading(kind, line, next string, blockStart bool) (string, int, bool) {
	switch kind {
	case TypeOrg:
		if n := leading(line, '*'); n > 0 && n < len(line) && line[n] == ' ' {
			return strings.TrimSpace(line[n:]), 0, true
		}
	case TypeAsciiDoc:
		for _, mark := range []byte{'=', '#'} {
			if n := leading(line, mark); n > 0 && n <= 6 && n < len(line) && line[n] == ' ' {
				return strings.TrimSpace(line[n:]), 0, true
			}
		}
		fallthrough // the older two-line titles, as in reStructuredText
	case TypeRST:
		t := strings.TrimSpace(line)
		if blockStart && t != "" && !adornment(line) && adornment(next) &&
			len(strings.TrimRight(next, " \t")) >= len([]rune(strings.TrimRight(line, " \t"))) && line[0] != ' ' {
			return t, 1, true
		}
	}
	return "", 0, false
}

// adornment reports a reStructuredText section adornment: at least three
// repetitions of one punctuation character and nothing else.
func adornment(line string) bool {
	line = strings.TrimRight(line, " \t")
	if len(line) < 3 {
		return false
	}
	c := line[0]
	if !strings.ContainsRune("=-~^\"'`#*+<>:._", rune(c)) {
		return false
	}
	return leading(line, c) == len(line)
}

// leading counts the leading c bytes of s.
func leading[T ~string | ~[]byte](s T, c byte) int {
	n := 0
	for n < len(s) && s[n] == c {
		n++
	}
	return n
}

// rstNoise reports reStructuredText lines that carry no reader text:
// image and substitution directives, and hyperlink targets.
func rstNoise(line string) bool {
	for _, p := range []string{".. image::", ".. figure::", ".. |", ".. _"} {
		if strings.HasPrefix(line, p) {
			return true
		}
	}
	return false
}
