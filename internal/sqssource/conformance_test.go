package sqssource_test

import (
	"testing"

	"github.com/tenantry/tenantry/internal/sqssource"
	"github.com/tenantry/tenantry/worker"
	"github.com/tenantry/tenantry/worker/sourcetest"
)

// TestConformance runs the worker.Source conformance suite against the local
// SQS server, one fresh queue pair per subtest.
func TestConformance(t *testing.T) {
	t.Parallel()
	client := sqsClient(t)
	sourcetest.Run(t, func(t *testing.T) (worker.Source, sourcetest.Sender) {
		queueURL, dlqURL := newQueues(t, client, 1000)
		src, err := sqssource.New(sqssource.Config{
			QueueURL:          queueURL,
			DLQURL:            dlqURL,
			VisibilityTimeout: sourcetest.VisibilityTimeout,
			// The default 20s long poll, so a cancelled receive is a
			// blocked one.
		}, client, nil)
		if err != nil {
			t.Fatal(err)
		}
		return src, newHarness(t, client, queueURL, dlqURL)
	})
}
