package pgstore

import "errors"

// errGone: the document row disappeared between claim and commit (a delete
// won); the message is retried and its claim starts over.
var errGone = errors.New("gone")

// ErrNotFound: the tenant has no such document.
var ErrNotFound = errors.New("pgstore: document not found")
