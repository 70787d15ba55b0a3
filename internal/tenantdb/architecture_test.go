package tenantdb_test

import (
	"go/ast"
	"strconv"
	"strings"
	"testing"

	"github.com/tenantry/tenantry/internal/archtest"
)

// moduleRoot is the repository root, two levels up from this package.
const moduleRoot = "../.."

func goFiles(t *testing.T) map[string]*ast.File { return archtest.Files(t, moduleRoot) }

func allowed(rel string, prefixes ...string) bool { return archtest.Under(rel, prefixes...) }

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

// A Scope is minted only by the envelope verifier (and the test helper).
func TestOnlyVerifiersMintScopes(t *testing.T) {
	t.Parallel()
	for rel, f := range goFiles(t) {
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok || sel.Sel.Name != "MintVerified" {
				return true
			}
			if !allowed(rel, "internal/envelope/", "internal/tenantdb/tenantdbtest/") {
				t.Errorf("%s calls MintVerified: only internal/envelope may mint a Scope", rel)
			}
			return true
		})
	}
}
