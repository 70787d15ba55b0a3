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
