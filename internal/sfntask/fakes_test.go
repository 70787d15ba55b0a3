package sfntask_test

import (
	"bytes"
	"context"
	"errors"
	"hash/fnv"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/tenantry/tenantry/internal/tenantdb/tenantdbtest"
	"github.com/tenantry/tenantry/pipeline"
)

// memS3 is an in-memory S3 (one version per key).
type memS3 struct {
	mu      sync.Mutex
	objects map[string]memObject // bucket/key
	tags    map[string]map[string]string
	puts    []string
}

type memObject struct {
	body        []byte
	contentType string
	metadata    map[string]string
}

func newMemS3() *memS3 { return &memS3{objects: map[string]memObject{}} }

func (m *memS3) put(bucket, key, contentType string, body []byte, md map[string]string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.objects[bucket+"/"+key] = memObject{body: body, contentType: contentType, metadata: md}
}

func (m *memS3) meta(bucket, key string) map[string]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.objects[bucket+"/"+key].metadata
}

func (m *memS3) keys(prefix string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for k := range m.objects {
		if strings.Contains(k, prefix) {
			out = append(out, k)
		}
	}
	return out
}

func (m *memS3) HeadObject(_ context.Context, in *s3.HeadObjectInput, _ ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.objects[aws.ToString(in.Bucket)+"/"+aws.ToString(in.Key)]
	if !ok {
		return nil, &types.NotFound{}
	}
	return &s3.HeadObjectOutput{ContentLength: aws.Int64(int64(len(o.body))), ContentType: aws.String(o.contentType), Metadata: o.metadata, ETag: aws.String(`"e"`)}, nil
}

func (m *memS3) GetObject(_ context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.objects[aws.ToString(in.Bucket)+"/"+aws.ToString(in.Key)]
	if !ok {
		return nil, &types.NoSuchKey{}
	}
	return &s3.GetObjectOutput{Body: io.NopCloser(bytes.NewReader(o.body)), ContentLength: aws.Int64(int64(len(o.body)))}, nil
}

func (m *memS3) GetObjectTagging(_ context.Context, in *s3.GetObjectTaggingInput, _ ...func(*s3.Options)) (*s3.GetObjectTaggingOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := aws.ToString(in.Bucket) + "/" + aws.ToString(in.Key)
	if _, ok := m.objects[k]; !ok {
		return nil, &types.NoSuchKey{}
	}
	out := &s3.GetObjectTaggingOutput{}
	for tk, tv := range m.tags[k] {
		out.TagSet = append(out.TagSet, types.Tag{Key: aws.String(tk), Value: aws.String(tv)})
	}
	return out, nil
}

func (m *memS3) tag(bucket, key string, tags map[string]string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.tags == nil {
		m.tags = map[string]map[string]string{}
	}
	m.tags[bucket+"/"+key] = tags
}

func (m *memS3) PutObject(_ context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	b, err := io.ReadAll(in.Body)
	if err != nil {
		return nil, err
	}
	m.put(aws.ToString(in.Bucket), aws.ToString(in.Key), aws.ToString(in.ContentType), b, in.Metadata)
	m.mu.Lock()
	m.puts = append(m.puts, aws.ToString(in.Key))
	m.mu.Unlock()
	return &s3.PutObjectOutput{}, nil
}

func (m *memS3) DeleteObject(_ context.Context, in *s3.DeleteObjectInput, _ ...func(*s3.Options)) (*s3.DeleteObjectOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.objects, aws.ToString(in.Bucket)+"/"+aws.ToString(in.Key))
	return &s3.DeleteObjectOutput{}, nil
}

// fakeSFN records answers; err, if set, is returned for every call of op.
type fakeSFN struct {
	mu      sync.Mutex
	calls   []sfnCall
	errs    map[string]error
	beating chan struct{} // receives on every heartbeat, if set
}

type sfnCall struct {
	op, token, output, errName, cause string
}

func (f *fakeSFN) fail(op string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.errs[op]
}

func (f *fakeSFN) add(c sfnCall) {
	f.mu.Lock()
	f.calls = append(f.calls, c)
	f.mu.Unlock()
}

func (f *fakeSFN) answers() []sfnCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []sfnCall
	for _, c := range f.calls {
		if c.op != "SendTaskHeartbeat" {
			out = append(out, c)
		}
	}
	return out
}

func (f *fakeSFN) SendTaskSuccess(_ context.Context, in *sfn.SendTaskSuccessInput, _ ...func(*sfn.Options)) (*sfn.SendTaskSuccessOutput, error) {
	if err := f.fail("SendTaskSuccess"); err != nil {
		return nil, err
	}
	f.add(sfnCall{op: "SendTaskSuccess", token: aws.ToString(in.TaskToken), output: aws.ToString(in.Output)})
	return &sfn.SendTaskSuccessOutput{}, nil
}

func (f *fakeSFN) SendTaskFailure(_ context.Context, in *sfn.SendTaskFailureInput, _ ...func(*sfn.Options)) (*sfn.SendTaskFailureOutput, error) {
	if err := f.fail("SendTaskFailure"); err != nil {
		return nil, err
	}
	f.add(sfnCall{op: "SendTaskFailure", token: aws.ToString(in.TaskToken), errName: aws.ToString(in.Error), cause: aws.ToString(in.Cause)})
	return &sfn.SendTaskFailureOutput{}, nil
}

func (f *fakeSFN) SendTaskHeartbeat(_ context.Context, in *sfn.SendTaskHeartbeatInput, _ ...func(*sfn.Options)) (*sfn.SendTaskHeartbeatOutput, error) {
	f.add(sfnCall{op: "SendTaskHeartbeat", token: aws.ToString(in.TaskToken)})
	if f.beating != nil {
		f.beating <- struct{}{}
	}
	if err := f.fail("SendTaskHeartbeat"); err != nil {
		return nil, err
	}
	return &sfn.SendTaskHeartbeatOutput{}, nil
}

// Minimal stages, so these tests exercise the handler, not the extractors.
type lineExtractor struct{}

func (lineExtractor) Extract(_ context.Context, mediaType string, r io.Reader, _ int64) (pipeline.Extracted, error) {
	if !strings.HasPrefix(mediaType, "text/") {
		return pipeline.Extracted{}, pipeline.ErrUnsupported
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return pipeline.Extracted{}, err
	}
	var out pipeline.Extracted
	for _, l := range strings.Split(string(b), "\n") {
		out.Sections = append(out.Sections, pipeline.Section{Text: l})
	}
	return out, nil
}

type lineChunker struct{}

func (lineChunker) Chunk(_ context.Context, e pipeline.Extracted) ([]pipeline.Chunk, error) {
	var out []pipeline.Chunk
	off := 0
	for _, s := range e.Sections {
		n := len([]rune(s.Text))
		if strings.TrimSpace(s.Text) != "" {
			out = append(out, pipeline.Chunk{Ordinal: len(out), Text: s.Text, TokenCount: len(strings.Fields(s.Text)), CharStart: off, CharEnd: off + n})
		}
		off += n + 1
	}
	return out, nil
}

// wordEmbedder embeds deterministically; block, if set, makes Embed wait
// for its context.
type wordEmbedder struct {
	block   bool
	started chan struct{}
	err     error
}

func (*wordEmbedder) Model() string   { return "test-words" }
func (*wordEmbedder) Dimensions() int { return tenantdbtest.Dims }
func (e *wordEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if e.err != nil {
		return nil, e.err
	}
	if e.block {
		if e.started != nil {
			close(e.started)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Minute):
			return nil, errors.New("never cancelled")
		}
	}
	out := make([][]float32, len(texts))
	for i, t := range texts {
		v := make([]float32, tenantdbtest.Dims)
		for _, w := range strings.Fields(t) {
			h := fnv.New32a()
			h.Write([]byte(w))
			v[h.Sum32()%uint32(len(v))]++
		}
		v[0] += 0.01
		out[i] = v
	}
	return out, nil
}
