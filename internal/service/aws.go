package service

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// AWS configures the AWS clients. Endpoints are empty on AWS; the local
// stack sets them to its 127.0.0.1 servers (see `deploy/local/stack.sh env`).
type AWS struct {
	Region      string // default us-east-1
	S3Endpoint  string // path-style when set
	SQSEndpoint string
	SFNEndpoint string
	KMSEndpoint string
}

func (a AWS) config(ctx context.Context) (aws.Config, error) {
	region := a.Region
	if region == "" {
		region = "us-east-1"
	}
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(region))
	if err != nil {
		return aws.Config{}, fmt.Errorf("aws config: %w", err)
	}
	return cfg, nil
}

func endpoint(e string) *string {
	if e == "" {
		return nil
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
		o.BaseEndpoint, o.UsePathStyle = endpoint(a.S3Endpoint), a.S3Endpoint != ""
	}), nil
}

// SQS returns an SQS client.
func (a AWS) SQS(ctx context.Context) (*sqs.Client, error) {
	cfg, err := a.config(ctx)
	if err != nil {
		return nil, err
	}
	return sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.BaseEndpoint = endpoint(a.SQSEndpoint) }), nil
}

// SFN returns a Step Functions client.
func (a AWS) SFN(ctx context.Context) (*sfn.Client, error) {
	cfg, err := a.config(ctx)
	if err != nil {
		return nil, err
	}
	return sfn.NewFromConfig(cfg, func(o *sfn.Options) { o.BaseEndpoint = endpoint(a.SFNEndpoint) }), nil
}

// KMS returns a KMS client.
func (a AWS) KMS(ctx context.Context) (*kms.Client, error) {
	cfg, err := a.config(ctx)
	if err != nil {
		return nil, err
	}
	return kms.NewFromConfig(cfg, func(o *kms.Options) { o.BaseEndpoint = endpoint(a.KMSEndpoint) }), nil
}

func (a AWS) bedrock(ctx context.Context) (*bedrockruntime.Client, error) {
	cfg, err := a.config(ctx)
	if err != nil {
		return nil, err
	}
	return bedrockruntime.NewFromConfig(cfg), nil
}
