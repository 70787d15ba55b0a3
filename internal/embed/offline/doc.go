// Package offline is tenantry's default embedder: deterministic, lexical,
// needing no download and no network. It hashes word unigrams and bigrams
// and character trigrams into a signed feature vector (the "hashing
// trick"), weights each feature's term frequency logarithmically and
// L2-normalises the result. A short list of English stop words is skipped.
//
// What it is: a fast, reproducible bag-of-words similarity — texts that
// share words (and, through trigrams, word stems and spelling variants)
// land close together — good enough for the demo, tests, benchmarks and
// keyword-heavy corpora, with no model to download and no data leaving the
// process. What it is not: a semantic model. Synonyms, paraphrases and
// translations do not match ("car" is not near "automobile"), word order
// beyond neighbouring pairs is ignored, and hash collisions add a little
// noise. Use Bedrock or an OpenAI-compatible endpoint for retrieval quality.
//
// It must never: depend on anything but its input (no randomness, no
// clock, no global state), or change its vectors for a given Model name —
// a different algorithm needs a new Model name, so stored vectors stay
// comparable with query vectors.
package offline
