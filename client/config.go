package client

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"go.uber.org/zap"

	"github.com/tenantry/tenantry/internal/presign"
)

// S3Presigner is the part of *s3.PresignClient PresignUpload calls; pass
// s3.NewPresignClient(s3Client). The presigning principal needs
// s3:PutObject on the upload bucket.
type S3Presigner = presign.PutObjectPresigner

var _ S3Presigner = (*s3.PresignClient)(nil)

// SQSSender is the part of *sqs.Client the job methods call. The principal
// needs sqs:SendMessage on the queue.
type SQSSender interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

var _ SQSSender = (*sqs.Client)(nil)

// Config configures a Client. Signer and Issuer are required; S3 and Bucket
// only for uploads, SQS and QueueURL only for jobs.
type Config struct {
	// Signer signs every envelope (LoadKeyFile, ParseKey, NewKMSSigner).
	Signer Signer
	// Issuer is the iss claim: who signs, e.g. "https://api.example.com".
	// The worker trusts it only if it is in its --envelope-issuer list.
	Issuer string
	// Audience is the aud claim. Default "tenantry".
	Audience string
	// TTL is each envelope's lifetime (exp - iat). Default 24h: it must cover
	// the upload, the queue wait and every retry of the work.
	TTL time.Duration

	// S3 presigns uploads (s3.NewPresignClient(s3Client)).
	S3 S3Presigner
	// Bucket receives uploads.
	Bucket string
	// URLExpires is a presigned URL's lifetime. Default 15m, at most 7 days.
	URLExpires time.Duration
	// MaxUploadBytes refuses larger ContentLength values. Default 5 GiB.
	MaxUploadBytes int64

	// SQS sends jobs; QueueURL is the worker's queue.
	SQS      SQSSender
	QueueURL string

	// Logger gets debug lines (tenant id, never document text or tokens).
	// Default: no logging.
	Logger *zap.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// DefaultAudience is the aud tenantry's worker requires unless configured
// otherwise.
const DefaultAudience = "tenantry"

// WithDefaults returns c with every unset optional field at its default.
func (c Config) WithDefaults() Config {
	if c.Audience == "" {
		c.Audience = DefaultAudience
	}
	if c.TTL == 0 {
		c.TTL = 24 * time.Hour
	}
	if c.URLExpires == 0 {
		c.URLExpires = 15 * time.Minute
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Validate reports every problem of c (after WithDefaults) as one error
// matching ErrInvalidConfig.
func (c Config) Validate() error {
	var errs []error
	if c.Signer == nil {
		errs = append(errs, errors.New("Signer is required"))
	}
	if c.Issuer == "" {
		errs = append(errs, errors.New("Issuer is required"))
	}
	if c.TTL < time.Second || c.TTL > 15*24*time.Hour {
		errs = append(errs, errors.New("TTL must be within 1s..360h (the verifier's longest lifetime)"))
	}
	if (c.S3 == nil) != (c.Bucket == "") {
		errs = append(errs, errors.New("S3 and Bucket go together"))
	}
	if (c.SQS == nil) != (c.QueueURL == "") {
		errs = append(errs, errors.New("SQS and QueueURL go together"))
	}
	if c.URLExpires < time.Second || c.URLExpires > 7*24*time.Hour {
		errs = append(errs, errors.New("URLExpires must be within 1s..168h"))
	}
	if c.MaxUploadBytes < 0 || c.MaxUploadBytes > 5<<30 {
		errs = append(errs, errors.New("MaxUploadBytes must be within 0..5 GiB"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return nil
}
