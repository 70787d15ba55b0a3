package binding_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// TestCallersDoNotBindThemselves: the worker and the DLQ tools establish a
// tenant only through Resolver, so their rules cannot drift apart. Neither
// may call the envelope checks that Resolver combines.
func TestCallersDoNotBindThemselves(t *testing.T) {
	t.Parallel()
	banned := map[string]bool{"VerifyJob": true, "VerifyObject": true, "VerifyRemoval": true, "RequireAction": true}
	for _, dir := range []string{"../ingest", "../dlq"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("%s: no Go files (%v)", dir, err)
		}
		for _, path := range files {
			if strings.HasSuffix(path, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(f, func(n ast.Node) bool {
				if sel, ok := n.(*ast.SelectorExpr); ok && banned[sel.Sel.Name] {
					t.Errorf("%s uses %s: establish the tenant with binding.Resolver", filepath.ToSlash(path), sel.Sel.Name)
				}
				return true
			})
		}
	}
}
