package service

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tenantry/tenantry/internal/dbauth"
	"github.com/tenantry/tenantry/internal/exitcode"
	"github.com/tenantry/tenantry/internal/tenantdb"
)

// AWS configures the AWS clients the way the AWS CLI does: region,
// profile and credentials come from the SDK's default chain (AWS_REGION,
// AWS_DEFAULT_REGION, AWS_PROFILE, the shared config and credentials
// files, the container or instance role) unless Region or Profile is set.
// Endpoints are empty on AWS; EndpointURL overrides every service's (like
// the CLI's --endpoint-url, or AWS_ENDPOINT_URL), and a per-service
// endpoint overrides that (the local stack sets them to its 127.0.0.1
// servers; see `deploy/local/stack.sh env`).
type AWS struct {
	Region      string // "" = the default chain's
	Profile     string // "" = the default chain's (AWS_PROFILE, else default)
	EndpointURL string // every service; S3 is then path-style
	S3Endpoint  string // path-style when set
	SQSEndpoint string
	SFNEndpoint string
	KMSEndpoint string
}

// ErrNoRegion: no region was given and the default chain has none.
var ErrNoRegion = exitcode.AsUsage(errors.New("no AWS region: give --region, or set AWS_REGION, AWS_DEFAULT_REGION or the profile's region"))

// localRegion signs requests to custom endpoints when no region is
// configured at all: local servers accept any region.
const localRegion = "us-east-1"

func (a AWS) customEndpoint() bool {
	return a.EndpointURL != "" || a.S3Endpoint != "" || a.SQSEndpoint != "" || a.SFNEndpoint != "" || a.KMSEndpoint != ""
}

// IdleConnsPerHost is how many idle connections to one endpoint the AWS
// clients keep for reuse. The SDK's default, 10, is below what a worker
// has open at once to S3 (every handler's HEAD and GET, intermediates,
// batched heartbeats and pollers to SQS): a connection past it was closed
// after its request and the next request dialled again — a TCP (on AWS a
// TLS) handshake each time. (The 8 % of the worker's CPU that a profile of
// the ingest benchmark put in dials was mostly the local versitygw closing
// every connection until the stack gave it --keep-alive.)
const IdleConnsPerHost = 256

// Config loads the AWS configuration of a: what every client is built from.
func (a AWS) Config(ctx context.Context) (aws.Config, error) {
	var opts []func(*config.LoadOptions) error
	if a.Region != "" {
		opts = append(opts, config.WithRegion(a.Region))
	}
	if a.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(a.Profile))
	}
	opts = append(opts, config.WithHTTPClient(awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConnsPerHost = IdleConnsPerHost
		t.MaxIdleConns = 4 * IdleConnsPerHost
	})))
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("aws config: %w", err)
	}
	if a.EndpointURL != "" {
		cfg.BaseEndpoint = aws.String(a.EndpointURL)
	}
	if cfg.Region == "" {
		if !a.customEndpoint() {
			return aws.Config{}, ErrNoRegion
		}
		cfg.Region = localRegion
	}
	return cfg, nil
}

func (a AWS) config(ctx context.Context) (aws.Config, error) { return a.Config(ctx) }

// endpoint is a service's own override e, else inherited (EndpointURL).
func endpoint(e string, inherited *string) *string {
	if e == "" {
		return inherited
	}
	return aws.String(e)
}

// S3 returns an S3 client (path-style when an endpoint is set).
func (a AWS) S3(ctx context.Context) (*s3.Client, error) {
	cfg, err := a.config(ctx)
	if err != nil {
		return nil, err
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		if a.S3Endpoint != "" {
			o.BaseEndpoint = aws.String(a.S3Endpoint)
		}
		o.UsePathStyle = a.S3Endpoint != "" || a.EndpointURL != ""
	}), nil
}

// SQS returns an SQS client.
func (a AWS) SQS(ctx context.Context) (*sqs.Client, error) {
	cfg, err := a.config(ctx)
	if err != nil {
		return nil, err
	}
	return sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.BaseEndpoint = endpoint(a.SQSEndpoint, o.BaseEndpoint) }), nil
}

// SFN returns a Step Functions client.
func (a AWS) SFN(ctx context.Context) (*sfn.Client, error) {
	cfg, err := a.config(ctx)
	if err != nil {
		return nil, err
	}
	return sfn.NewFromConfig(cfg, func(o *sfn.Options) { o.BaseEndpoint = endpoint(a.SFNEndpoint, o.BaseEndpoint) }), nil
}

// KMS returns a KMS client.
func (a AWS) KMS(ctx context.Context) (*kms.Client, error) {
	cfg, err := a.config(ctx)
	if err != nil {
		return nil, err
	}
	return kms.NewFromConfig(cfg, func(o *kms.Options) { o.BaseEndpoint = endpoint(a.KMSEndpoint, o.BaseEndpoint) }), nil
}

func (a AWS) bedrock(ctx context.Context) (*bedrockruntime.Client, error) {
	cfg, err := a.config(ctx)
	if err != nil {
		return nil, err
	}
	return bedrockruntime.NewFromConfig(cfg), nil
}

// databasePassword returns the per-connection password function of RDS
// IAM authentication (tokens signed with this AWS configuration's
// credentials), or nil when iamAuth is off.
func (a AWS) databasePassword(ctx context.Context, iamAuth bool) (tenantdb.PasswordFunc, error) {
	if !iamAuth {
		return nil, nil
	}
	cfg, err := a.Config(ctx)
	if err != nil {
		return nil, err
	}
	src, err := dbauth.TokenSource(cfg)
	if err != nil {
		return nil, exitcode.AsUsage(err)
	}
	return src, nil
}
