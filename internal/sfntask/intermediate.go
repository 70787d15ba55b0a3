package sfntask

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tenantry/tenantry/internal/objects"
	"github.com/tenantry/tenantry/pipeline"
)

// Intermediate objects of one execution, under
// {prefix}{tenant}/{document}/{execution}/:
//
//	source.json           version (content hash) and size        (extract)
//	extracted.json        the extracted sections                 (extract)
//	chunks/NNNNN.json     one batch of chunks                    (chunk)
//	manifest.json         counts; written after every batch      (chunk)
//	embeddings/NNNNN.json one batch of vectors                   (embed)
//
// Keys depend only on the verified tenant, the verified key's document, the
// execution name and the batch index, so a retried stage overwrites its own
// output with the same content. Every object repeats the version, so stages
// never mix two versions of a document.
type area struct {
	bucket string
	prefix string // ends with "/"
}

func (a area) key(name string) string { return a.prefix + name }

func batchName(dir string, i int) string { return fmt.Sprintf("%s/%05d.json", dir, i) }

// sourceFile is source.json.
type sourceFile struct {
	Version string `json:"version"`
	Size    int64  `json:"size"`
}

// extractedFile is extracted.json.
type extractedFile struct {
	Version  string             `json:"version"`
	Sections []pipeline.Section `json:"sections"`
}

// chunkBatch is chunks/NNNNN.json.
type chunkBatch struct {
	Version string           `json:"version"`
	Batch   int              `json:"batch"`
	Chunks  []pipeline.Chunk `json:"chunks"`
}

// manifestFile is manifest.json.
type manifestFile struct {
	Version   string `json:"version"`
	Size      int64  `json:"size"`
	Chunks    int    `json:"chunks"`
	Batches   int    `json:"batches"`
	BatchSize int    `json:"batchSize"`
}

// embeddingBatch is embeddings/NNNNN.json. Vectors are base64 of
// little-endian float32s (a third of the size of JSON numbers).
type embeddingBatch struct {
	Version string   `json:"version"`
	Batch   int      `json:"batch"`
	Model   string   `json:"model"`
	Dims    int      `json:"dims"`
	Vectors []string `json:"vectors"`
}

func encodeVector(v []float32) string {
	b := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
	}
	return base64.StdEncoding.EncodeToString(b)
}

func decodeVector(s string, dims int) ([]float32, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != 4*dims {
		return nil, fmt.Errorf("vector is not %d float32s", dims)
	}
	v := make([]float32, dims)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v, nil
}

// errIntermediateMissing: an intermediate object a stage needs is gone
// (expired by the bucket's lifecycle, deleted by Finalize of a finished run).
var errIntermediateMissing = errors.New("intermediate object missing")

// maxIntermediateBytes bounds what one intermediate GET reads.
const maxIntermediateBytes = 512 << 20

func (h *Handler) putJSON(ctx context.Context, a area, name string, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = h.s3.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        aws.String(a.bucket),
		Key:           aws.String(a.key(name)),
		Body:          bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))),
		ContentType:   aws.String("application/json"),
	})
	if err != nil {
		return objects.Classify("put intermediate", err)
	}
	return nil
}

func (h *Handler) getJSON(ctx context.Context, a area, name string, v any) error {
	data, err := h.objects.Read(ctx, a.bucket, a.key(name), "", maxIntermediateBytes)
	if errors.Is(err, pipeline.ErrTooLarge) {
		return permanent(ReasonIntermediateMissing, errors.New("intermediate object too large"))
	}
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		// Our own write, unreadable: not retryable.
		return permanent(ReasonIntermediateMissing, errors.New("intermediate object is not valid JSON"))
	}
	return nil
}

func (h *Handler) deleteObject(ctx context.Context, a area, name string) error {
	_, err := h.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(a.bucket), Key: aws.String(a.key(name))})
	if err != nil {
		if err := objects.Classify("delete intermediate", err); !errors.Is(err, objects.ErrNotFound) {
			return err
		}
	}
	return nil
}

// missing turns a not-found from reading an intermediate into the
// permanent "intermediate_missing" failure.
func missing(err error) error {
	if errors.Is(err, objects.ErrNotFound) {
		return permanent(ReasonIntermediateMissing, errIntermediateMissing)
	}
	return err
}
