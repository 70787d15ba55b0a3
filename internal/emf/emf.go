package emf

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap"
)

// Config tunes a Writer.
type Config struct {
	// Interval between flushes (default 60 s: CloudWatch's standard
	// resolution).
	Interval time.Duration
	// Namespace is the CloudWatch namespace (default "tenantry").
	Namespace string
	// Service is the value of the Service dimension every metric carries
	// (default "tenantry"), so the dashboard can tell deployments apart.
	Service string
	// Prefix selects the metric families written (default "tenantry_").
	Prefix string
	// Output receives the lines (default os.Stdout).
	Output io.Writer
	// Now is the clock (tests).
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	if c.Interval <= 0 {
		c.Interval = time.Minute
	}
	if c.Namespace == "" {
		c.Namespace = "tenantry"
	}
	if c.Service == "" {
		c.Service = "tenantry"
	}
	if c.Prefix == "" {
		c.Prefix = "tenantry_"
	}
	if c.Output == nil {
		c.Output = os.Stdout
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// maxMetrics is CloudWatch's limit of metrics per EMF directive.
const maxMetrics = 100

// Writer writes a gatherer's metrics as EMF lines.
type Writer struct {
	cfg    Config
	g      prometheus.Gatherer
	logger *zap.Logger

	mu   sync.Mutex
	last map[string]float64 // previous cumulative values, by series
}

// New returns a Writer of g's metrics. A nil logger logs nothing.
func New(cfg Config, g prometheus.Gatherer, logger *zap.Logger) *Writer {
	if logger == nil {
		logger = zap.NewNop()
	}
	return &Writer{cfg: cfg.withDefaults(), g: g, logger: logger, last: map[string]float64{}}
}

// Run flushes every Interval until ctx ends, then flushes once more.
func (w *Writer) Run(ctx context.Context) error {
	t := time.NewTicker(w.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if err := w.Flush(); err != nil {
				w.logger.Warn("emf: last flush failed", zap.Error(err))
			}
			return nil
		case <-t.C:
			if err := w.Flush(); err != nil {
				w.logger.Warn("emf: flush failed", zap.Error(err))
			}
		}
	}
}

// group is the metrics of one label set: one EMF line.
type group struct {
	dims    []string // label names, sorted, Service first
	values  map[string]string
	metrics []metric
}

type metric struct {
	name, unit string
	value      float64
}

// Flush writes one line per label set of the selected families.
func (w *Writer) Flush() error {
	fams, err := w.g.Gather()
	if err != nil && len(fams) == 0 {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	groups := map[string]*group{}
	var order []string
	add := func(labels []*dto.LabelPair, name, unit string, v float64) {
		g := w.groupFor(groups, &order, labels)
		g.metrics = append(g.metrics, metric{name: name, unit: unit, value: v})
	}
	for _, f := range fams {
		name := f.GetName()
		if !strings.HasPrefix(name, w.cfg.Prefix) {
			continue
		}
		unit := "None"
		if strings.HasSuffix(name, "_seconds") || strings.HasSuffix(name, "_seconds_total") {
			unit = "Seconds"
		}
		for _, m := range f.GetMetric() {
			key := seriesKey(name, m.GetLabel())
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				add(m.GetLabel(), name, unit, w.delta(key, m.GetCounter().GetValue()))
			case dto.MetricType_GAUGE:
				add(m.GetLabel(), name, unit, m.GetGauge().GetValue())
			case dto.MetricType_HISTOGRAM:
				h := m.GetHistogram()
				add(m.GetLabel(), name+"_count", "Count", w.delta(key+"#count", float64(h.GetSampleCount())))
				add(m.GetLabel(), name+"_sum", unit, w.delta(key+"#sum", h.GetSampleSum()))
			}
		}
	}
	ts := w.cfg.Now().UnixMilli()
	var errs []error
	for _, k := range order {
		g := groups[k]
		for start := 0; start < len(g.metrics); start += maxMetrics {
			line, err := w.line(ts, g, g.metrics[start:min(start+maxMetrics, len(g.metrics))])
			if err == nil {
				_, err = w.cfg.Output.Write(line)
			}
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// delta is a counter's increase since the previous flush (its value at the
// first); a counter that went down (a restart) counts from zero.
func (w *Writer) delta(key string, v float64) float64 {
	prev, seen := w.last[key]
	w.last[key] = v
	if !seen || v < prev {
		return v
	}
	return v - prev
}

func (w *Writer) groupFor(groups map[string]*group, order *[]string, labels []*dto.LabelPair) *group {
	k := seriesKey("", labels)
	if g, ok := groups[k]; ok {
		return g
	}
	g := &group{values: map[string]string{"Service": w.cfg.Service}}
	for _, l := range labels {
		if l.GetName() == "Service" || reserved(l.GetName()) {
			continue
		}
		g.dims = append(g.dims, l.GetName())
		g.values[l.GetName()] = l.GetValue()
	}
	slices.Sort(g.dims)
	g.dims = append([]string{"Service"}, g.dims...)
	if len(g.dims) > 30 { // CloudWatch's limit of dimensions per set
		g.dims = g.dims[:30]
	}
	groups[k] = g
	*order = append(*order, k)
	return g
}

// reserved names cannot be dimensions (they would collide with the EMF
// envelope).
func reserved(name string) bool { return name == "_aws" || strings.HasPrefix(name, "tenantry_") }

func seriesKey(name string, labels []*dto.LabelPair) string {
	var b strings.Builder
	b.WriteString(name)
	for _, l := range labels {
		b.WriteString("\x00")
		b.WriteString(l.GetName())
		b.WriteString("=")
		b.WriteString(l.GetValue())
	}
	return b.String()
}

// line renders one EMF JSON line.
func (w *Writer) line(ts int64, g *group, ms []metric) ([]byte, error) {
	type def struct {
		Name string `json:"Name"`
		Unit string `json:"Unit"`
	}
	defs := make([]def, len(ms))
	doc := map[string]any{}
	for k, v := range g.values {
		doc[k] = v
	}
	for i, m := range ms {
		defs[i] = def{Name: m.name, Unit: m.unit}
		doc[m.name] = m.value
	}
	doc["_aws"] = map[string]any{
		"Timestamp": ts,
		"CloudWatchMetrics": []map[string]any{{
			"Namespace":  w.cfg.Namespace,
			"Dimensions": [][]string{g.dims},
			"Metrics":    defs,
		}},
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
