package tenantdb_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// moduleRoot is the repository root, two levels up from this package.
const moduleRoot = "../.."

// goFiles returns every non-test .go file of the module (tools/ excluded: a
// separate module), keyed by its slash path relative to the root.
func goFiles(t *testing.T) map[string]*ast.File {
	t.Helper()
	fset := token.NewFileSet()
	out := map[string]*ast.File{}
	err := filepath.WalkDir(moduleRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(moduleRoot, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel == "tools" || rel == ".stack" || strings.HasPrefix(d.Name(), ".") && rel != "." || d.Name() == "testdata" || d.Name() == "node_modules" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
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
	if len(out) < 5 {
		t.Fatalf("found only %d Go files: wrong root?", len(out))
	}
	return out
}

func allowed(rel string, prefixes ...string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(rel, p) {
			return true
		}
	}
	return false
}

// Only the gateway (and migrations, cmd) may import pgx: everything else
// reaches Postgres through WithTenant and cannot forget the tenant scope.
func TestOnlyTheGatewayImportsPgx(t *testing.T) {
	t.Parallel()
	for rel, f := range goFiles(t) {
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if strings.HasPrefix(p, "github.com/jackc/pgx") &&
				!allowed(rel, "internal/tenantdb/", "migrations/", "cmd/") {
				t.Errorf("%s imports %s: only internal/tenantdb may talk to Postgres", rel, p)
			}
		}
	}
}

// A Scope is minted only by the two verifiers of signed credentials: the
// envelope verifier and the OIDC token verifier (and the test helper).
// Nothing else, not the search API, not a filter, may turn input into a Scope.
func TestOnlyVerifiersMintScopes(t *testing.T) {
	t.Parallel()
	for rel, f := range goFiles(t) {
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok || sel.Sel.Name != "MintVerified" {
				return true
			}
			if !allowed(rel, "internal/envelope/", "internal/oidcauth/verifier.go", "internal/tenantdb/tenantdbtest/") {
				t.Errorf("%s calls MintVerified: only internal/envelope and internal/oidcauth/verifier.go may mint a Scope", rel)
			}
			return true
		})
	}
}
