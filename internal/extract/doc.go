// Package extract owns turning the raw bytes of an uploaded document into
// plain text in reading order (pipeline.Extractor): plain text (UTF-8,
// UTF-16 with a byte-order mark, Latin-1/Windows-1252 fallback), Markdown
// (goldmark), HTML (golang.org/x/net/html, visible main content only),
// reStructuredText, AsciiDoc and Org (their headings), any other text, CSV/TSV
// (encoding/csv), DOCX (archive/zip + encoding/xml) and PDF (PDFium compiled
// to WebAssembly, run by wazero: no cgo, no child process).
//
// Every input is hostile until proven otherwise. Each call is bounded in
// bytes read, bytes decompressed or extracted, PDF pages, nesting depth and
// wall time, and every refusal is permanent and classified: pipeline.ErrTooLarge
// (a limit was hit, zip bombs included), pipeline.ErrMalformed (not a valid
// file of its type, too deeply nested), pipeline.ErrUnsupported (unknown media
// type, encrypted PDF) or pipeline.ErrEmpty (no text). A panic in a parser
// is recovered into ErrMalformed.
//
// What a reader sees, nothing more (fidelity, measured on real documents in
// testdata/fidelity by TestFidelity and TestFidelityReport):
//
//   - HTML keeps the page's main content and drops its furniture
//     (htmlcontent.go: navigation, sidebars, headers and footers, skip links,
//     tables of contents, version pickers, forms, link farms, linked logos).
//     This is a small heuristic of our own on the x/net/html tree, chosen
//     over codeberg.org/readeck/go-readability/v2 v2.1.3 by measurement on
//     the five HTML pages of the corpus (the same expected texts, words
//     counted in characters): readability left 5.8 % boilerplate and kept
//     98.0 % of the expected text, the heuristic 0.1 % and 100 %. The
//     expected texts are the heuristic's reviewed output, which favours it;
//     but what readability lost and kept is plain on inspection: it
//     dropped the Node.js page's version-history tables and stability notes
//     (content) and kept the DocBook FAQ's question list and every
//     heading's "#" permalink (furniture). It also re-parses and scores the
//     whole tree (27–125 ms per page here, before our own walk) and brings
//     five more modules (cascadia, go-shiori/dom, dateparse,
//     chardet and an older x/net). Layout tables whose cells hold blocks are
//     read as blocks, not as rows of " | " cells; two code listings in one
//     <pre> stay on separate lines.
//   - A declared charset that does not decode the bytes falls back to the
//     document's own declaration (BOM, XML declaration, <meta charset>) and
//     then to Windows-1252; 8-bit text never becomes U+FFFD (charset.go).
//   - Any text/* type, and logs, YAML, TOML, JSON, XML and source code by
//     type or extension, are read as plain text; reStructuredText, AsciiDoc
//     and Org keep their headings (textformats.go). Bytes that are not text
//     are refused as malformed ("binary content") whatever type they claim.
//   - PDF pages go through a streaming cleaner (pdfclean.go, bounded
//     lookahead) that joins soft and line-end hyphens, collapses dot leaders
//     and removes page numbers and running headers and footers; every page
//     keeps its section and number.
//
// It must never: let one document exhaust the worker's memory or time, read
// files or the network on a document's behalf (the PDF sandbox mounts no
// file system), put document text in errors or logs, or keep a PDFium
// instance from one document for the next (each PDF gets a fresh instance).
package extract
