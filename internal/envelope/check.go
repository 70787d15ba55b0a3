package envelope

import (
	"context"
	"errors"
	"fmt"
)

// CheckRequest is an operator's question about one envelope (`tenantry
// envelope verify`): the token and, optionally, what it must be bound to.
type CheckRequest struct {
	Token string
	// Bucket and Key, if either is set, check the binding to that object
	// (VerifyObject).
	Bucket, Key string
	// Body, if not nil, checks the binding to this job body (VerifyJob).
	Body []byte
}

// Verdict answers a CheckRequest for an operator. It never carries a scope:
// nothing can use it to reach tenant data (that is internal/binding's).
type Verdict struct {
	Valid  bool    `json:"valid"`
	Reason string  `json:"reason,omitempty"`
	Claims *Claims `json:"claims,omitempty"`
	// Scope names the tenant scope the envelope would mint ("tenant:<id>").
	Scope string `json:"scope,omitempty"`
}

// ErrRefused is returned with a Verdict that is not Valid, so a tool can
// exit non-zero after printing it.
var ErrRefused = errors.New("envelope refused")

// Check verifies req.Token with the binding req asks for: an object, a job
// body, or none. A rejection is a Verdict with its reason and an error
// wrapping ErrRefused; any other error (keys unavailable, a
// cancelled context) means the envelope was not judged.
func (v *Verifier) Check(ctx context.Context, req CheckRequest) (Verdict, error) {
	var (
		got Verified
		err error
	)
	switch {
	case req.Bucket != "" || req.Key != "":
		got, err = v.VerifyObject(ctx, req.Token, req.Bucket, req.Key)
	case req.Body != nil:
		got, err = v.VerifyJob(ctx, req.Token, req.Body)
	default:
		got, err = v.Verify(ctx, req.Token)
	}
	if reason := ReasonOf(err); reason != "" {
		return Verdict{Reason: reason}, fmt.Errorf("%w: %s", ErrRefused, reason)
	}
	if err != nil {
		return Verdict{}, err
	}
	return Verdict{Valid: true, Claims: &got.Claims, Scope: got.Scope.String()}, nil
}
