package objects_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/objects"
	"github.com/tenantry/tenantry/pipeline"
)

// realS3 returns a client of the local S3 server (versitygw) and a fresh
// bucket, or skips when the stack's environment is not set.
func realS3(t *testing.T) (*s3.Client, string) {
	t.Helper()
	endpoint := os.Getenv("TENANTRY_S3_ENDPOINT")
	if endpoint == "" {
		t.Skip("TENANTRY_S3_ENDPOINT not set (eval \"$(bash deploy/local/stack.sh env)\")")
	}
	c := s3.New(s3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"), ""),
		HTTPClient:  &http.Client{Timeout: 30 * time.Second},
	})
	ctx := context.Background()
	name := "tenantry-objects-" + strings.ReplaceAll(uuid.NewString(), "-", "")[:20]
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &name}); err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	t.Cleanup(func() {
		out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &name})
		if err == nil {
			for _, o := range out.Contents {
				_, _ = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &name, Key: o.Key})
			}
		}
		_, _ = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: &name})
	})
	return c, name
}

// Tags and user metadata as the local S3 server (versitygw) stores them:
// PutObject's Tagging header and PutObjectTagging afterwards are both read
// back by Reader.Tags; an untagged object has none; a missing one is
// ErrNotFound.
func TestTagsAgainstTheLocalS3Server(t *testing.T) {
	t.Parallel()
	c, bucket := realS3(t)
	ctx := context.Background()
	r := objects.New(c)
	put := func(key, tagging string, meta map[string]string) {
		t.Helper()
		in := &s3.PutObjectInput{Bucket: &bucket, Key: aws.String(key), Body: bytes.NewReader([]byte("x")), Metadata: meta}
		if tagging != "" {
			in.Tagging = aws.String(tagging)
		}
		if _, err := c.PutObject(ctx, in); err != nil {
			t.Fatalf("put %s: %v", key, err)
		}
	}
	put("t/d/tagged.txt", "tenantry-attr-team=finance&lifecycle=keep", map[string]string{"tenantry-attr-year": "2024"})
	put("t/d/plain.txt", "", nil)
	put("t/d/later.txt", "", nil)
	if _, err := c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: &bucket, Key: aws.String("t/d/later.txt"),
		Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("tenantry-attr-region"), Value: aws.String("eu west")}}}}); err != nil {
		t.Fatalf("put tagging: %v", err)
	}
	for _, tc := range []struct {
		key  string
		want map[string]string
		err  error
	}{
		{key: "t/d/tagged.txt", want: map[string]string{"tenantry-attr-team": "finance", "lifecycle": "keep"}},
		{key: "t/d/plain.txt"},
		{key: "t/d/later.txt", want: map[string]string{"tenantry-attr-region": "eu west"}},
		{key: "t/d/missing.txt", err: objects.ErrNotFound},
	} {
		got, err := r.Tags(ctx, bucket, tc.key, "")
		if !errors.Is(err, tc.err) || (tc.err == nil && err != nil) {
			t.Fatalf("%s: err %v, want %v", tc.key, err, tc.err)
		}
		if len(got) != len(tc.want) || (len(got) > 0 && !reflect.DeepEqual(got, tc.want)) {
			t.Errorf("%s: tags %v, want %v", tc.key, got, tc.want)
		}
	}
	h, err := r.Head(ctx, bucket, "t/d/tagged.txt")
	if err != nil {
		t.Fatal(err)
	}
	if h.Metadata["tenantry-attr-year"] != "2024" {
		t.Errorf("metadata %v", h.Metadata)
	}
}

// tagAPI answers GetObjectTagging with a fixed result.
type tagAPI struct {
	noTagging
	tags []types.Tag
	err  error
}

func (a tagAPI) GetObjectTagging(context.Context, *s3.GetObjectTaggingInput, ...func(*s3.Options)) (*s3.GetObjectTaggingOutput, error) {
	return &s3.GetObjectTaggingOutput{TagSet: a.tags}, a.err
}

// noTagging is an API without GetObjectTagging.
type noTagging struct{}

func (noTagging) HeadObject(context.Context, *s3.HeadObjectInput, ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	return nil, errors.New("unused")
}

func (noTagging) GetObject(context.Context, *s3.GetObjectInput, ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	return nil, errors.New("unused")
}

type apiError struct{ code string }

func (e apiError) Error() string                 { return e.code }
func (e apiError) ErrorCode() string             { return e.code }
func (e apiError) ErrorMessage() string          { return e.code }
func (e apiError) ErrorFault() smithy.ErrorFault { return smithy.FaultServer }

// What a bucket holder could send: more tags than S3 allows is malformed
// (bad metadata, not a crash or a silent cut); a server without tagging
// gives no tags; a refusal or a missing object is classified.
func TestTagsEdges(t *testing.T) {
	t.Parallel()
	many := make([]types.Tag, objects.MaxTags+1)
	for i := range many {
		many[i] = types.Tag{Key: aws.String(strings.Repeat("k", i+1)), Value: aws.String("v")}
	}
	for _, tc := range []struct {
		name string
		api  objects.API
		n    int
		err  error
	}{
		{name: "no tagging API", api: noTagging{}},
		{name: "not implemented", api: tagAPI{err: apiError{"NotImplemented"}}},
		{name: "ten tags", api: tagAPI{tags: many[:objects.MaxTags]}, n: objects.MaxTags},
		{name: "eleven tags", api: tagAPI{tags: many}, err: pipeline.ErrMalformed},
		{name: "no such key", api: tagAPI{err: apiError{"NoSuchKey"}}, err: objects.ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := objects.New(tc.api).Tags(context.Background(), "b", "k", "v1")
			if !errors.Is(err, tc.err) || (tc.err == nil && err != nil) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
			if len(got) != tc.n {
				t.Fatalf("%d tags, want %d", len(got), tc.n)
			}
		})
	}
}
