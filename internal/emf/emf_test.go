package emf_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tenantry/tenantry/internal/emf"
)

type line struct {
	AWS struct {
		Timestamp         int64
		CloudWatchMetrics []struct {
			Namespace  string
			Dimensions [][]string
			Metrics    []struct{ Name, Unit string }
		}
	} `json:"_aws"`
	fields map[string]any
}

func parse(t *testing.T, out string) []line {
	t.Helper()
	var lines []line
	for _, s := range strings.Split(strings.TrimSpace(out), "\n") {
		if s == "" {
			continue
		}
		var l line
		if err := json.Unmarshal([]byte(s), &l); err != nil {
			t.Fatalf("not JSON: %q", s)
		}
		_ = json.Unmarshal([]byte(s), &l.fields)
		lines = append(lines, l)
	}
	return lines
}

// value finds metric name's value in the line whose dimensions match dims.
func value(t *testing.T, lines []line, name string, dims map[string]string) (float64, bool) {
	t.Helper()
next:
	for _, l := range lines {
		for k, v := range dims {
			if l.fields[k] != v {
				continue next
			}
		}
		if v, ok := l.fields[name].(float64); ok {
			declared := false
			for _, m := range l.AWS.CloudWatchMetrics[0].Metrics {
				declared = declared || m.Name == name
			}
			if !declared {
				t.Fatalf("%s is not declared in its line's directive", name)
			}
			return v, true
		}
	}
	return 0, false
}

func TestFlush(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	req := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tenantry_embed_requests_total"}, []string{"model", "outcome"})
	inflight := prometheus.NewGauge(prometheus.GaugeOpts{Name: "tenantry_worker_in_flight"})
	stage := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "tenantry_stage_seconds"}, []string{"stage"})
	other := prometheus.NewCounter(prometheus.CounterOpts{Name: "go_gc_total"})
	reg.MustRegister(req, inflight, stage, other)
	var out bytes.Buffer
	now := time.Unix(1700000000, 0)
	w := emf.New(emf.Config{Output: &out, Service: "prod-worker", Now: func() time.Time { return now }}, reg, nil)

	req.WithLabelValues("titan", "ok").Add(5)
	req.WithLabelValues("titan", "throttled").Add(2)
	inflight.Set(3)
	stage.WithLabelValues("embed").Observe(0.5)
	other.Inc()
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	lines := parse(t, out.String())
	for _, l := range lines {
		d := l.AWS.CloudWatchMetrics[0]
		if l.AWS.Timestamp != now.UnixMilli() || d.Namespace != "tenantry" || d.Dimensions[0][0] != "Service" || l.fields["Service"] != "prod-worker" {
			t.Fatalf("envelope %+v", l.AWS)
		}
		for _, dim := range d.Dimensions[0] {
			if _, ok := l.fields[dim].(string); !ok {
				t.Fatalf("dimension %s has no string value", dim)
			}
		}
	}
	check := func(name string, dims map[string]string, want float64) {
		t.Helper()
		got, ok := value(t, parse(t, out.String()), name, dims)
		if !ok || got != want {
			t.Fatalf("%s%v = %v (found %v), want %v\n%s", name, dims, got, ok, want, out.String())
		}
	}
	check("tenantry_embed_requests_total", map[string]string{"model": "titan", "outcome": "ok"}, 5)
	check("tenantry_embed_requests_total", map[string]string{"outcome": "throttled"}, 2)
	check("tenantry_worker_in_flight", nil, 3)
	check("tenantry_stage_seconds_count", map[string]string{"stage": "embed"}, 1)
	check("tenantry_stage_seconds_sum", map[string]string{"stage": "embed"}, 0.5)
	if strings.Contains(out.String(), "go_gc_total") {
		t.Fatal("a non-tenantry metric was written")
	}

	// Counters are written as their increase since the last flush.
	out.Reset()
	req.WithLabelValues("titan", "ok").Add(1)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	check("tenantry_embed_requests_total", map[string]string{"outcome": "ok"}, 1)
	check("tenantry_embed_requests_total", map[string]string{"outcome": "throttled"}, 0)
	check("tenantry_stage_seconds_count", nil, 0)
}

func TestFlushSplitsAtTheMetricLimit(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	for i := range 150 {
		reg.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: fmt.Sprintf("tenantry_g%03d", i)}))
	}
	var out bytes.Buffer
	if err := emf.New(emf.Config{Output: &out}, reg, nil).Flush(); err != nil {
		t.Fatal(err)
	}
	lines := parse(t, out.String())
	if len(lines) != 2 || len(lines[0].AWS.CloudWatchMetrics[0].Metrics) != 100 || len(lines[1].AWS.CloudWatchMetrics[0].Metrics) != 50 {
		t.Fatalf("%d lines", len(lines))
	}
}

func TestRunFlushesAtTheEnd(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "tenantry_x"})
	reg.MustRegister(g)
	var out bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := emf.New(emf.Config{Output: &out, Interval: time.Hour}, reg, nil).Run(ctx); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"tenantry_x":0`) {
		t.Fatalf("no final flush: %q", out.String())
	}
}

func ExampleWriter_Flush() {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "tenantry_documents_total"})
	reg.MustRegister(c)
	c.Add(3)
	var out bytes.Buffer
	w := emf.New(emf.Config{Output: &out, Now: func() time.Time { return time.UnixMilli(1) }}, reg, nil)
	_ = w.Flush()
	fmt.Print(out.String())
	// Output: {"Service":"tenantry","_aws":{"CloudWatchMetrics":[{"Dimensions":[["Service"]],"Metrics":[{"Name":"tenantry_documents_total","Unit":"None"}],"Namespace":"tenantry"}],"Timestamp":1},"tenantry_documents_total":3}
}
