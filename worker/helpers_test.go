package worker_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.uber.org/goleak"

	"github.com/tenantry/tenantry/worker"
	"github.com/tenantry/tenantry/worker/workertest"
)

func TestMain(m *testing.M) {
	// The runner's spans go to the global provider: record them.
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans)))
	goleak.VerifyTestMain(m)
}

// spans holds every span the package's tests end.
var spans = tracetest.NewInMemoryExporter()

// waitFor polls cond until it holds or 15s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// running is a runner started in the background.
type running struct {
	r      *worker.Runner
	cancel context.CancelFunc
	done   chan error
}

func start(t *testing.T, cfg worker.Config) *running {
	t.Helper()
	r, err := worker.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rr := &running{r: r, cancel: cancel, done: make(chan error, 1)}
	go func() { rr.done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-rr.done:
		case <-time.After(30 * time.Second):
			t.Error("runner did not stop")
		}
	})
	return rr
}

// stop cancels the runner and returns Run's error.
func (rr *running) stop(t *testing.T) error {
	t.Helper()
	rr.cancel()
	select {
	case err := <-rr.done:
		rr.done <- err // for the cleanup
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("runner did not stop within 30s")
		return nil
	}
}

// baseConfig is a fast configuration over src.
func baseConfig(src worker.Source, h worker.Handler) worker.Config {
	return worker.Config{
		Source:            src,
		Handler:           h,
		Concurrency:       4,
		Pollers:           2,
		VisibilityTimeout: time.Minute,
		BackoffBase:       10 * time.Millisecond,
		BackoffMax:        50 * time.Millisecond,
		DrainTimeout:      5 * time.Second,
	}
}

func memSource(cfg workertest.Config) *workertest.Source {
	if cfg.VisibilityTimeout == 0 {
		cfg.VisibilityTimeout = time.Minute
	}
	if cfg.WaitTime == 0 {
		cfg.WaitTime = 200 * time.Millisecond
	}
	return workertest.NewSource(cfg)
}

// recorder wraps a Source and records the delays of Nack calls.
type recorder struct {
	worker.Source
	mu     sync.Mutex
	nacks  []time.Duration
	recvFn func(ctx context.Context, max int) ([]*worker.Message, error)
}

func (r *recorder) Receive(ctx context.Context, max int) ([]*worker.Message, error) {
	if r.recvFn != nil {
		return r.recvFn(ctx, max)
	}
	return r.Source.Receive(ctx, max)
}

func (r *recorder) Nack(ctx context.Context, m *worker.Message, d time.Duration) error {
	r.mu.Lock()
	r.nacks = append(r.nacks, d)
	r.mu.Unlock()
	return r.Source.Nack(ctx, m, d)
}

func (r *recorder) nackDelays() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Duration(nil), r.nacks...)
}

// metricValue returns the value of the counter or gauge name with labels
// (or the sample count of a histogram), 0 if absent.
func metricValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, lp := range m.GetLabel() {
				got[lp.GetName()] = lp.GetValue()
			}
			for k, v := range labels {
				if got[k] != v {
					continue next
				}
			}
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				return m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				return m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return 0
}
