package bench_test

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	pgxvec "github.com/pgvector/pgvector-go/pgx"
	"golang.org/x/sync/errgroup"

	"github.com/tenantry/tenantry/internal/chaos/harness"
	"github.com/tenantry/tenantry/internal/pgstore"
	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/internal/tenantdb/tenantdbtest"
)

// TestPGCPUBreakdown attributes the PostgreSQL CPU of the worker's store
// path (pgstore Open, then Finish with grouped writes, 8 at once, as the
// worker role) to its statements, next to the raw binary COPY of the same
// rows into a copy of the same table, each into an empty table. A backend's
// CPU is read from /proc/<pid>/schedstat (nanoseconds) before and after
// each statement. Diagnostic only (TENANTRY_BENCH_PGCPU=1); nothing here
// asserts a speed.
func TestPGCPUBreakdown(t *testing.T) {
	if os.Getenv("TENANTRY_BENCH_PGCPU") == "" {
		t.Skip("diagnostic: set TENANTRY_BENCH_PGCPU=1")
	}
	harness.LoadStack(t)
	sz := sizesFor("full")
	c := newCorpus(t, &harness.Env{Bucket: "bench"}, sz)
	rounds, _ := strconv.Atoi(os.Getenv("TENANTRY_BENCH_PGCPU_ROUNDS"))
	rounds = max(rounds, 1)
	writers := []int{1, 2}
	for r := range rounds {
		db := tenantdbtest.NewDatabase(t)
		pool := ownerPool(t, db.OwnerURL, 2)
		_, copyCPU := copyLimitNS(t, pool, c, fmt.Sprintf("chunks_copy_%d", r))
		secs2, copy2CPU := copyLimit(t, pool, c, fmt.Sprintf("chunks_copy2_%d", r), 2, true)
		t.Logf("round %d: COPY %.2f s CPU (%.3f ms/chunk); 2 COPY streams %.2f s wall, %.2f s CPU (%.3f ms/chunk)",
			r, copyCPU, 1e3*copyCPU/float64(c.total), secs2, copy2CPU, 1e3*copy2CPU/float64(c.total))
		for _, w := range writers {
			if w != writers[0] {
				db = tenantdbtest.NewDatabase(t)
			}
			tr := &stmtTracer{byKey: map[string]*stmtCost{}}
			secs, total := storeTraced(t, db, c, tr, w)
			t.Logf("round %d, %d writers: store path %.2f s wall, %.2f s CPU (%.3f ms/chunk): %.2f x COPY",
				r, w, secs, total, 1e3*total/float64(c.total), total/copyCPU)
			if os.Getenv("TENANTRY_BENCH_PGCPU_STATEMENTS") != "" {
				tr.report(t, total, c.total, len(c.docs))
			}
		}
	}
}

// copyLimitNS is copyLimit (one stream, every index) with the backend's
// CPU from schedstat.
func copyLimitNS(t *testing.T, pool *pgxpool.Pool, c *corpus, table string) (secs, cpu float64) {
	t.Helper()
	ctx := context.Background()
	for _, sql := range []string{"CREATE SCHEMA IF NOT EXISTS bench", "CREATE TABLE bench." + table + " (LIKE public.chunks INCLUDING ALL)"} {
		if _, err := pool.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	pid := int(conn.Conn().PgConn().PID())
	cpu0 := schedNS(pid)
	began := time.Now()
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"bench", table}, chunkColumns, pgx.CopyFromRows(c.rows)); err != nil {
		t.Fatal(err)
	}
	return time.Since(began).Seconds(), float64(schedNS(pid)-cpu0) / 1e9
}

// storeTraced is storePending (8 at once, grouped writes as the worker's
// default) through a pool whose statements tr accounts for. It returns
// the wall seconds and the CPU seconds of every backend of the pool.
func storeTraced(t *testing.T, db *tenantdbtest.Database, c *corpus, tr *stmtTracer, writers int) (secs, cpu float64) {
	t.Helper()
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(db.WorkerURL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 8
	cfg.ConnConfig.Tracer = tr
	cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		tr.addPID(int(c.PgConn().PID()))
		return pgxvec.RegisterTypes(ctx, c)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	// Open every connection first: their start-up is not the store's.
	var conns []*pgxpool.Conn
	for range cfg.MaxConns {
		cn, err := pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, cn)
	}
	for _, cn := range conns {
		cn.Release()
	}
	tr.reset()
	cpu0 := tr.pidsCPU()
	store := pgstore.New(poolGateway{pool}, nil).Group(pgstore.GroupConfig{MaxDocs: 16, Writers: writers})
	var next atomic.Int64
	var g errgroup.Group
	began := time.Now()
	for range 8 {
		g.Go(func() error {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(c.docs) {
					return nil
				}
				s := store.For(tenantdbtest.Scope(t, c.docs[i].Tenant).WithJob(fmt.Sprintf("job-%d", i)))
				_, p, err := s.Open(ctx, c.pdocs[i], "bench")
				if err != nil {
					return err
				}
				if err := p.Finish(ctx, c.chunks[i], c.embs[i], len(c.chunks[i]), c.embs[i][0].Model); err != nil {
					return err
				}
			}
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	return time.Since(began).Seconds(), float64(tr.pidsCPU()-cpu0) / 1e9
}

// poolGateway is a pgstore.Gateway over a plain pool (the product's
// tenantdb.WithTenant on it), so the test can trace the pool.
type poolGateway struct{ pool *pgxpool.Pool }

func (g poolGateway) WithTenant(ctx context.Context, scope tenantdb.Scope, fn func(ctx context.Context, tx tenantdb.Tx) error) error {
	return tenantdb.WithTenant(ctx, g.pool, scope, fn)
}

// schedNS is the CPU time of process pid in nanoseconds (0 if unknown).
func schedNS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/schedstat", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	n, _ := strconv.ParseInt(f[0], 10, 64)
	return n
}

type stmtCost struct {
	n   int
	cpu int64
}

// stmtTracer sums each statement's backend CPU by statement shape.
type stmtTracer struct {
	mu    sync.Mutex
	byKey map[string]*stmtCost
	pids  []int
}

type traceKey struct{}

type traceStart struct {
	key string
	cpu int64
}

func (tr *stmtTracer) addPID(pid int) {
	tr.mu.Lock()
	tr.pids = append(tr.pids, pid)
	tr.mu.Unlock()
}

func (tr *stmtTracer) reset() {
	tr.mu.Lock()
	tr.byKey = map[string]*stmtCost{}
	tr.mu.Unlock()
}

func (tr *stmtTracer) pidsCPU() int64 {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	var s int64
	for _, p := range tr.pids {
		s += schedNS(p)
	}
	return s
}

var (
	spaces    = regexp.MustCompile(`\s+`)
	valueRows = regexp.MustCompile(`VALUES \(\$1,.*`)
)

func shape(sql string) string {
	s := spaces.ReplaceAllString(strings.TrimSpace(sql), " ")
	s = valueRows.ReplaceAllString(s, "VALUES (...rows)")
	if len(s) > 90 {
		s = s[:90]
	}
	return s
}

func (tr *stmtTracer) start(ctx context.Context, conn *pgx.Conn, key string) context.Context {
	return context.WithValue(ctx, traceKey{}, traceStart{key: key, cpu: schedNS(int(conn.PgConn().PID()))})
}

func (tr *stmtTracer) end(ctx context.Context, conn *pgx.Conn) {
	st, ok := ctx.Value(traceKey{}).(traceStart)
	if !ok {
		return
	}
	d := schedNS(int(conn.PgConn().PID())) - st.cpu
	tr.mu.Lock()
	c := tr.byKey[st.key]
	if c == nil {
		c = &stmtCost{}
		tr.byKey[st.key] = c
	}
	c.n++
	c.cpu += d
	tr.mu.Unlock()
}

func (tr *stmtTracer) TraceQueryStart(ctx context.Context, conn *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	return tr.start(ctx, conn, shape(data.SQL))
}

func (tr *stmtTracer) TraceQueryEnd(ctx context.Context, conn *pgx.Conn, _ pgx.TraceQueryEndData) {
	tr.end(ctx, conn)
}

func (tr *stmtTracer) TraceBatchStart(ctx context.Context, conn *pgx.Conn, data pgx.TraceBatchStartData) context.Context {
	key := "batch"
	if data.Batch != nil && len(data.Batch.QueuedQueries) > 0 {
		key = "batch of " + shape(data.Batch.QueuedQueries[0].SQL)
	}
	return tr.start(ctx, conn, key)
}

func (tr *stmtTracer) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}

func (tr *stmtTracer) TraceBatchEnd(ctx context.Context, conn *pgx.Conn, _ pgx.TraceBatchEndData) {
	tr.end(ctx, conn)
}

func (tr *stmtTracer) TraceCopyFromStart(ctx context.Context, conn *pgx.Conn, data pgx.TraceCopyFromStartData) context.Context {
	return tr.start(ctx, conn, "COPY "+data.TableName.Sanitize())
}

func (tr *stmtTracer) TraceCopyFromEnd(ctx context.Context, conn *pgx.Conn, _ pgx.TraceCopyFromEndData) {
	tr.end(ctx, conn)
}

func (tr *stmtTracer) report(t *testing.T, total float64, chunks, docs int) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	keys := make([]string, 0, len(tr.byKey))
	var sum int64
	for k, c := range tr.byKey {
		keys = append(keys, k)
		sum += c.cpu
	}
	sort.Slice(keys, func(i, j int) bool { return tr.byKey[keys[i]].cpu > tr.byKey[keys[j]].cpu })
	t.Logf("%8s %8s %10s %10s  %s", "calls", "CPU s", "ms/chunk", "µs/call", "statement")
	for _, k := range keys {
		c := tr.byKey[k]
		t.Logf("%8d %8.3f %10.3f %10.1f  %s", c.n, float64(c.cpu)/1e9, float64(c.cpu)/1e6/float64(chunks), float64(c.cpu)/1e3/float64(c.n), k)
	}
	t.Logf("statements %.3f s of %.3f s backend CPU (%d chunks, %d documents)", float64(sum)/1e9, total, chunks, docs)
}

// TestPGCPUInsertAblation loads the same rows into empty copies of the
// chunks table in several ways, one stream each, and reports each load's
// backend CPU: what the statement form, the foreign key and row level
// security cost beyond the raw COPY. Diagnostic only (TENANTRY_BENCH_PGCPU=1).
func TestPGCPUInsertAblation(t *testing.T) {
	if os.Getenv("TENANTRY_BENCH_PGCPU") == "" {
		t.Skip("diagnostic: set TENANTRY_BENCH_PGCPU=1")
	}
	harness.LoadStack(t)
	ctx := context.Background()
	c := newCorpus(t, &harness.Env{Bucket: "bench"}, sizesFor("full"))
	db := tenantdbtest.NewDatabase(t)
	// The documents the chunks belong to (for the foreign key).
	store := pgstore.New(tenantdbtest.OpenURL(t, db.WorkerURL), nil)
	for i := range c.docs {
		if _, _, err := store.For(tenantdbtest.Scope(t, c.docs[i].Tenant)).Open(ctx, c.pdocs[i], "bench"); err != nil {
			t.Fatal(err)
		}
	}
	owner := ownerPool(t, db.OwnerURL, 2)
	mk := func(name, extra string) string {
		for _, sql := range []string{"CREATE SCHEMA IF NOT EXISTS bench", "CREATE TABLE bench." + name + " (LIKE public.chunks INCLUDING ALL" + extra + ")"} {
			if _, err := owner.Exec(ctx, sql); err != nil {
				t.Fatalf("%s: %v", sql, err)
			}
		}
		return name
	}
	ownerRun := func(fn func(conn *pgx.Conn) error) float64 {
		conn, err := owner.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Release()
		pid := int(conn.Conn().PgConn().PID())
		cpu0 := schedNS(pid)
		if err := fn(conn.Conn()); err != nil {
			t.Fatal(err)
		}
		return float64(schedNS(pid)-cpu0) / 1e9
	}
	insertBatches := func(conn *pgx.Conn, table string) error {
		tx, err := conn.Begin(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback(ctx)
		b := &pgx.Batch{}
		for s := 0; s < len(c.rows); s += 64 {
			part := c.rows[s:min(s+64, len(c.rows))]
			var sb strings.Builder
			sb.WriteString("INSERT INTO bench." + table + " (" + strings.Join(chunkColumns, ", ") + ") VALUES ")
			var args []any
			for r, row := range part {
				if r > 0 {
					sb.WriteString(", ")
				}
				sb.WriteByte('(')
				for k := range row {
					if k > 0 {
						sb.WriteString(", ")
					}
					fmt.Fprintf(&sb, "$%d", r*len(row)+k+1)
				}
				sb.WriteByte(')')
				args = append(args, row...)
			}
			b.Queue(sb.String(), args...)
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		return tx.Commit(ctx)
	}
	copyInto := func(conn *pgx.Conn, table string) error {
		_, err := conn.CopyFrom(ctx, pgx.Identifier{"bench", table}, chunkColumns, pgx.CopyFromRows(c.rows))
		return err
	}
	type result struct {
		name string
		cpu  float64
	}
	var res []result
	add := func(name string, cpu float64) {
		res = append(res, result{name, cpu})
		t.Logf("%-60s %.2f s CPU, %.3f ms/chunk", name, cpu, 1e3*cpu/float64(c.total))
	}
	add("owner COPY, same indexes", ownerRun(func(conn *pgx.Conn) error { return copyInto(conn, mk("a_copy", "")) }))
	add("owner multi-row INSERT (64 rows), same indexes", ownerRun(func(conn *pgx.Conn) error { return insertBatches(conn, mk("b_insert", "")) }))
	fk := ", FOREIGN KEY (tenant_id, document_id) REFERENCES public.documents (tenant_id, document_id) ON DELETE CASCADE"
	add("owner COPY + foreign key", ownerRun(func(conn *pgx.Conn) error { return copyInto(conn, mk("c_copy_fk", fk)) }))
	add("owner COPY, no fts GIN indexes", ownerRun(func(conn *pgx.Conn) error {
		name := mk("d_copy_nogin", "")
		for _, ix := range []string{"english", "simple"} {
			var idx string
			if err := conn.QueryRow(ctx, `SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = 'bench.`+name+`'::regclass
				AND pg_get_indexdef(indexrelid) LIKE '%gin%'''||$1||'''%'`, ix).Scan(&idx); err != nil {
				return fmt.Errorf("find %s index: %w", ix, err)
			}
			if _, err := conn.Exec(ctx, "DROP INDEX "+idx); err != nil {
				return err
			}
		}
		return copyInto(conn, name)
	}))
	// The worker role into public.chunks, grouped by tenant as the grouped
	// writes do (16 documents at most), one transaction each, serially.
	wcfg, err := pgxpool.ParseConfig(db.WorkerURL)
	if err != nil {
		t.Fatal(err)
	}
	wcfg.MaxConns = 1
	wcfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error { return pgxvec.RegisterTypes(ctx, c) }
	wpool, err := pgxpool.NewWithConfig(ctx, wcfg)
	if err != nil {
		t.Fatal(err)
	}
	defer wpool.Close()
	wconn, err := wpool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wpid := int(wconn.Conn().PgConn().PID())
	wconn.Release()
	byTenant := map[string][][]any{}
	var order []string
	for _, row := range c.rows {
		k := fmt.Sprint(row[0])
		if byTenant[k] == nil {
			order = append(order, k)
		}
		byTenant[k] = append(byTenant[k], row)
	}
	cpu0 := schedNS(wpid)
	gw := poolGateway{wpool}
	for _, k := range order {
		rows := byTenant[k]
		for s := 0; s < len(rows); s += 80 { // ~16 documents of 5 chunks
			part := rows[s:min(s+80, len(rows))]
			tn := c.docs[0].Tenant
			for _, d := range c.docs {
				if d.Tenant.String() == k {
					tn = d.Tenant
				}
			}
			if err := gw.WithTenant(ctx, tenantdbtest.Scope(t, tn), func(ctx context.Context, tx tenantdb.Tx) error {
				_, err := tx.CopyFrom(ctx, "chunks", chunkColumns, part)
				return err
			}); err != nil {
				t.Fatal(err)
			}
		}
	}
	add("worker role Tx.CopyFrom into public.chunks (RLS, FK), serial", float64(schedNS(wpid)-cpu0)/1e9)
	add("owner COPY again, same indexes", ownerRun(func(conn *pgx.Conn) error { return copyInto(conn, mk("e_copy", "")) }))
}

// TestPGCPUConcurrency loads the same rows with 1, 2 and 8 concurrent
// streams, as the owner with COPY into a copy of the table and as the
// worker role with Tx.CopyFrom (groups of ~16 documents of one tenant, one
// tenant transaction each) into public.chunks, and reports the backends'
// CPU. Diagnostic only (TENANTRY_BENCH_PGCPU=1).
func TestPGCPUConcurrency(t *testing.T) {
	if os.Getenv("TENANTRY_BENCH_PGCPU") == "" {
		t.Skip("diagnostic: set TENANTRY_BENCH_PGCPU=1")
	}
	harness.LoadStack(t)
	ctx := context.Background()
	c := newCorpus(t, &harness.Env{Bucket: "bench"}, sizesFor("full"))
	type group struct {
		tenant int
		rows   [][]any
	}
	var groups []group
	{
		byTenant := map[string][][]any{}
		var order []string
		for _, row := range c.rows {
			k := fmt.Sprint(row[0])
			if byTenant[k] == nil {
				order = append(order, k)
			}
			byTenant[k] = append(byTenant[k], row)
		}
		for ti, k := range order {
			for s := 0; s < len(byTenant[k]); s += 80 {
				groups = append(groups, group{tenant: ti, rows: byTenant[k][s:min(s+80, len(byTenant[k]))]})
			}
		}
	}
	tenants := map[int]tenantdb.Scope{}
	for _, g := range groups {
		if _, ok := tenants[g.tenant]; !ok {
			for _, d := range c.docs {
				if fmt.Sprint(g.rows[0][0]) == d.Tenant.String() {
					tenants[g.tenant] = tenantdbtest.Scope(t, d.Tenant)
					break
				}
			}
		}
	}
	for _, streams := range []int{1, 2, 8} {
		db := tenantdbtest.NewDatabase(t)
		owner := ownerPool(t, db.OwnerURL, int32(streams))
		_, copyCPU := copyLimit(t, owner, c, "chunks_copy", streams, true)
		store := pgstore.New(tenantdbtest.OpenURL(t, db.WorkerURL), nil)
		for i := range c.docs {
			if _, _, err := store.For(tenantdbtest.Scope(t, c.docs[i].Tenant)).Open(ctx, c.pdocs[i], "bench"); err != nil {
				t.Fatal(err)
			}
		}
		wcfg, err := pgxpool.ParseConfig(db.WorkerURL)
		if err != nil {
			t.Fatal(err)
		}
		wcfg.MaxConns = int32(streams)
		var mu sync.Mutex
		var pids []int
		wcfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
			mu.Lock()
			pids = append(pids, int(c.PgConn().PID()))
			mu.Unlock()
			return pgxvec.RegisterTypes(ctx, c)
		}
		wpool, err := pgxpool.NewWithConfig(ctx, wcfg)
		if err != nil {
			t.Fatal(err)
		}
		var conns []*pgxpool.Conn
		for range streams {
			cn, err := wpool.Acquire(ctx)
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, cn)
		}
		for _, cn := range conns {
			cn.Release()
		}
		sum := func() (s int64) {
			for _, p := range pids {
				s += schedNS(p)
			}
			return s
		}
		cpu0 := sum()
		began := time.Now()
		gw := poolGateway{wpool}
		var next atomic.Int64
		var eg errgroup.Group
		for range streams {
			eg.Go(func() error {
				for {
					i := int(next.Add(1)) - 1
					if i >= len(groups) {
						return nil
					}
					if err := gw.WithTenant(ctx, tenants[groups[i].tenant], func(ctx context.Context, tx tenantdb.Tx) error {
						_, err := tx.CopyFrom(ctx, "chunks", chunkColumns, groups[i].rows)
						return err
					}); err != nil {
						return err
					}
				}
			})
		}
		if err := eg.Wait(); err != nil {
			t.Fatal(err)
		}
		secs := time.Since(began).Seconds()
		wcpu := float64(sum()-cpu0) / 1e9
		wpool.Close()
		t.Logf("%d streams: owner COPY %.2f s CPU (%.3f ms/chunk); worker Tx.CopyFrom %.2f s wall, %.2f s CPU (%.3f ms/chunk): %.2f x",
			streams, copyCPU, 1e3*copyCPU/float64(c.total), secs, wcpu, 1e3*wcpu/float64(c.total), wcpu/copyCPU)
	}
}
