package extract

import (
	"bufio"
	"context"

	"github.com/tenantry/tenantry/pipeline"
)

// plain extracts text/plain as one section, streaming: the only copy of the
// text is the section itself.
func (e *Extractor) plain(ctx context.Context, r *bufio.Reader, size int64, params map[string]string) (pipeline.Extracted, error) {
	text, err := decodeText(ctx, r, params["charset"], size, e.cfg.MaxTextBytes)
	if err != nil {
		return pipeline.Extracted{}, err
	}
	return pipeline.Extracted{Sections: []pipeline.Section{{Text: text}}}, nil
}
