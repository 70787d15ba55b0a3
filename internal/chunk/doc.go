// Package chunk owns splitting extracted text into the ordered, token-bounded
// chunks that are embedded and searched (pipeline.Chunker).
//
// Chunks are cut by structure first — section and heading boundaries, then
// paragraphs, lines, sentences, words and, for text with no other break,
// runes — and sized by cl100k_base token counts: the vocabulary embedded in
// tiktoken-go-loader (no download), counted by this package's own tokenizer
// (a hand-written pre-tokenizer and a byte-pair merge that builds no tokens),
// which counts exactly what tiktoken-go's encoder does, ~17× faster. Tokens
// are only counted, never decoded, so a cut always falls on a rune boundary. Every chunk carries rune offsets into
// Text(doc), the sections' texts joined with "\n\n", and the page its first
// rune is on. The output is a pure function of the input and the Config.
//
// Chunk.TokenCount never exceeds MaxTokens (unless a single rune does) and
// is never below the chunk's true cl100k count: pieces are cut where the
// tokenizer splits anyway, so their counts are summed instead of counting
// each chunk again; it is exact for ordinary text and may exceed the true
// count by a token or two at section separators and trimmed whitespace.
//
// It must never: hold more of a document than the caller passed in (chunk
// texts share memory with the sections where they can), log or return
// document text in errors, or download a vocabulary at run time.
package chunk
