// Package bindingtest holds test doubles for internal/binding's callers.
package bindingtest

import (
	"context"
	"fmt"
	"sync"

	"github.com/tenantry/tenantry/internal/binding"
	"github.com/tenantry/tenantry/internal/objects"
)

// Objects is an in-memory binding.ObjectHeader: objects by "bucket/key",
// each with the envelope in its metadata ("" for none). A missing object is
// objects.ErrNotFound; Err, if set, fails every call. It is safe for
// concurrent use.
type Objects struct {
	Err error

	mu    sync.Mutex
	objs  map[string]string
	calls int
}

var _ binding.ObjectHeader = (*Objects)(nil)

// NewObjects returns Objects holding objs ("bucket/key" → envelope; may be
// nil) and failing every call with err (may be nil).
func NewObjects(objs map[string]string, err error) *Objects {
	o := &Objects{Err: err, objs: map[string]string{}}
	for k, v := range objs {
		o.objs[k] = v
	}
	return o
}

// Put stores an object with its envelope.
func (o *Objects) Put(bucket, key, envelope string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.objs == nil {
		o.objs = map[string]string{}
	}
	o.objs[bucket+"/"+key] = envelope
}

// Head implements binding.ObjectHeader.
func (o *Objects) Head(_ context.Context, bucket, key string) (objects.Head, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.calls++
	if o.Err != nil {
		return objects.Head{}, o.Err
	}
	env, ok := o.objs[bucket+"/"+key]
	if !ok {
		return objects.Head{}, fmt.Errorf("s3 head: %w", objects.ErrNotFound)
	}
	return objects.Head{Bucket: bucket, Key: key, Size: 5, Envelope: env}, nil
}

// HeadVersion implements binding.ObjectHeader; every object has one
// version here, whatever versionID asks.
func (o *Objects) HeadVersion(ctx context.Context, bucket, key, _ string) (objects.Head, error) {
	return o.Head(ctx, bucket, key)
}

// Calls is how many times Head was called.
func (o *Objects) Calls() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.calls
}
