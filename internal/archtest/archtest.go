// Package archtest helps the architecture tests that pin tenantry's
// structure by parsing its own source (tenantdb: only the gateway imports
// pgx, only verifiers mint scopes; binding: only the gate verifies, only
// objects reads S3). Test code only; it runs nothing of the project.
package archtest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Files parses every non-test .go file of the module at root (tools/, a
// separate module, testdata, node_modules and dot directories excluded),
// keyed by its slash path relative to root.
func Files(t testing.TB, root string) map[string]*ast.File {
	t.Helper()
	fset := token.NewFileSet()
	out := map[string]*ast.File{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel == "tools" || d.Name() == "testdata" || d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".") && rel != "." {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(rel, ".go") || strings.HasSuffix(rel, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		out[rel] = f
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < 50 {
		t.Fatalf("archtest: found only %d Go files under %s: wrong root?", len(out), root)
	}
	return out
}

// Under reports whether rel starts with one of prefixes.
func Under(rel string, prefixes ...string) bool {
	return slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(rel, p) })
}

// Uses lists every use in f of a name in names on any receiver: a call
// x.Name(...) or a method value x.Name.
func Uses(f *ast.File, names ...string) []string {
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok && slices.Contains(names, sel.Sel.Name) {
			out = append(out, sel.Sel.Name)
		}
		return true
	})
	return out
}

// Imports lists f's imports whose path starts with prefix.
func Imports(f *ast.File, prefix string) []string {
	var out []string
	for _, imp := range f.Imports {
		if p, _ := strconv.Unquote(imp.Path.Value); strings.HasPrefix(p, prefix) {
			out = append(out, p)
		}
	}
	return out
}
