// Package adaptive owns finding and holding the request rate an embedding
// provider's quota allows: a client-side pacer whose rate follows AIMD
// (additive increase, multiplicative decrease) on throttling signals, with
// the number of requests in flight capped from the rate and the observed
// latency (Little's law), and Retry-After honoured as a pause for every
// caller.
//
// It owns no network code and knows no provider: callers Acquire a permit
// before a request and report its Outcome. It must never sleep past the
// caller's context, and never let the rate fall below MinRate or rise above
// MaxRate.
package adaptive
