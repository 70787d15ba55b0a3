package service

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tenantry/tenantry/internal/breaker"
	"github.com/tenantry/tenantry/internal/embed"
	"github.com/tenantry/tenantry/internal/embed/adaptive"
	"github.com/tenantry/tenantry/internal/ingest"
	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/worker"
)

var (
	dashboardMetric = regexp.MustCompile(`MetricName=\\"(tenantry_[a-z0-9_]+)\\"`)
	descName        = regexp.MustCompile(`fqName: "([^"]+)"`)
)

// TestDashboardShowsExportedMetrics: every tenantry_* metric the CloudWatch
// dashboard in deploy/aws/template.yaml searches for is one the worker
// registers (a renamed metric would leave an empty widget).
func TestDashboardShowsExportedMetrics(t *testing.T) {
	t.Parallel()
	tpl, err := os.ReadFile(filepath.Join("..", "..", "deploy", "aws", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// The worker's metrics, registered as Run registers them.
	reg := &describer{names: map[string]bool{}}
	if _, err := worker.NewMetrics(reg); err != nil {
		t.Fatal(err)
	}
	ingest.NewMetrics(reg)
	breaker.NewMetrics(reg)
	lim, err := adaptive.New(adaptive.Config{})
	if err != nil {
		t.Fatal(err)
	}
	embed.NewMetrics(reg).ObserveLimiter(lim)
	reg.MustRegister(new(tenantdb.DB).Collector()) // Describe touches no pool
	exported := reg.names
	names := dashboardMetric.FindAllStringSubmatch(string(tpl), -1)
	if len(names) < 8 {
		t.Fatalf("the dashboard names %d tenantry metrics; template changed shape?", len(names))
	}
	for _, m := range names {
		name := m[1]
		base := strings.TrimSuffix(strings.TrimSuffix(name, "_sum"), "_count")
		if !exported[name] && !exported[base] {
			t.Errorf("the dashboard shows %s, which the worker does not export", name)
		}
	}
	for _, want := range []string{"tenantry_embed_requests_total", "tenantry_embed_throttled_total", "tenantry_embed_rate",
		"tenantry_embed_tokens_total", "tenantry_db_pool_acquired_conns", "tenantry_db_pool_idle_conns", "tenantry_db_pool_acquire_waits_total"} {
		if !strings.Contains(string(tpl), `\"`+want+`\"`) {
			t.Errorf("the dashboard does not show %s", want)
		}
	}
}

// describer is a Registerer that records the names of what is registered.
type describer struct{ names map[string]bool }

func (d *describer) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc)
	go func() { c.Describe(ch); close(ch) }()
	for desc := range ch {
		if m := descName.FindStringSubmatch(desc.String()); m != nil {
			d.names[m[1]] = true
		}
	}
	return nil
}

func (d *describer) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		_ = d.Register(c)
	}
}

func (d *describer) Unregister(prometheus.Collector) bool { return false }
