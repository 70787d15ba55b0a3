// Package faultproxy is a fault-injecting HTTP reverse proxy for chaos runs:
// put it on loopback in front of an HTTP service (the local S3 server) and
// give the proxy's address to the process under test as that service's
// endpoint. While faults are switched on, a share of requests is answered
// with 5xx errors, held and then dropped without an answer (a timeout as the
// client sees it), or reset at once; the rest pass through unchanged.
//
// The Host header is forwarded as the client sent it, so AWS SigV4
// signatures computed for the proxy's address still verify upstream.
//
// It must never listen on anything but the address it is given (tests give
// 127.0.0.1:0), never answer with a status that a client would take as a
// verdict on the request itself (404, 403: those are not faults, they are
// answers), and never hold a request longer than the configured hang.
package faultproxy
