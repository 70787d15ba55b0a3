package tenantdb

import (
	"github.com/prometheus/client_golang/prometheus"
)

// poolCollector reports the pool's statistics at every scrape (pgxpool.Stat
// is cheap: a few counters under the pool's lock).
type poolCollector struct {
	db                                       *DB
	acquired, idle, total, max, constructing *prometheus.Desc
	acquires, waits, waitSeconds, canceled   *prometheus.Desc
}

// Collector returns a Prometheus collector of the pool's connections
// (tenantry_db_pool_*: acquired, idle, total, max; acquires, acquires that
// waited for a connection and the time spent waiting, cancelled acquires).
func (db *DB) Collector() prometheus.Collector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("tenantry_db_pool_"+name, help, nil, nil)
	}
	return &poolCollector{db: db,
		acquired:     d("acquired_conns", "Connections in use by a transaction."),
		idle:         d("idle_conns", "Idle connections in the pool."),
		total:        d("total_conns", "Connections open (acquired, idle and being opened)."),
		max:          d("max_conns", "The pool's connection limit."),
		constructing: d("constructing_conns", "Connections being opened."),
		acquires:     d("acquires_total", "Connections acquired from the pool."),
		waits:        d("acquire_waits_total", "Acquires that had to wait for a connection (none was idle)."),
		waitSeconds:  d("acquire_seconds_total", "Time spent acquiring connections, waiting included."),
		canceled:     d("acquires_canceled_total", "Acquires cancelled by their context while waiting."),
	}
}

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.acquired, c.idle, c.total, c.max, c.constructing, c.acquires, c.waits, c.waitSeconds, c.canceled} {
		ch <- d
	}
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.db.pool.Stat()
	g := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	n := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	g(c.acquired, float64(s.AcquiredConns()))
	g(c.idle, float64(s.IdleConns()))
	g(c.total, float64(s.TotalConns()))
	g(c.max, float64(s.MaxConns()))
	g(c.constructing, float64(s.ConstructingConns()))
	n(c.acquires, float64(s.AcquireCount()))
	n(c.waits, float64(s.EmptyAcquireCount()))
	n(c.waitSeconds, s.AcquireDuration().Seconds())
	n(c.canceled, float64(s.CanceledAcquireCount()))
}
