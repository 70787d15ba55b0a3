// Package bedrock owns embedding through Amazon Bedrock's InvokeModel
// (aws-sdk-go-v2 service/bedrockruntime): Titan Text Embeddings v2 (one text
// per call, 256/512/1024 dimensions, normalised) and Cohere Embed v3 English
// and multilingual (up to 96 texts per call, 1024 dimensions, input_type
// search_document for chunks and search_query for queries).
//
// It implements embed.Provider; wrap it with embed.New for batching,
// concurrency, retries and classification. The SDK's own retries are turned
// off per call (embed owns the retry policy and its adaptive pacing must see
// every throttle). It must never: put input text or response bodies into
// errors or logs, or call an AWS API not listed in IAMActions.
package bedrock
