package breaker_test

import (
	"testing"

	"github.com/tenantry/tenantry/internal/event"
	"github.com/tenantry/tenantry/worker"
)

func decode(t *testing.T, m *worker.Message) event.Event {
	t.Helper()
	evs, err := event.Decode(m.Body, m.Attributes)
	if err != nil || len(evs) != 1 {
		t.Fatalf("decode: %d events, %v", len(evs), err)
	}
	return evs[0]
}
