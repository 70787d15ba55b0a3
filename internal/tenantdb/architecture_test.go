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
			if !allowed(rel, "internal/envelope/", "internal/binding/oidc.go", "internal/tenantdb/tenantdbtest/") {
				t.Errorf("%s calls MintVerified: only internal/envelope and internal/binding/oidc.go (OIDC tokens) may mint a Scope", rel)
			}
			return true
		})
	}
}
