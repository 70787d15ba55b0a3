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
// type of its extension; ContentLength is the file's size, returned with
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
		req.ContentType = mime.TypeByExtension(filepath.Ext(path))
	}
	req.ContentLength = st.Size()
	up, err := p.Presign(ctx, req)
	if err != nil {
		return Presigned{}, 0, err
	}
	return up, st.Size(), Upload(ctx, &http.Client{Timeout: 10 * time.Minute}, up, f, st.Size())
}
