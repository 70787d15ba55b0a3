package extract_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/tenantry/tenantry/internal/extract"
)

// A reStructuredText README sent as text/plain keeps its headings; its CI
// badges are not text.
func ExampleMediaType_textFormats() {
	fmt.Println(extract.MediaType("text/plain", "README.rst"))
	fmt.Println(extract.MediaType("", "notes.org"))
	fmt.Println(extract.MediaType("application/octet-stream", "deploy.yaml"))

	ex, err := extract.New(extract.Config{}, nil)
	if err != nil {
		panic(err)
	}
	defer ex.Close()
	src := "Jansson\n=======\n\n.. image:: https://ci.example/badge.svg\n\nA C library for JSON.\n"
	doc, err := ex.Extract(context.Background(), extract.MediaType("text/plain", "README.rst"), strings.NewReader(src), int64(len(src)))
	if err != nil {
		panic(err)
	}
	for _, s := range doc.Sections {
		fmt.Printf("heading=%v %q\n", s.Heading, s.Text)
	}
	// Output:
	// text/x-rst
	// text/org
	// text/plain
	// heading=true "Jansson"
	// heading=false "A C library for JSON."
}

// An HTML page keeps its main content: navigation, sidebars and skip links
// are not text a reader wants back from a search. A page in Latin-1 that
// was uploaded claiming UTF-8 is read in the charset it declares itself.
func ExampleExtractor_Extract_html() {
	ex, err := extract.New(extract.Config{}, nil)
	if err != nil {
		panic(err)
	}
	defer ex.Close()
	page := "<html><head><meta charset=\"iso-8859-1\"><title>Caf\xe9s</title></head><body>" +
		"<a href=\"#main\">Skip to content</a><nav><a href=\"/\">Home</a> <a href=\"/docs\">Docs</a></nav>" +
		"<main id=\"main\"><h1>Caf\xe9s</h1><p>Cr\xe8me br\xfbl\xe9e is served daily.</p></main>" +
		"<footer>\xa9 2026 Example</footer></body></html>"
	doc, err := ex.Extract(context.Background(), "text/html; charset=utf-8", strings.NewReader(page), int64(len(page)))
	if err != nil {
		panic(err)
	}
	for _, s := range doc.Sections {
		fmt.Printf("heading=%v %q\n", s.Heading, s.Text)
	}
	// Output:
	// heading=true "Cafés"
	// heading=false "Crème brûlée is served daily."
}
