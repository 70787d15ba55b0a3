package service_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tenantry/tenantry/internal/audit"
	"github.com/tenantry/tenantry/internal/service"
	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/internal/tenantdb/tenantdbtest"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// The dev console as `make console` wires it: sign in as the dev operator,
// verify a tenant's chain now, and find the event in that chain, written
// through the real path (an operator envelope signed with the demo key,
// trusted through the JWKS file, verified by the gate, WithTenant as the
// worker role).
func TestDevConsoleRecordsThroughTheGate(t *testing.T) {
	t.Parallel()
	if os.Getenv("TENANTRY_SQS_ENDPOINT") == "" {
		t.Skip("TENANTRY_SQS_ENDPOINT not set: run via `make test`")
	}
	db := tenantdbtest.NewDatabase(t)
	tenant := tenantdbtest.NewTenant()
	gw := db.Open(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := gw.WithTenant(ctx, tenantdbtest.Scope(t, tenant), func(ctx context.Context, tx tenantdb.Tx) error {
		_, err := tx.Audit(ctx, "document.ingested", "doc:a", "", "")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	queue := "tenantry-devconsole-" + strings.ReplaceAll(tenant.String()[:8], "-", "")
	sqsc, err := service.AWS{Region: "us-east-1", SQSEndpoint: os.Getenv("TENANTRY_SQS_ENDPOINT")}.SQS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, name := range []string{queue, queue + "-dlq"} {
			if out, err := sqsc.GetQueueUrl(context.Background(), &sqs.GetQueueUrlInput{QueueName: &name}); err == nil {
				_, _ = sqsc.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: out.QueueUrl})
			}
		}
	})
	listen, issuer := freeAddr(t), freeAddr(t)
	cctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- service.DevConsole(cctx, service.DevConsoleConfig{
			AWS:         service.AWS{Region: "us-east-1", SQSEndpoint: os.Getenv("TENANTRY_SQS_ENDPOINT")},
			DatabaseURL: db.WorkerURL, OwnerURL: db.OwnerURL, StateDir: t.TempDir(),
			Queue: queue, Listen: listen, IssuerAddr: issuer,
		}, nil)
	}()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("dev console: %v", err)
		}
	}()
	base := "http://" + listen
	for i := 0; ; i++ {
		if resp, err := http.Get(base + "/healthz"); err == nil {
			_ = resp.Body.Close()
			break
		}
		if i > 300 {
			t.Fatal("the console never answered")
		}
		select {
		case err := <-done:
			t.Fatalf("dev console stopped: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err := c.Get(base + "/login")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	form := resp.Request.URL.Query()
	form.Set("user", "operator")
	if resp, err = c.PostForm("http://"+issuer+"/authorize", form); err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	resp, err = c.Get(base + "/tenants/" + tenant.String())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("not signed in: %d %s", resp.StatusCode, body)
	}
	resp, err = c.PostForm(base+"/tenants/"+tenant.String()+"/verify", url.Values{"csrf": {string(m[1])}, "reason": {"smoke test"}})
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Request.URL.RawQuery, "chain+verified") {
		t.Fatalf("verify: %d %s", resp.StatusCode, resp.Request.URL)
	}
	r, err := tenantdb.OpenAuditReader(ctx, db.OwnerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var got []audit.Event
	if err := r.ScanAudit(ctx, tenant, func(e audit.Event) error { got = append(got, e); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[1].Action != "console.verify_chain" || got[1].Actor != "console:operator@dev.tenantry.local" ||
		!strings.Contains(got[1].Detail, "smoke test") {
		t.Fatalf("chain: %+v", got)
	}
}
