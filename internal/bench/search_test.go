package bench_test

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pgvector/pgvector-go"
	pgxvec "github.com/pgvector/pgvector-go/pgx"

	"github.com/tenantry/tenantry/internal/pgstore"
	"github.com/tenantry/tenantry/internal/retrieval"
	"github.com/tenantry/tenantry/internal/retrieval/retrievaltest"
	"github.com/tenantry/tenantry/internal/tenantdb/tenantdbtest"
)

// searchRow is one line of the recall report: one tenant, one filter.
type searchRow struct {
	Dataset  string
	Tenant   int // rows
	Filter   string
	Matching int64
	AtLeast  bool
	Plans    map[retrieval.Plan]int
	Recall   float64 // mean recall@10 vs the exact scan
	MinRec   float64
	Short    int // queries with fewer rows than min(10, matching)
	P50, P95 time.Duration
	Base50   time.Duration // unfiltered HNSW query, same run, interleaved
	Base95   time.Duration
	// The pre-retrieval query (pgstore.Scoped.Search: RLS only, no tenant
	// predicate), unfiltered rows only: what the product did before.
	OldRecall float64
	OldShort  int
	OldP95    time.Duration
}

// TestSearchRecall measures tenant-correct retrieval: recall@10 per tenant
// against an exact scan of the tenant's rows, on skewed tenants (90% / 9.9%
// / 0.1% / 10 rows), with and without a filter matching 1% of a tenant's
// documents, and p50/p95 against an unfiltered HNSW query on the same table,
// interleaved in the same run. TENANTRY_BENCH=full: 100,000 chunks per
// dataset (make bench); otherwise 3,000 (make test). Writes Markdown to
// $TENANTRY_SEARCH_BENCH_DOC when set. Asserts only correctness (never
// fewer rows than the tenant has), never a speed.
func TestSearchRecall(t *testing.T) {
	total, queries := 3000, 5
	m, efc := envInt("TENANTRY_SEARCH_BENCH_M"), envInt("TENANTRY_SEARCH_BENCH_EF_CONSTRUCTION")
	kinds := []retrievaltest.Kind{retrievaltest.Clustered}
	if os.Getenv("TENANTRY_BENCH") == "full" {
		total, queries = 100000, 40
		kinds = append(kinds, retrievaltest.Text)
	}
	cfg := retrieval.Config{Dims: tenantdbtest.Dims}.WithDefaults()
	var rows []searchRow
	var sweeps []sweepRow
	started := time.Now()
	for _, kind := range kinds {
		db := tenantdbtest.NewDatabase(t)
		loadStart := time.Now()
		ds := retrievaltest.Load(t, db, retrievaltest.Spec{Rows: retrievaltest.Skewed(total), Kind: kind, Seed: 42, Queries: queries, M: m, EFConstruction: efc})
		t.Logf("%s: loaded %d rows and built the HNSW index in %s", kind, total, time.Since(loadStart).Round(time.Second))
		rows = append(rows, measureSearch(t, db, ds, string(kind), cfg)...)
		sweeps = append(sweeps, sweepEF(t, db, ds, string(kind), cfg)...)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "## Search: recall and latency per tenant\n\n")
	fmt.Fprintf(&b, "%d chunks per dataset (1024-d, HNSW m=%d ef_construction=%d, one index shared by all tenants), "+
		"tenants of 90%% / 9.9%% / 0.1%% / 10 rows, %d queries per tenant and filter, k=10, worker role with forced RLS. "+
		"ExactThreshold %d, ef_search %d × (1 + log10(table rows / tenant rows)), iterative scan relaxed_order, max_scan_tuples %d. "+
		"Filter `bucket = 0` matches 1%% of a large tenant's documents (at least one of every tenant). "+
		"Latency is per search call (transaction, count, query), interleaved with an unfiltered HNSW query "+
		"on the same table (superuser, no RLS, no tenant predicate, same ef_search): ratios are tenant/unfiltered. "+
		"\"before\" is the pre-#14 query (RLS only, no explicit tenant predicate). Run took %s.\n\n",
		total, cmp.Or(m, 16), cmp.Or(efc, 128), queries, cfg.ExactThreshold, cfg.EFSearch, cfg.MaxScanTuples, time.Since(started).Round(time.Second))
	b.WriteString("| vectors | tenant rows | filter | matching | plans | recall@10 mean (min) | short | p50 | p95 | p50 ratio | p95 ratio | before: recall / short / p95 |\n")
	b.WriteString("|---|---:|---|---:|---|---:|---:|---:|---:|---:|---:|---|\n")
	for _, r := range rows {
		var plans []string
		for p, n := range r.Plans {
			plans = append(plans, fmt.Sprintf("%s×%d", p, n))
		}
		sort.Strings(plans)
		before := "—"
		if r.Filter == "none" {
			before = fmt.Sprintf("%.3f / %d / %s", r.OldRecall, r.OldShort, ms(r.OldP95))
		}
		matching := fmt.Sprint(r.Matching)
		if r.AtLeast {
			matching = "≥ " + matching
		}
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %.3f (%.2f) | %d | %s | %s | %.2f | %.2f | %s |\n",
			r.Dataset, r.Tenant, r.Filter, matching, strings.Join(plans, " "), r.Recall, r.MinRec, r.Short,
			ms(r.P50), ms(r.P95), ratio(r.P50, r.Base50), ratio(r.P95, r.Base95), before)
		if r.Short > 0 {
			t.Errorf("%s tenant of %d rows, filter %s: %d queries came back short", r.Dataset, r.Tenant, r.Filter, r.Short)
		}
	}
	b.WriteString("\n### ef_search sweep (HNSW plan, no filter)\n\n")
	b.WriteString("Config.EFSearch is the base: the tenant's query runs at base × (1 + log10(table rows / tenant rows)) (×1.05 for 90%, ×2 for 9.9%). " +
		"Recall@10 against the exact scan of the tenant's rows, and of the unfiltered query at the base ef_search against an exact scan of the whole table " +
		"(the index's own recall); latency ratios against the unfiltered query at the default base, interleaved.\n\n")
	b.WriteString("| vectors | base ef_search | tenant rows | recall@10 mean (min) | p50 | p95 | p95 ratio | unfiltered recall@10 mean (min) |\n|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range sweeps {
		fmt.Fprintf(&b, "| %s | %d | %d | %.3f (%.2f) | %s | %s | %.2f | %.3f (%.2f) |\n", r.Dataset, r.EF, r.Tenant,
			r.Recall, r.MinRec, ms(r.P50), ms(r.P95), ratio(r.P95, r.Base95), r.GlobalRecall, r.GlobalMin)
	}
	t.Log("\n" + b.String())
	if f := os.Getenv("TENANTRY_SEARCH_BENCH_DOC"); f != "" {
		if err := os.WriteFile(f, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

func ratio(a, b time.Duration) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func pct(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

func recallAt(got []retrieval.Hit, want []retrieval.Hit) float64 {
	if len(want) == 0 {
		return 1
	}
	n := 0
	for _, w := range want {
		if slices.ContainsFunc(got, func(h retrieval.Hit) bool { return h.DocumentID == w.DocumentID && h.Ordinal == w.Ordinal }) {
			n++
		}
	}
	return float64(n) / float64(len(want))
}

func measureSearch(t *testing.T, db *tenantdbtest.Database, ds *retrievaltest.Dataset, kind string, cfg retrieval.Config) []searchRow {
	ctx := context.Background()
	gw := db.Open(t)
	s, err := retrieval.New(gw, cfg)
	if err != nil {
		t.Fatal(err)
	}
	old := pgstore.New(gw, nil)
	filter, err := retrieval.ParseFilter([]byte(retrievaltest.RareFilter))
	if err != nil {
		t.Fatal(err)
	}
	pcfg, err := pgxpool.ParseConfig(db.AdminURL)
	if err != nil {
		t.Fatal(err)
	}
	pcfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error { return pgxvec.RegisterTypes(ctx, c) }
	admin, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	unfiltered := func(q []float32) time.Duration {
		start := time.Now()
		err := pgx.BeginFunc(ctx, admin, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "SELECT set_config('hnsw.ef_search', $1, true)", fmt.Sprint(cfg.EFSearch)); err != nil {
				return err
			}
			rows, err := tx.Query(ctx, "SELECT document_id, ordinal FROM chunks ORDER BY embedding <=> $1 LIMIT 10", pgvector.NewVector(q))
			if err != nil {
				return err
			}
			defer rows.Close()
			n := 0
			for rows.Next() {
				n++
			}
			if n != 10 {
				return fmt.Errorf("unfiltered query returned %d rows", n)
			}
			return rows.Err()
		})
		if err != nil {
			t.Fatal(err)
		}
		return time.Since(start)
	}
	// Warm the caches once (index and heap) so the first tenant does not pay them.
	for _, tn := range ds.Tenants {
		for _, q := range tn.Queries {
			unfiltered(q)
		}
	}
	var out []searchRow
	for _, tn := range ds.Tenants {
		scope := tenantdbtest.Scope(t, tn.ID)
		for _, fname := range []string{"none", "bucket=0 (1%)"} {
			var f *retrieval.Filter
			if fname != "none" {
				f = filter
			}
			r := searchRow{Dataset: kind, Tenant: tn.Count, Filter: fname, Plans: map[retrieval.Plan]int{}, MinRec: 1}
			var lat, base, oldLat []time.Duration
			for _, q := range tn.Queries {
				truth, err := s.Search(ctx, scope, retrieval.Request{Vector: q, K: 10, Filter: f, Plan: retrieval.PlanExact})
				if err != nil {
					t.Fatal(err)
				}
				base = append(base, unfiltered(q))
				start := time.Now()
				res, err := s.Search(ctx, scope, retrieval.Request{Vector: q, K: 10, Filter: f})
				lat = append(lat, time.Since(start))
				if err != nil {
					t.Fatal(err)
				}
				r.Matching, r.AtLeast = res.Matching, res.MatchingAtLeast
				r.Plans[res.Plan]++
				rec := recallAt(res.Hits, truth.Hits)
				r.Recall += rec / float64(len(tn.Queries))
				r.MinRec = min(r.MinRec, rec)
				if int64(len(res.Hits)) < min(10, res.Matching) {
					r.Short++
				}
				if f == nil {
					start := time.Now()
					oh, err := old.For(scope).Search(ctx, q, 10)
					oldLat = append(oldLat, time.Since(start))
					if err != nil {
						t.Fatal(err)
					}
					hits := make([]retrieval.Hit, len(oh))
					for i, h := range oh {
						hits[i] = retrieval.Hit{DocumentID: h.DocumentID, Ordinal: h.Ordinal}
					}
					r.OldRecall += recallAt(hits, truth.Hits) / float64(len(tn.Queries))
					if len(oh) < min(10, tn.Count) {
						r.OldShort++
					}
				}
			}
			r.P50, r.P95 = pct(lat, 0.5), pct(lat, 0.95)
			r.Base50, r.Base95 = pct(base, 0.5), pct(base, 0.95)
			r.OldP95 = pct(oldLat, 0.95)
			out = append(out, r)
		}
	}
	return out
}

type sweepRow struct {
	Dataset                 string
	EF, Tenant              int
	Recall, MinRec          float64
	P50, P95, Base95        time.Duration
	GlobalRecall, GlobalMin float64
}

// sweepEF measures the HNSW plan of the tenants above the exact threshold
// at several ef_search values, and the unfiltered index's own recall at the
// same values (ground truth: an exact scan of the whole table).
func sweepEF(t *testing.T, db *tenantdbtest.Database, ds *retrievaltest.Dataset, kind string, cfg retrieval.Config) []sweepRow {
	ctx := context.Background()
	gw := db.Open(t)
	admin := tenantdbtest.Conn(t, db.AdminURL)
	if err := pgxvec.RegisterTypes(ctx, admin); err != nil {
		t.Fatal(err)
	}
	topIDs := func(ef int, exact bool, q []float32) ([]retrieval.Hit, time.Duration) {
		start := time.Now()
		var hits []retrieval.Hit
		err := pgx.BeginFunc(ctx, admin, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "SELECT set_config('hnsw.ef_search', $1, true)", fmt.Sprint(ef)); err != nil {
				return err
			}
			// Two statement texts: a cached plan of one never serves the
			// other; "+ 0" keeps the exact one off the index.
			order := "embedding <=> $1"
			if exact {
				order = "(embedding <=> $1) + 0"
			}
			rows, err := tx.Query(ctx, "SELECT document_id, ordinal, tenant_id::text FROM chunks ORDER BY "+order+" LIMIT 10", pgvector.NewVector(q))
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var h retrieval.Hit
				var tenant string
				if err := rows.Scan(&h.DocumentID, &h.Ordinal, &tenant); err != nil {
					return err
				}
				h.SourceURI = tenant
				hits = append(hits, h)
			}
			return rows.Err()
		})
		if err != nil {
			t.Fatal(err)
		}
		return hits, time.Since(start)
	}
	key := func(hits []retrieval.Hit) []retrieval.Hit { // document ids repeat across tenants
		out := make([]retrieval.Hit, len(hits))
		for i, h := range hits {
			out[i] = retrieval.Hit{DocumentID: h.SourceURI + "/" + h.DocumentID, Ordinal: h.Ordinal}
		}
		return out
	}
	var out []sweepRow
	for _, tn := range ds.Tenants {
		if int64(tn.Count) <= cfg.ExactThreshold {
			continue
		}
		scope := tenantdbtest.Scope(t, tn.ID)
		exact, err := retrieval.New(gw, cfg)
		if err != nil {
			t.Fatal(err)
		}
		truth := make([][]retrieval.Hit, len(tn.Queries))
		global := make([][]retrieval.Hit, len(tn.Queries))
		for i, q := range tn.Queries {
			res, err := exact.Search(ctx, scope, retrieval.Request{Vector: q, K: 10, Plan: retrieval.PlanExact})
			if err != nil {
				t.Fatal(err)
			}
			truth[i] = res.Hits
			g, _ := topIDs(40, true, q)
			global[i] = key(g)
		}
		for _, ef := range []int{40, 100, 200, 400} {
			c := cfg
			c.EFSearch = ef
			s, err := retrieval.New(gw, c)
			if err != nil {
				t.Fatal(err)
			}
			r := sweepRow{Dataset: kind, EF: ef, Tenant: tn.Count, MinRec: 1, GlobalMin: 1}
			var lat, base []time.Duration
			for i, q := range tn.Queries {
				_, d := topIDs(cfg.EFSearch, false, q)
				base = append(base, d)
				start := time.Now()
				res, err := s.Search(ctx, scope, retrieval.Request{Vector: q, K: 10, Plan: retrieval.PlanHNSW})
				lat = append(lat, time.Since(start))
				if err != nil {
					t.Fatal(err)
				}
				rec := recallAt(res.Hits, truth[i])
				r.Recall += rec / float64(len(tn.Queries))
				r.MinRec = min(r.MinRec, rec)
				g, _ := topIDs(ef, false, q)
				grec := recallAt(key(g), global[i])
				r.GlobalRecall += grec / float64(len(tn.Queries))
				r.GlobalMin = min(r.GlobalMin, grec)
			}
			r.P50, r.P95, r.Base95 = pct(lat, 0.5), pct(lat, 0.95), pct(base, 0.95)
			out = append(out, r)
		}
	}
	return out
}

func envInt(name string) int {
	n, _ := strconv.Atoi(os.Getenv(name))
	return n
}
