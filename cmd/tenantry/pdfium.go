package main

import (
	"fmt"

	"github.com/tenantry/tenantry/internal/extract"
)

// PDFiumCmd prepares the PDF engine's compiled code ahead of time.
type PDFiumCmd struct {
	Compile PDFiumCompileCmd `cmd:"" help:"Compile PDFium (WebAssembly) into a directory that workers use as --pdf-seed-dir (the Dockerfile runs this when the image is built)."`
}

// PDFiumCompileCmd compiles PDFium into a compilation cache directory.
type PDFiumCompileCmd struct {
	Dir string `name:"dir" required:"" help:"Directory to write the compiled code to (created if missing)."`
}

// Run compiles and prints what was written.
func (c *PDFiumCompileCmd) Run(g *Globals) error {
	out, err := extract.CompilePDFium(g.Context(), c.Dir, g.Logger())
	if err != nil {
		return err
	}
	fmt.Printf("compiled PDFium into %s: %d file(s), %d bytes, %v\n", out.Dir, out.Entries, out.Bytes, out.Took.Round(1e6))
	return nil
}
