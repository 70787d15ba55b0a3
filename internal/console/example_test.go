package console_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/audit"
	"github.com/tenantry/tenantry/internal/console"
	"github.com/tenantry/tenantry/internal/devissuer"
	"github.com/tenantry/tenantry/internal/tenantdb"
)

// emptyReader is a Reader with no tenants (a deployment uses
// tenantdb.ConsoleReader, the owner role's read-only view).
type emptyReader struct{}

func (emptyReader) TenantDocuments(context.Context) ([]tenantdb.TenantDocuments, error) {
	return nil, nil
}
func (emptyReader) Documents(context.Context, uuid.UUID, int) ([]tenantdb.DocumentMeta, error) {
	return nil, nil
}
func (emptyReader) LastAuditEvent(context.Context, uuid.UUID, ...string) (audit.Event, bool, error) {
	return audit.Event{}, false, nil
}
func (emptyReader) ProviderUsage(context.Context, time.Time) (map[uuid.UUID]tenantdb.ProviderUsage, error) {
	return nil, nil
}
func (emptyReader) Breakers(context.Context, uuid.UUID) (map[uuid.UUID]tenantdb.TenantBreaker, error) {
	return nil, nil
}
func (emptyReader) AuditTenants(context.Context) ([]uuid.UUID, error)                   { return nil, nil }
func (emptyReader) AuditHead(context.Context, uuid.UUID) (int64, []byte, error)         { return 0, nil, nil }
func (emptyReader) ScanAudit(context.Context, uuid.UUID, func(audit.Event) error) error { return nil }

// A console against an OIDC issuer: every page needs a session, which only
// the sign-in (code flow with PKCE) creates.
func Example() {
	var dev *devissuer.Issuer
	issuer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { dev.Handler().ServeHTTP(w, r) }))
	defer issuer.Close()
	dev, _ = devissuer.New(issuer.URL)

	srv, err := console.New(context.Background(), console.Config{
		BaseURL:         "http://127.0.0.1:8090",
		InsecureCookies: true, // plain HTTP: loopback only
		OIDC:            console.OIDCConfig{Issuer: issuer.URL, ClientID: "tenantry-console", GroupsClaim: "cognito:groups"},
	}, console.Deps{Reader: emptyReader{}}, nil) // no breaker, DLQ or recorder: their actions answer "not available"
	if err != nil {
		fmt.Println(err)
		return
	}
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	fmt.Println(rec.Code, rec.Header().Get("Location"))
	// Output: 302 /login
}
