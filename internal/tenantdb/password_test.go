package tenantdb_test

import (
	"context"
	"errors"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/internal/tenantdb/tenantdbtest"
)

// TestPasswordPerConnection: with Config.Password the URL carries no
// password; every new connection asks for one (IAM tokens expire), and a
// refused password keeps the pool closed.
func TestPasswordPerConnection(t *testing.T) {
	t.Parallel()
	db := tenantdbtest.NewDatabase(t)
	u, err := url.Parse(db.WorkerURL)
	if err != nil {
		t.Fatal(err)
	}
	password, _ := u.User.Password()
	user := u.User.Username()
	u.User = url.User(user)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	var calls atomic.Int32
	g, err := tenantdb.Open(ctx, tenantdb.Config{URL: u.String(), MaxConns: 2, Password: func(_ context.Context, host string, port uint16, gotUser string) (string, error) {
		calls.Add(1)
		if host == "" || port == 0 || gotUser != user {
			return "", errors.New("unexpected connection target")
		}
		return password, nil
	}})
	if err != nil {
		t.Fatalf("open with a password function: %v", err)
	}
	defer g.Close()
	if calls.Load() < 1 {
		t.Fatal("the password function was not asked")
	}

	for name, fn := range map[string]tenantdb.PasswordFunc{
		"wrong password": func(context.Context, string, uint16, string) (string, error) { return "not-" + password, nil },
		"token error":    func(context.Context, string, uint16, string) (string, error) { return "", errors.New("no credentials") },
	} {
		if g, err := tenantdb.Open(ctx, tenantdb.Config{URL: u.String(), MaxConns: 1, ConnectTimeout: 5 * time.Second, Password: fn}); err == nil {
			g.Close()
			t.Errorf("%s: opened", name)
		}
	}
}
