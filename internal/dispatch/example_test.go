package dispatch_test

import (
	"context"
	"fmt"

	"github.com/tenantry/tenantry/internal/dispatch"
)

// A worker with 8 slots: each verified message waits for its tenant's turn
// (weight 3 gets three slots for every one of a weight-1 tenant; a cap of 2
// keeps a tenant to two at once), runs, and gives its slot back.
func ExampleScheduler() {
	s, err := dispatch.New(8)
	if err != nil {
		panic(err)
	}
	release, err := s.Acquire(context.Background(), "tenant-a", dispatch.Share{Weight: 3, Max: 2})
	if err != nil {
		return // cancelled while waiting: retry the message later
	}
	fmt.Println(s.Stats().Running)
	release()
	fmt.Println(s.Stats().Busy)
	// Output:
	// map[tenant-a:1]
	// 0
}
