package pgstore

import "errors"

// errGone: the document row disappeared between claim and commit (a delete
// won); the message is retried and its claim starts over.
var errGone = errors.New("gone")

// ErrNotFound: the tenant has no such document.
var ErrNotFound = errors.New("pgstore: document not found")

// ErrAlreadyDone: this job (the scope's job id: an envelope's jti, or an SQS
// message id) already had its effect. Deletes and purges are single-use so
// that a replayed message cannot remove what was uploaded after it ran; a
// redelivery of the same message ends here too. Callers treat it as done.
var ErrAlreadyDone = errors.New("pgstore: job already done")
