package console

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/tenantry/tenantry/internal/dlq"
	"github.com/tenantry/tenantry/internal/tenantdb"
)

// tenantRow is one line of the overview.
type tenantRow struct {
	ID         uuid.UUID
	Docs       tenantdb.TenantDocuments
	Failures   []count
	DLQ        []count
	DLQTotal   int
	Control    ControlStatus
	ControlErr string
	LastVerify *verifyResult
	Usage      tenantdb.ProviderUsage // the last hour
	UsageErr   bool
}

type count struct {
	Key string
	N   int64
}

func counts[V int | int64](m map[string]V) []count {
	out := make([]count, 0, len(m))
	for k, v := range m {
		out = append(out, count{k, int64(v)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].N > out[j].N || out[i].N == out[j].N && out[i].Key < out[j].Key })
	return out
}

func controlText(err error) string {
	if errors.Is(err, ErrUnavailable) {
		return "not available"
	}
	return "error"
}

// breakers reads the breakers of every tenant (uuid.Nil) or of tenant,
// through the owner role's read-only view; a failure is logged once.
func (srv *Server) breakers(ctx context.Context, tenant uuid.UUID) (map[uuid.UUID]tenantdb.TenantBreaker, error) {
	b, err := srv.deps.Reader.Breakers(ctx, tenant)
	if err != nil {
		fields := []zap.Field{zap.Error(err)}
		if tenant != uuid.Nil {
			fields = append(fields, zap.String("tenant_id", tenant.String()))
		}
		srv.log.Error("console: read breakers", fields...)
	}
	return b, err
}

func (srv *Server) overview(w http.ResponseWriter, r *http.Request, sess *session) {
	ctx := r.Context()
	docs, err := srv.deps.Reader.TenantDocuments(ctx)
	if err != nil {
		srv.log.Error("console: read tenants", zap.Error(err))
		srv.fail(w, r, sess, http.StatusInternalServerError, "could not read the tenants")
		return
	}
	rep, dlqErr := srv.inspect(ctx, r.URL.Query().Get("refresh") == "1")
	byTenant := map[string]map[string]int{}
	if rep != nil {
		for _, m := range rep.Messages {
			k := m.TenantLabel()
			if byTenant[k] == nil {
				byTenant[k] = map[string]int{}
			}
			byTenant[k][m.Reason]++
		}
	}
	use, useErr := srv.deps.Reader.ProviderUsage(ctx, srv.cfg.Now().Add(-time.Hour))
	if useErr != nil {
		srv.log.Error("console: read provider usage", zap.Error(useErr))
	}
	breakers, brkErr := srv.breakers(ctx, uuid.Nil)
	rows := make([]tenantRow, 0, len(docs))
	for _, d := range docs {
		row := tenantRow{ID: d.TenantID, Docs: d, Failures: counts(d.FailuresByReason), DLQ: counts(byTenant[d.TenantID.String()]),
			Usage: use[d.TenantID], UsageErr: useErr != nil}
		for _, c := range row.DLQ {
			row.DLQTotal += int(c.N)
		}
		if brkErr != nil {
			row.ControlErr = controlText(brkErr)
		} else {
			row.Control = controlStatus(breakers[d.TenantID])
		}
		if v, ok := srv.lastVerify(ctx, d.TenantID); ok {
			row.LastVerify = &v
		}
		rows = append(rows, row)
	}
	data := map[string]any{"Tenants": rows, "Unverified": counts(byTenant[dlq.Unverified])}
	if dlqErr != nil {
		data["DLQError"] = controlText(dlqErr)
	}
	srv.render(w, r, http.StatusOK, "overview", sess, data)
}

func (srv *Server) tenant(w http.ResponseWriter, r *http.Request, sess *session) {
	t, ok := tenantParam(r)
	if !ok {
		srv.fail(w, r, sess, http.StatusNotFound, "no such tenant")
		return
	}
	ctx := r.Context()
	docs, err := srv.deps.Reader.Documents(ctx, t, srv.cfg.DocumentLimit)
	if err != nil {
		srv.log.Error("console: read documents", zap.String("tenant_id", t.String()), zap.Error(err))
		srv.fail(w, r, sess, http.StatusInternalServerError, "could not read the documents")
		return
	}
	events, chain, err := srv.chain(ctx, t, 200)
	if err != nil {
		srv.log.Error("console: read audit", zap.String("tenant_id", t.String()), zap.Error(err))
		srv.fail(w, r, sess, http.StatusInternalServerError, "could not read the audit chain")
		return
	}
	data := map[string]any{"Tenant": t, "Documents": docs, "Events": events, "Chain": chain, "SFN": srv.deps.Executions != nil}
	if breakers, err := srv.breakers(ctx, t); err != nil {
		data["ControlErr"] = controlText(err)
	} else {
		data["Control"] = controlStatus(breakers[t])
	}
	if v, ok := srv.lastVerify(ctx, t); ok {
		data["LastVerify"] = v
	}
	rep, dlqErr := srv.inspect(ctx, r.URL.Query().Get("refresh") == "1")
	if dlqErr != nil {
		data["DLQError"] = controlText(dlqErr)
	}
	var msgs []dlq.Message
	if rep != nil {
		for _, m := range rep.Messages {
			if m.Verified && m.Tenant == t {
				msgs = append(msgs, m)
			}
		}
	}
	data["Messages"] = msgs
	data["Flash"] = r.URL.Query().Get("done")
	srv.render(w, r, http.StatusOK, "tenant", sess, data)
}

func (srv *Server) executions(w http.ResponseWriter, r *http.Request, sess *session) {
	t, ok := tenantParam(r)
	doc := r.PathValue("document")
	if !ok || doc == "" || len(doc) > 256 {
		srv.fail(w, r, sess, http.StatusNotFound, "no such document")
		return
	}
	data := map[string]any{"Tenant": t, "Document": doc}
	if srv.deps.Executions == nil {
		data["Error"] = controlText(ErrUnavailable)
	} else if ex, err := srv.deps.Executions.ForDocument(r.Context(), t, doc); err != nil {
		srv.log.Error("console: executions", zap.String("tenant_id", t.String()), zap.Error(err))
		data["Error"] = "could not list the executions"
	} else {
		data["Executions"] = ex
	}
	srv.render(w, r, http.StatusOK, "executions", sess, data)
}

// dlqGroup counts dead letters by tenant, reason and stage.
type dlqGroup struct {
	Tenant, Reason, Stage string
	Count                 int
}

func (srv *Server) deadLetters(w http.ResponseWriter, r *http.Request, sess *session) {
	rep, err := srv.inspect(r.Context(), r.URL.Query().Get("refresh") == "1")
	data := map[string]any{}
	if err != nil {
		data["DLQError"] = controlText(err)
	}
	if rep != nil {
		by := map[dlqGroup]int{}
		for _, m := range rep.Messages {
			by[dlqGroup{Tenant: m.TenantLabel(), Reason: m.Reason, Stage: m.Stage}]++
		}
		groups := make([]dlqGroup, 0, len(by))
		for g, n := range by {
			g.Count = n
			groups = append(groups, g)
		}
		sort.Slice(groups, func(i, j int) bool {
			a, b := groups[i], groups[j]
			if a.Count != b.Count {
				return a.Count > b.Count
			}
			return a.Tenant+a.Reason+a.Stage < b.Tenant+b.Reason+b.Stage
		})
		data["Report"], data["Groups"] = rep, groups
	}
	srv.render(w, r, http.StatusOK, "dlq", sess, data)
}
