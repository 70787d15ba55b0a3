package presign

import (
	"context"
	"errors"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// UploadFile presigns req for a local regular file and uploads it.
// req.Filename defaults to the file's base name, req.ContentType to the
// type of its extension (without a charset: see fileContentType);
// ContentLength is the file's size, returned with
// the upload.
func (p *Presigner) UploadFile(ctx context.Context, req Request, path string) (Presigned, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return Presigned{}, 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Presigned{}, 0, err
	}
	if !st.Mode().IsRegular() {
		return Presigned{}, 0, errors.New("presign: upload needs a regular file")
	}
	if req.Filename == "" {
		req.Filename = filepath.Base(path)
	}
	if req.ContentType == "" {
		req.ContentType = fileContentType(path)
	}
	req.ContentLength = st.Size()
	up, err := p.Presign(ctx, req)
	if err != nil {
		return Presigned{}, 0, err
	}
	return up, st.Size(), Upload(ctx, &http.Client{Timeout: 10 * time.Minute}, up, f, st.Size())
}

// fileContentType is the media type of a file's extension, without the
// charset parameter Go's table adds ("text/html; charset=utf-8"): the
// extension says nothing about a file's encoding, and a wrong declaration
// is worse than none (the extractor then reads the document's own, or
// sniffs).
func fileContentType(path string) string {
	t := mime.TypeByExtension(filepath.Ext(path))
	if t == "" {
		return ""
	}
	base, params, err := mime.ParseMediaType(t)
	if err != nil {
		return ""
	}
	delete(params, "charset")
	return mime.FormatMediaType(base, params)
}
