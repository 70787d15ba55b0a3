package chunk_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/tenantry/tenantry/internal/chunk"
	"github.com/tenantry/tenantry/pipeline"
)

func ExampleChunker_Stream() {
	c, err := chunk.New(chunk.Config{MaxTokens: 32, OverlapTokens: chunk.NoOverlap}, nil)
	if err != nil {
		panic(err)
	}
	text := strings.Repeat("Tenants never see each other's rows. ", 12)
	whole, _ := c.Chunk(context.Background(), pipeline.Extracted{Sections: []pipeline.Section{{Text: text}}})

	// The same text handed over in pieces as an extractor reads it.
	var streamed []pipeline.Chunk
	s := c.Stream(context.Background(), 0, func(ch pipeline.Chunk) error {
		streamed = append(streamed, ch)
		return nil
	})
	for i := 0; i < len(text); i += 50 {
		if err := s.Add(pipeline.Section{Text: text[i:min(i+50, len(text))], Cont: i > 0}); err != nil {
			panic(err)
		}
	}
	if err := s.Close(); err != nil {
		panic(err)
	}
	same := len(whole) == len(streamed)
	for i := range whole {
		same = same && whole[i] == streamed[i]
	}
	fmt.Println(len(streamed), same)
	// Output:
	// 4 true
}
