// Package extract owns turning the raw bytes of an uploaded document into
// plain text in reading order (pipeline.Extractor): plain text (UTF-8,
// UTF-16 with a byte-order mark, Latin-1/Windows-1252 fallback), Markdown
// (goldmark), HTML (golang.org/x/net/html, visible text only), CSV/TSV
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
// It must never: let one document exhaust the worker's memory or time, read
// files or the network on a document's behalf (the PDF sandbox mounts no
// file system), put document text in errors or logs, or keep a PDFium
// instance from one document for the next (each PDF gets a fresh instance).
package extract
