package dlq_test

import (
	"fmt"
	"testing"

	"github.com/tenantry/tenantry/internal/dlq"
	"github.com/tenantry/tenantry/worker"
)

// BenchmarkReplay replays b.N dead-lettered job messages from the local SQS
// server into their queue, auditing each in Postgres, and reports the send
// rate the replayer measured itself: unlimited (rate 3000/s, the server and
// database are the limit) and limited to 50/s (the rate must hold).
func BenchmarkReplay(b *testing.B) {
	for _, limit := range []float64{3000, 50} {
		b.Run(fmt.Sprintf("rate=%g", limit), func(b *testing.B) {
			f := newFixture(b)
			db, _ := newDB(b)
			body := f.job(b, f.tenantA, "bench")
			for range b.N {
				f.deadLetter(b, body, nil, worker.DeadLetterInfo{Reason: "handler_failed"})
			}
			cfg := dlq.ReplayConfig{DLQURL: f.dlqURL, TargetURL: f.queueURL, Reason: "benchmark", Actor: "bench", Rate: limit, MaxReplays: 100}
			r, err := dlq.NewReplayer(cfg, f.client, f.resolver, db, nil)
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			st, err := r.Replay(opCtx(b))
			b.StopTimer()
			if err != nil || st.Replayed != b.N {
				b.Fatalf("replayed %d of %d: %v (stats %+v)", st.Replayed, b.N, err, st)
			}
			if st.Replayed > 1 {
				b.ReportMetric(st.SendRate(), "msgs/s")
			}
		})
	}
}
