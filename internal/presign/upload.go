package presign

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// ErrRefused matches every *UploadError with errors.Is.
var ErrRefused = errors.New("presign: upload refused")

// UploadError is a non-2xx answer to an upload. Code is S3's error code
// (SignatureDoesNotMatch, AccessDenied, ...) when the body carried one.
type UploadError struct {
	StatusCode int
	Code       string
}

func (e *UploadError) Error() string {
	if e.Code != "" {
		return fmt.Sprintf("presign: upload refused: HTTP %d %s", e.StatusCode, e.Code)
	}
	return fmt.Sprintf("presign: upload refused: HTTP %d", e.StatusCode)
}

// Is makes errors.Is(err, ErrRefused) true.
func (e *UploadError) Is(target error) bool { return target == ErrRefused }

// Retryable reports whether the same upload may succeed later (throttling,
// server errors); a refused signature or an expired URL never will.
func (e *UploadError) Retryable() bool {
	return e.StatusCode == http.StatusRequestTimeout || e.StatusCode == http.StatusTooManyRequests || e.StatusCode >= 500
}

// Upload PUTs size bytes of body through p, sending exactly p.Header.
// A nil client means http.DefaultClient.
func Upload(ctx context.Context, client *http.Client, p Presigned, body io.Reader, size int64) error {
	if client == nil {
		client = http.DefaultClient
	}
	if p.Method == "" {
		p.Method = http.MethodPut
	}
	req, err := http.NewRequestWithContext(ctx, p.Method, p.URL, body)
	if err != nil {
		return fmt.Errorf("presign: upload request: %w", err)
	}
	req.ContentLength = size
	if size == 0 {
		req.Body = http.NoBody
	}
	for name, values := range p.Header {
		if http.CanonicalHeaderKey(name) == "Content-Length" {
			continue // req.ContentLength carries it
		}
		for _, v := range values {
			req.Header.Add(name, v)
		}
	}
	resp, err := client.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // *url.Error would print the signed query string
		}
		return fmt.Errorf("presign: upload to %s: %w", stripSecrets(p.URL), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil
	}
	var s3err struct {
		Code string `xml:"Code"`
	}
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	_ = xml.Unmarshal(data, &s3err)
	code := s3err.Code
	if len(code) > 64 {
		code = code[:64]
	}
	return &UploadError{StatusCode: resp.StatusCode, Code: code}
}
