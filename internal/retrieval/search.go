package retrieval

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"github.com/google/uuid"
	"github.com/pgvector/pgvector-go"
	"go.uber.org/zap"

	"github.com/tenantry/tenantry/internal/tenantdb"
)

// Plan is how a query ran.
type Plan string

// The plans.
const (
	// PlanExact scans the tenant's (filtered) rows through the primary key
	// and sorts them by distance: exact, for small tenants and selective
	// filters.
	PlanExact Plan = "exact"
	// PlanHNSW walks the shared HNSW index with an iterative scan, the
	// tenant and the filter as predicates.
	PlanHNSW Plan = "hnsw"
	// PlanHNSWThenExact is an HNSW query that came back with fewer rows than
	// the tenant has, repeated exactly (never fewer than k rows).
	PlanHNSWThenExact Plan = "hnsw+exact"
)

// Mode selects the ranking.
type Mode string

// The modes.
const (
	ModeVector Mode = "vector" // cosine distance only (default)
	ModeHybrid Mode = "hybrid" // vector and full-text, reciprocal rank fusion
)

// ErrBadRequest is wrapped by errors about the request itself (k, vector
// dimension, mode, language): the caller's fault, safe to show.
var ErrBadRequest = errors.New("retrieval: bad request")

// Config configures a Searcher. Zero values take the defaults.
type Config struct {
	// ExactThreshold: a query whose tenant (after the filter) holds at most
	// this many chunks runs exact (default 1000). make bench: an exact scan
	// costs ~0.1x an unfiltered HNSW query at 300 rows and ~5x at 2,700.
	ExactThreshold int64
	// EFSearch is hnsw.ef_search for a tenant that holds the whole table
	// (default 200). A smaller share of the table needs a wider search:
	// ef_search = EFSearch * (1 + log10(table rows / tenant rows)), at least
	// k, at most 1000 (pgvector's limit). make bench: at 200 the index's own
	// recall@10 is 0.99 on 100,000 1024-d rows (ef_construction 128); a
	// tenant with 10% of the rows needs ~400 for 0.99.
	EFSearch int
	// MaxScanTuples is hnsw.max_scan_tuples, the iterative scan's budget
	// (default 20000, pgvector's). A scan that stops early is repeated exact.
	MaxScanTuples int
	// MaxK bounds a request's k (default 100).
	MaxK int
	// Languages are the text search configurations a hybrid request may
	// name (default english, simple); DefaultLanguage the one used when it
	// names none (default english). 0003_retrieval.sql indexes english and
	// simple; others run without an index.
	Languages       []string
	DefaultLanguage string
	// RRFK is the reciprocal rank fusion constant (default 60).
	RRFK int
	// Candidates is how many rows each ranking contributes to fusion
	// (default 4*k, at least 40).
	Candidates int
	// Dims is the embedding dimension; requests with another are refused.
	// 0 skips the check (the database refuses a mismatch anyway).
	Dims   int
	Logger *zap.Logger
}

// WithDefaults fills in the defaults.
func (c Config) WithDefaults() Config {
	if c.ExactThreshold == 0 {
		c.ExactThreshold = 1000
	}
	if c.EFSearch == 0 {
		c.EFSearch = 200
	}
	if c.MaxScanTuples == 0 {
		c.MaxScanTuples = 20000
	}
	if c.MaxK == 0 {
		c.MaxK = 100
	}
	if len(c.Languages) == 0 {
		c.Languages = []string{"english", "simple"}
	}
	if c.DefaultLanguage == "" {
		c.DefaultLanguage = "english"
	}
	if c.RRFK == 0 {
		c.RRFK = 60
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	return c
}

var languageName = regexp.MustCompile(`^[a-z][a-z_]{0,62}$`)

func (c Config) validate() error {
	switch {
	case c.ExactThreshold < 0:
		return errors.New("retrieval: ExactThreshold must be >= 0")
	case c.EFSearch < 1 || c.EFSearch > 1000:
		return errors.New("retrieval: EFSearch must be in 1..1000 (pgvector's range)")
	case c.MaxScanTuples < 1:
		return errors.New("retrieval: MaxScanTuples must be >= 1")
	case c.MaxK < 1 || c.MaxK > 1000:
		return errors.New("retrieval: MaxK must be in 1..1000")
	case c.RRFK < 1:
		return errors.New("retrieval: RRFK must be >= 1")
	case c.Candidates < 0:
		return errors.New("retrieval: Candidates must be >= 0")
	}
	for _, l := range c.Languages {
		if !languageName.MatchString(l) {
			return fmt.Errorf("retrieval: language %q is not a text search configuration name", l)
		}
	}
	if !slices.Contains(c.Languages, c.DefaultLanguage) {
		return errors.New("retrieval: DefaultLanguage must be one of Languages")
	}
	return nil
}

// Gateway is the tenant gateway (a *tenantdb.DB): the only way to the
// database, and only with a verified Scope.
type Gateway interface {
	WithTenant(ctx context.Context, scope tenantdb.Scope, fn func(ctx context.Context, tx tenantdb.Tx) error) error
}

// Searcher runs tenant-correct searches.
type Searcher struct {
	db  Gateway
	cfg Config
}

// New returns a Searcher over db.
func New(db Gateway, cfg Config) (*Searcher, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if db == nil {
		return nil, errors.New("retrieval: nil gateway")
	}
	return &Searcher{db: db, cfg: cfg}, nil
}

// Request is one search.
type Request struct {
	// Vector is the query embedding (required).
	Vector []float32
	// Text is the query text; required for ModeHybrid.
	Text string
	// K is the number of results (1..Config.MaxK).
	K int
	// Filter restricts the documents (nil: all the tenant's documents).
	Filter *Filter
	// Mode selects the ranking (default ModeVector).
	Mode Mode
	// Language is the text search configuration for ModeHybrid (default
	// Config.DefaultLanguage).
	Language string
	// Plan forces a plan (tests and benchmarks); empty chooses by size.
	Plan Plan
}

// Hit is one result.
type Hit struct {
	DocumentID string         `json:"document_id"`
	SourceURI  string         `json:"source_uri"`
	Ordinal    int            `json:"ordinal"`
	Page       int            `json:"page"`
	CharStart  int            `json:"char_start"`
	CharEnd    int            `json:"char_end"`
	Score      float64        `json:"score"`                 // cosine similarity, or the fused score (hybrid)
	Distance   float64        `json:"distance"`              // cosine distance (hybrid: 0 for text-only matches' unknown, see VectorRank)
	VectorRank int            `json:"vector_rank,omitempty"` // 1-based rank by distance (hybrid)
	TextRank   int            `json:"text_rank,omitempty"`   // 1-based rank by full-text relevance (hybrid)
	Text       string         `json:"text"`
	Attributes map[string]any `json:"attributes,omitempty"`
}

// Result is a search's hits and how they were found.
type Result struct {
	Hits []Hit `json:"hits"`
	// Plan is how the vector ranking ran.
	Plan Plan `json:"plan"`
	// Matching is the number of the tenant's chunks that pass the filter
	// (the count the plan was chosen by).
	Matching int64 `json:"matching"`
	// MatchingAtLeast: Matching is a lower bound (the tenant has more
	// matching documents than the plan decision needed to count).
	MatchingAtLeast bool `json:"matching_at_least,omitempty"`
}

func (s *Searcher) check(req *Request) error {
	if req.K < 1 || req.K > s.cfg.MaxK {
		return fmt.Errorf("%w: k must be in 1..%d", ErrBadRequest, s.cfg.MaxK)
	}
	if len(req.Vector) == 0 || (s.cfg.Dims > 0 && len(req.Vector) != s.cfg.Dims) {
		return fmt.Errorf("%w: query vector has %d dimensions, want %d", ErrBadRequest, len(req.Vector), s.cfg.Dims)
	}
	switch req.Mode {
	case "":
		req.Mode = ModeVector
	case ModeVector, ModeHybrid:
	default:
		return fmt.Errorf("%w: mode must be %q or %q", ErrBadRequest, ModeVector, ModeHybrid)
	}
	if req.Mode == ModeHybrid {
		if req.Text == "" {
			return fmt.Errorf("%w: hybrid search needs the query text", ErrBadRequest)
		}
		if len(req.Text) > 4096 {
			return fmt.Errorf("%w: query text longer than 4096 bytes", ErrBadRequest)
		}
		if req.Language == "" {
			req.Language = s.cfg.DefaultLanguage
		}
		if !slices.Contains(s.cfg.Languages, req.Language) {
			return fmt.Errorf("%w: language must be one of %v", ErrBadRequest, s.cfg.Languages)
		}
	}
	switch req.Plan {
	case "", PlanExact, PlanHNSW:
	default:
		return fmt.Errorf("%w: plan must be %q or %q", ErrBadRequest, PlanExact, PlanHNSW)
	}
	if err := req.Filter.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	return nil
}

// Search returns the K chunks of scope's tenant nearest to req.Vector among
// the documents that pass req.Filter, in one tenant transaction. It never
// returns fewer than min(K, matching) rows.
func (s *Searcher) Search(ctx context.Context, scope tenantdb.Scope, req Request) (Result, error) {
	if err := s.check(&req); err != nil {
		return Result{}, err
	}
	var res Result
	err := s.db.WithTenant(ctx, scope, func(ctx context.Context, tx tenantdb.Tx) error {
		tenant := scope.TenantID()
		// Plan every statement for its actual tenant and vector: a cached
		// generic plan (pgx prepares statements; PostgreSQL switches to a
		// generic plan after five executions) would plan for an average
		// tenant, e.g. a sequential scan of the table for a 10-row tenant,
		// and would keep a plan made under another statement's settings.
		if _, err := tx.Exec(ctx, "SELECT set_config('plan_cache_mode', 'force_custom_plan', true)"); err != nil {
			return fmt.Errorf("plan settings: %w", err)
		}
		n, atLeast, docs, err := s.matching(ctx, tx, tenant, req.Filter)
		if err != nil {
			return err
		}
		res.Matching, res.MatchingAtLeast = n, atLeast
		if n == 0 {
			res.Plan, res.Hits = PlanExact, []Hit{}
			return nil
		}
		k := req.K
		if req.Mode == ModeHybrid {
			k = max(4*req.K, 40)
			if s.cfg.Candidates > 0 {
				k = max(s.cfg.Candidates, req.K)
			}
		}
		want := min(int64(k), n)
		plan := req.Plan
		if plan == "" {
			plan = PlanHNSW
			if n <= s.cfg.ExactThreshold {
				plan = PlanExact
			}
		}
		var hits []Hit
		if plan == PlanHNSW {
			if hits, err = s.hnsw(ctx, tx, tenant, req, k, n, atLeast); err != nil {
				return err
			}
			if int64(len(hits)) < want && explaining(ctx) == nil {
				s.cfg.Logger.Info("retrieval: HNSW scan came back short, repeating exact",
					zap.Int("rows", len(hits)), zap.Int64("want", want))
				plan = PlanHNSWThenExact
				hits = nil
			}
		}
		if hits == nil {
			if hits, err = s.exact(ctx, tx, tenant, req, k, docs); err != nil {
				return err
			}
		}
		res.Plan = plan
		if req.Mode == ModeHybrid {
			text, err := fullText(ctx, tx, tenant, req, k, docs)
			if err != nil {
				return err
			}
			hits = fuse(hits, text, s.cfg.RRFK, req.K)
		}
		res.Hits = hits
		return nil
	})
	if err != nil {
		if errors.Is(err, ErrBadRequest) {
			return Result{}, err
		}
		return Result{}, fmt.Errorf("retrieval: search: %w", err)
	}
	return res, nil
}

// matching counts the tenant's chunks in ready documents that pass the
// filter, from documents.chunk_count: one row per document, not per chunk,
// and at most countLimit documents. Every counted document has at least one
// chunk, so when the limit is reached the count is a lower bound above
// ExactThreshold and above any k: enough to choose HNSW and to know that k
// rows exist. Below the limit, with a filter, it also returns the matching
// documents: the filter's only scan of the tenant's documents (see exact).
func (s *Searcher) matching(ctx context.Context, tx tenantdb.Tx, tenant uuid.UUID, f *Filter) (n int64, atLeast bool, docs []string, err error) {
	a := &sqlArgs{}
	t := a.add(tenant)
	q := "SELECT d.document_id, d.chunk_count FROM documents d WHERE d.tenant_id = " + t + " AND d.status = 'ready' AND d.chunk_count > 0"
	if f != nil {
		q += " AND " + f.sql("d.attributes", a)
	}
	limit := s.countLimit()
	q += " LIMIT " + a.add(limit)
	rows, err := tx.Query(ctx, q, a.vals...)
	if err != nil {
		return 0, false, nil, fmt.Errorf("count matching chunks: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id     string
			chunks int64
		)
		if err := rows.Scan(&id, &chunks); err != nil {
			return 0, false, nil, fmt.Errorf("count matching chunks: %w", err)
		}
		docs = append(docs, id)
		n += chunks
	}
	if err := rows.Err(); err != nil {
		return 0, false, nil, fmt.Errorf("count matching chunks: %w", err)
	}
	if int64(len(docs)) == limit {
		return n, true, nil, nil
	}
	if f == nil {
		docs = nil // without a filter the tenant's key prefix is as direct
	}
	return n, false, docs, nil
}

// countLimit is one more document than the largest count a plan decision
// or a result size needs.
func (s *Searcher) countLimit() int64 {
	return max(s.cfg.ExactThreshold, int64(max(4*s.cfg.MaxK, 40, s.cfg.Candidates))) + 1
}

// selectHit is the column list scanHits reads.
const selectHit = `c.document_id, d.source_uri, c.ordinal, c.page, c.char_start, c.char_end, c.text, d.attributes,
	c.embedding <=> %s AS distance`

// from joins a chunk to its document's current version. The tenant is an
// explicit predicate on both tables (beside RLS, whose predicate is an
// InitPlan parameter the planner cannot estimate): with it the planner sees
// the tenant's share of the table.
const from = ` FROM chunks c JOIN documents d
	ON d.tenant_id = c.tenant_id AND d.document_id = c.document_id AND d.version = c.version
	WHERE c.tenant_id = %[1]s AND d.tenant_id = %[1]s AND d.status = 'ready'`

func where(tenant uuid.UUID, req Request, a *sqlArgs, docs []string) (vec, clause string) {
	t := a.add(tenant)
	vec = a.add(pgvector.NewVector(req.Vector))
	clause = fmt.Sprintf(from, t)
	if docs != nil {
		clause += " AND d.document_id = ANY(" + a.add(docs) + "::text[])"
	}
	if req.Filter != nil {
		clause += " AND " + req.Filter.sql("d.attributes", a)
	}
	return vec, clause
}

// exact computes every matching row's distance once and keeps the k nearest
// (a top-k heap sort). OFFSET 0 keeps the subquery from being flattened, so
// the ordering never reaches the HNSW index: the rows come from the primary
// key's tenant prefix.
//
// With a filter, docs are the matching documents the count found, and the
// rows are reached through the documents' primary key (document_id =
// ANY(docs)) instead of evaluating the filter on every one of the tenant's
// documents a second time. Under row level security the filter's jsonb
// operators (not LEAKPROOF) cannot use the GIN index, so each such scan
// costs ~1 us per document of the tenant: make bench's 90% tenant with a 1%
// filter spent most of its time in the count's scan and this one. The
// filter is still applied to the few rows found, so a document changed in
// between is judged by its current attributes.
func (s *Searcher) exact(ctx context.Context, tx tenantdb.Tx, tenant uuid.UUID, req Request, k int, docs []string) ([]Hit, error) {
	a := &sqlArgs{}
	vec, clause := where(tenant, req, a, docs)
	q := "SELECT * FROM (SELECT " + fmt.Sprintf(selectHit, vec) + clause +
		" OFFSET 0) s ORDER BY distance, document_id, ordinal LIMIT " + a.add(k)
	return scanHits(ctx, tx, q, a.vals)
}

// efSearch scales Config.EFSearch with the tenant's share of the chunks
// table: the table's size from pg_class (the planner's estimate), the
// tenant's from the matching count, or for a count that stopped early from
// the planner's estimate of the tenant's rows (its statistics of tenant_id;
// only this tenant's number is read).
func (s *Searcher) efSearch(ctx context.Context, tx tenantdb.Tx, tenant uuid.UUID, matching int64, atLeast bool) (int, error) {
	var total float64
	if err := tx.QueryRow(ctx, "SELECT reltuples::float8 FROM pg_catalog.pg_class WHERE oid = 'chunks'::regclass").Scan(&total); err != nil {
		return 0, fmt.Errorf("table size: %w", err)
	}
	rows := float64(matching)
	if atLeast {
		var plan []byte
		if err := tx.QueryRow(ctx, "EXPLAIN (FORMAT JSON) SELECT 1 FROM chunks c WHERE c.tenant_id = $1", tenant).Scan(&plan); err != nil {
			return 0, fmt.Errorf("tenant size estimate: %w", err)
		}
		var p []struct {
			Plan struct {
				Rows float64 `json:"Plan Rows"`
			} `json:"Plan"`
		}
		if err := json.Unmarshal(plan, &p); err == nil && len(p) == 1 && p[0].Plan.Rows > rows {
			rows = p[0].Plan.Rows
		}
	}
	return efFor(s.cfg.EFSearch, total, rows), nil
}

// efFor is base * (1 + log10(total/rows)), within [base, 1000]; base when
// the sizes are unknown (a never-analysed table).
func efFor(base int, total, rows float64) int {
	if total <= 0 || rows <= 0 || rows >= total {
		return min(base, 1000)
	}
	return min(int(math.Ceil(float64(base)*(1+math.Log10(total/rows)))), 1000)
}

// hnsw walks the HNSW index with a relaxed-order iterative scan (pgvector
// 0.8) and re-sorts the k rows it returns.
func (s *Searcher) hnsw(ctx context.Context, tx tenantdb.Tx, tenant uuid.UUID, req Request, k int, matching int64, atLeast bool) ([]Hit, error) {
	ef, err := s.efSearch(ctx, tx, tenant, matching, atLeast)
	if err != nil {
		return nil, err
	}
	ef = max(ef, k)
	// enable_sort = off for this statement: with the tenant predicate the
	// planner may prefer sorting all of a large tenant's rows (it does not
	// cost the distance computations); the HNSW index is the only other
	// ordered path. Restored right after, for the exact fallback and the
	// full-text ranking in the same transaction.
	if _, err := tx.Exec(ctx, `SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true),
		set_config('hnsw.ef_search', $1, true), set_config('hnsw.max_scan_tuples', $2, true),
		set_config('enable_sort', 'off', true)`,
		strconv.Itoa(min(ef, 1000)), strconv.Itoa(s.cfg.MaxScanTuples)); err != nil {
		return nil, fmt.Errorf("hnsw settings: %w", err)
	}
	a := &sqlArgs{}
	vec, clause := where(tenant, req, a, nil)
	q := "SELECT " + fmt.Sprintf(selectHit, vec) + clause + " ORDER BY c.embedding <=> " + vec + " LIMIT " + a.add(k)
	hits, err := scanHits(ctx, tx, q, a.vals)
	if err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, "SELECT set_config('enable_sort', 'on', true)"); err != nil {
		return nil, fmt.Errorf("hnsw settings: %w", err)
	}
	// relaxed_order may return rows slightly out of order: sort the k rows.
	sort.SliceStable(hits, func(i, j int) bool {
		if hits[i].Distance != hits[j].Distance {
			return hits[i].Distance < hits[j].Distance
		}
		if hits[i].DocumentID != hits[j].DocumentID {
			return hits[i].DocumentID < hits[j].DocumentID
		}
		return hits[i].Ordinal < hits[j].Ordinal
	})
	return hits, nil
}

// explainer collects query plans instead of rows (Searcher.Explain).
type explainer struct{ plans []string }

type explainKey struct{}

func explaining(ctx context.Context) *explainer {
	e, _ := ctx.Value(explainKey{}).(*explainer)
	return e
}

// Explain runs req's plan choice like Search and returns the chosen plan and
// PostgreSQL's plan of each query it would run (EXPLAIN, no rows read): for
// operators asking why a search is slow, and for the tests that hold the
// plan shapes (tenant predicate, index choice).
func (s *Searcher) Explain(ctx context.Context, scope tenantdb.Scope, req Request) (Plan, string, error) {
	e := &explainer{}
	res, err := s.Search(context.WithValue(ctx, explainKey{}, e), scope, req)
	return res.Plan, strings.Join(e.plans, "\n---\n"), err
}

func scanHits(ctx context.Context, tx tenantdb.Tx, q string, args []any) ([]Hit, error) {
	if e := explaining(ctx); e != nil {
		rows, err := tx.Query(ctx, "EXPLAIN (COSTS OFF) "+q, args...)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var lines []string
		for rows.Next() {
			var l string
			if err := rows.Scan(&l); err != nil {
				return nil, err
			}
			lines = append(lines, l)
		}
		e.plans = append(e.plans, strings.Join(lines, "\n"))
		return []Hit{}, rows.Err()
	}
	rows, err := tx.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	hits := []Hit{}
	for rows.Next() {
		var (
			h     Hit
			attrs []byte
		)
		if err := rows.Scan(&h.DocumentID, &h.SourceURI, &h.Ordinal, &h.Page, &h.CharStart, &h.CharEnd, &h.Text, &attrs, &h.Distance); err != nil {
			return nil, err
		}
		h.Score = 1 - h.Distance
		if len(attrs) > 2 {
			if err := json.Unmarshal(attrs, &h.Attributes); err != nil {
				return nil, fmt.Errorf("attributes: %w", err)
			}
		}
		hits = append(hits, h)
	}
	return hits, rows.Err()
}

// fullText ranks the matching rows by ts_rank_cd against the query's words,
// any of which may match (OR: a question rarely has every word in one
// chunk). Each word is a bind parameter; the configuration is a literal from
// the allowlist (validated in check), so the expression index applies.
func fullText(ctx context.Context, tx tenantdb.Tx, tenant uuid.UUID, req Request, k int, docs []string) ([]Hit, error) {
	words := queryWords(req.Text, maxQueryWords)
	if len(words) == 0 {
		return nil, nil
	}
	a := &sqlArgs{}
	vec, clause := where(tenant, req, a, docs)
	lang := "'" + req.Language + "'::regconfig"
	parts := make([]string, len(words))
	for i, w := range words {
		parts[i] = "plainto_tsquery(" + lang + ", " + a.add(w) + "::text)"
	}
	doc := "to_tsvector(" + lang + ", c.text)"
	q := "SELECT " + fmt.Sprintf(selectHit, vec) + clause + " AND " + doc + " @@ tq.q" +
		" ORDER BY ts_rank_cd(" + doc + ", tq.q) DESC, c.document_id, c.ordinal LIMIT " + a.add(k)
	q = strings.Replace(q, " FROM chunks c JOIN", " FROM (SELECT "+strings.Join(parts, " || ")+" AS q) tq, chunks c JOIN", 1)
	return scanHits(ctx, tx, q, a.vals)
}

// maxQueryWords bounds the words of a hybrid query's text search.
const maxQueryWords = 32

// queryWords splits text into distinct lower-case words of letters and digits.
func queryWords(text string, limit int) []string {
	var out []string
	for _, w := range strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}) {
		if len(out) == limit {
			break
		}
		if !slices.Contains(out, w) {
			out = append(out, w)
		}
	}
	return out
}

// fuse merges the vector and the text ranking by reciprocal rank fusion:
// score = Σ 1/(rrfK + rank) over the rankings a row appears in.
func fuse(vector, text []Hit, rrfK, k int) []Hit {
	type key struct {
		doc string
		ord int
	}
	byKey := map[key]*Hit{}
	var order []key
	add := func(list []Hit, setRank func(h *Hit, r int)) {
		for i := range list {
			kk := key{list[i].DocumentID, list[i].Ordinal}
			h, ok := byKey[kk]
			if !ok {
				c := list[i]
				c.Score = 0
				h = &c
				byKey[kk] = h
				order = append(order, kk)
			}
			setRank(h, i+1)
			h.Score += 1 / float64(rrfK+i+1)
		}
	}
	add(vector, func(h *Hit, r int) { h.VectorRank = r })
	add(text, func(h *Hit, r int) { h.TextRank = r })
	out := make([]Hit, 0, len(order))
	for _, kk := range order {
		out = append(out, *byKey[kk])
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Score != out[j].Score {
			return out[i].Score > out[j].Score
		}
		if out[i].DocumentID != out[j].DocumentID {
			return out[i].DocumentID < out[j].DocumentID
		}
		return out[i].Ordinal < out[j].Ordinal
	})
	if len(out) > k {
		out = out[:k]
	}
	return out
}
