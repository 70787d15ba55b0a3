package main

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// AWSFlags configure the AWS clients. Endpoints are empty on AWS; the local
// stack sets them to its 127.0.0.1 servers (see `deploy/local/stack.sh env`).
type AWSFlags struct {
	Region      string `name:"region" env:"AWS_REGION" default:"us-east-1" help:"AWS region."`
	S3Endpoint  string `name:"s3-endpoint" env:"TENANTRY_S3_ENDPOINT" help:"S3 endpoint override (path-style), e.g. the local versitygw."`
	SQSEndpoint string `name:"sqs-endpoint" env:"TENANTRY_SQS_ENDPOINT" help:"SQS endpoint override, e.g. the local fauxqs."`
	SFNEndpoint string `name:"sfn-endpoint" env:"TENANTRY_SFN_ENDPOINT" help:"Step Functions endpoint override."`
	KMSEndpoint string `name:"kms-endpoint" env:"TENANTRY_KMS_ENDPOINT" help:"KMS endpoint override."`
}

func (f AWSFlags) config(ctx context.Context) (aws.Config, error) {
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(f.Region))
	if err != nil {
		return aws.Config{}, fmt.Errorf("aws config: %w", err)
	}
	return cfg, nil
}

// S3 returns an S3 client (path-style when an endpoint is set).
func (f AWSFlags) S3(ctx context.Context) (*s3.Client, error) {
	cfg, err := f.config(ctx)
	if err != nil {
		return nil, err
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		if f.S3Endpoint != "" {
			o.BaseEndpoint = aws.String(f.S3Endpoint)
			o.UsePathStyle = true
		}
	}), nil
}

// SQS returns an SQS client.
func (f AWSFlags) SQS(ctx context.Context) (*sqs.Client, error) {
	cfg, err := f.config(ctx)
	if err != nil {
		return nil, err
	}
	return sqs.NewFromConfig(cfg, func(o *sqs.Options) {
		if f.SQSEndpoint != "" {
			o.BaseEndpoint = aws.String(f.SQSEndpoint)
		}
	}), nil
}

// SFN returns a Step Functions client.
func (f AWSFlags) SFN(ctx context.Context) (*sfn.Client, error) {
	cfg, err := f.config(ctx)
	if err != nil {
		return nil, err
	}
	return sfn.NewFromConfig(cfg, func(o *sfn.Options) {
		if f.SFNEndpoint != "" {
			o.BaseEndpoint = aws.String(f.SFNEndpoint)
		}
	}), nil
}

// KMS returns a KMS client.
func (f AWSFlags) KMS(ctx context.Context) (*kms.Client, error) {
	cfg, err := f.config(ctx)
	if err != nil {
		return nil, err
	}
	return kms.NewFromConfig(cfg, func(o *kms.Options) {
		if f.KMSEndpoint != "" {
			o.BaseEndpoint = aws.String(f.KMSEndpoint)
		}
	}), nil
}
