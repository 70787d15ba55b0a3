package extract_test

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/tenantry/tenantry/internal/extract"
	"github.com/tenantry/tenantry/pipeline"
)

func ExampleNew() {
	ex, err := extract.New(extract.Config{MaxBytes: 32 << 20, MaxPages: 500}, nil)
	if err != nil {
		panic(err)
	}
	defer ex.Close()

	src := "# Tenancy\n\nEvery row carries its *tenant*.\n"
	mediaType := extract.MediaType("application/octet-stream", "notes.md")
	doc, err := ex.Extract(context.Background(), mediaType, strings.NewReader(src), int64(len(src)))
	if err != nil {
		panic(err)
	}
	for _, s := range doc.Sections {
		fmt.Printf("heading=%v %q\n", s.Heading, s.Text)
	}

	_, err = ex.Extract(context.Background(), "image/png", strings.NewReader("\x89PNG"), 4)
	fmt.Println(errors.Is(err, pipeline.ErrUnsupported), pipeline.Reason(err))
	// Output:
	// heading=true "Tenancy"
	// heading=false "Every row carries its tenant."
	// true unsupported_media_type
}

func ExampleMediaType() {
	fmt.Println(extract.MediaType("text/plain", "report.csv"))
	fmt.Println(extract.MediaType("", "scan.PDF"))
	fmt.Println(extract.MediaType("text/html; charset=windows-1252", "page"))
	// Output:
	// text/csv
	// application/pdf
	// text/html; charset=windows-1252
}

// sinkFunc adapts a function to pipeline.SectionSink.
type sinkFunc func(pipeline.Section) error

func (f sinkFunc) Add(s pipeline.Section) error { return f(s) }

func ExampleExtractor_ExtractTo() {
	ex, err := extract.New(extract.Config{}, nil)
	if err != nil {
		panic(err)
	}
	defer ex.Close()

	// 200 KB of plain text arrives as a few ~64 KiB blocks: the first a
	// section, the rest continuations of it (no separator in between).
	src := strings.Repeat("Every row carries its tenant.\n", 7000)
	var blocks, bytes int
	err = ex.ExtractTo(context.Background(), "text/plain", strings.NewReader(src), int64(len(src)), sinkFunc(func(s pipeline.Section) error {
		blocks++
		bytes += len(s.Text)
		if (blocks > 1) != s.Cont {
			return errors.New("only the first block starts a section")
		}
		return nil
	}))
	fmt.Println(err, blocks, bytes == len(src))
	// Output:
	// <nil> 4 true
}
