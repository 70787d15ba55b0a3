package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/presign"
)

// UploadRequest describes one upload.
type UploadRequest struct {
	Tenant uuid.UUID
	// DocumentID names the document; "" means a new random UUID.
	// [A-Za-z0-9._-], at most 128 bytes.
	DocumentID string
	// Filename is a base name: UTF-8, at most 255 bytes, no '/', '\',
	// control characters, and not "." or "..".
	Filename string
	// Actor is the envelope's sub: who uploads, e.g. "user:42".
	Actor string
	// ContentType is signed; the upload must send exactly it. Default
	// application/octet-stream.
	ContentType string
	// ContentLength > 0 is signed: the upload must have exactly that size.
	ContentLength int64
}

// PresignedUpload is what an uploader needs: send Method to URL with
// exactly Header (every header is signed, the envelope header included) and
// the body. It marshals to snake_case JSON for handing to a browser or app.
type PresignedUpload = presign.Presigned

// PresignUpload signs a fresh ingest envelope for
// {tenant}/{document}/{filename} in Config.Bucket and a PUT URL whose
// signature covers the x-amz-meta-tenantry-envelope header, Content-Type and
// (when given) Content-Length. Errors matching ErrInvalidRequest are the
// caller's input; ErrNotConfigured means Config has no S3.
func (c *Client) PresignUpload(ctx context.Context, req UploadRequest) (PresignedUpload, error) {
	if c.presigner == nil {
		return PresignedUpload{}, fmt.Errorf("%w: PresignUpload needs Config.S3 and Config.Bucket", ErrNotConfigured)
	}
	if err := checkTenant(req.Tenant); err != nil {
		return PresignedUpload{}, err
	}
	if req.DocumentID == "" {
		req.DocumentID = uuid.NewString()
	}
	if _, err := ObjectKey(req.Tenant, req.DocumentID, req.Filename); err != nil {
		return PresignedUpload{}, err
	}
	up, err := c.presigner.Presign(ctx, presign.Request{TenantID: req.Tenant, DocumentID: req.DocumentID, Filename: req.Filename,
		Actor: req.Actor, ContentType: req.ContentType, ContentLength: req.ContentLength})
	switch {
	case errors.Is(err, presign.ErrInvalidRequest):
		return PresignedUpload{}, invalid("%w", err)
	case err != nil:
		return PresignedUpload{}, signError(err)
	}
	return up, nil
}

// Upload PUTs size bytes of body through a presigned upload, sending
// exactly its headers. A nil httpClient means http.DefaultClient. S3's
// refusals are *UploadError (errors.Is(err, ErrUploadRefused)).
func Upload(ctx context.Context, httpClient *http.Client, up PresignedUpload, body io.Reader, size int64) error {
	return presign.Upload(ctx, httpClient, up, body, size)
}
