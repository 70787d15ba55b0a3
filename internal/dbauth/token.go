package dbauth

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/rds/auth"
)

// TokenLifetime is how long RDS accepts a token for a new connection.
const TokenLifetime = "15m"

// TokenSource returns a password function (tenantdb.PasswordFunc's shape)
// that signs an RDS IAM authentication token for each new connection with
// cfg's region and credentials.
func TokenSource(cfg aws.Config) (func(ctx context.Context, host string, port uint16, user string) (string, error), error) {
	if cfg.Region == "" || cfg.Credentials == nil {
		return nil, errors.New("dbauth: IAM authentication needs an AWS region and credentials")
	}
	return func(ctx context.Context, host string, port uint16, user string) (string, error) {
		if host == "" || user == "" || port == 0 {
			return "", errors.New("dbauth: host, port and user are required for an IAM token")
		}
		tok, err := auth.BuildAuthToken(ctx, net.JoinHostPort(host, strconv.Itoa(int(port))), cfg.Region, user, cfg.Credentials)
		if err != nil {
			return "", fmt.Errorf("dbauth: sign IAM token: %w", err)
		}
		return tok, nil
	}, nil
}
