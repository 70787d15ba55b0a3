package dbauth_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/tenantry/tenantry/internal/dbauth"
)

func TestTokenSource(t *testing.T) {
	t.Parallel()
	cfg := aws.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", "")}
	src, err := dbauth.TokenSource(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := src(context.Background(), "db.cluster-x.eu-west-1.rds.amazonaws.com", 5432, "tenantry_worker")
	if err != nil {
		t.Fatal(err)
	}
	// A token is a presigned rds-db:connect URL without its scheme.
	u, err := url.Parse("https://" + tok)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.Host != "db.cluster-x.eu-west-1.rds.amazonaws.com:5432" || q.Get("Action") != "connect" || q.Get("DBUser") != "tenantry_worker" ||
		q.Get("X-Amz-Expires") != "900" || !strings.Contains(q.Get("X-Amz-Credential"), "/eu-west-1/rds-db/aws4_request") || q.Get("X-Amz-Signature") == "" {
		t.Errorf("token %s", tok)
	}
	for _, bad := range []struct {
		host string
		port uint16
		user string
	}{{"", 5432, "u"}, {"h", 0, "u"}, {"h", 5432, ""}} {
		if _, err := src(context.Background(), bad.host, bad.port, bad.user); err == nil {
			t.Errorf("%+v: token signed", bad)
		}
	}
	if _, err := dbauth.TokenSource(aws.Config{Credentials: cfg.Credentials}); err == nil {
		t.Error("no region accepted")
	}
	if _, err := dbauth.TokenSource(aws.Config{Region: "eu-west-1"}); err == nil {
		t.Error("no credentials accepted")
	}
}
