package console

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/tenantry/tenantry/internal/audit"
	"github.com/tenantry/tenantry/internal/dlq"
)

// Audit actions the console records itself (pause and resume are recorded
// by the TenantControl, replays by internal/dlq).
const (
	ActionVerify  = "console.verify_chain"
	ActionReindex = "console.reindex"
)

func (srv *Server) actionLog(r *http.Request, sess *session, t uuid.UUID, action string) *zap.Logger {
	return srv.log.With(zap.String("tenant_id", t.String()), zap.String("request_id", randomToken()[:16]),
		zap.String("actor", sess.Actor()), zap.String("action", action))
}

// done redirects to the tenant page with a message (303: the browser GETs it).
func done(w http.ResponseWriter, r *http.Request, t uuid.UUID, msg string) {
	http.Redirect(w, r, "/tenants/"+t.String()+"?done="+url.QueryEscape(msg), http.StatusSeeOther) //nolint:gosec // a local path from a parsed tenant id; msg is query-escaped
}

func (srv *Server) actionFailed(w http.ResponseWriter, r *http.Request, sess *session, log *zap.Logger, err error) {
	if errors.Is(err, ErrUnavailable) {
		log.Info("console: action not available", zap.Error(err))
		srv.fail(w, r, sess, http.StatusNotImplemented, "not available in this deployment: "+err.Error())
		return
	}
	log.Error("console: action failed", zap.Error(err))
	srv.fail(w, r, sess, http.StatusInternalServerError, "the action failed; nothing was recorded as done (see the console's log)")
}

func (srv *Server) pause(w http.ResponseWriter, r *http.Request, sess *session, reason string) {
	srv.control(w, r, sess, reason, true)
}

func (srv *Server) resume(w http.ResponseWriter, r *http.Request, sess *session, reason string) {
	srv.control(w, r, sess, reason, false)
}

func (srv *Server) control(w http.ResponseWriter, r *http.Request, sess *session, reason string, pause bool) {
	t, ok := tenantParam(r)
	if !ok {
		srv.fail(w, r, sess, http.StatusNotFound, "no such tenant")
		return
	}
	name, fn := "resume", srv.deps.Control.Resume
	if pause {
		name, fn = "pause", srv.deps.Control.Pause
	}
	log := srv.actionLog(r, sess, t, name)
	if err := fn(r.Context(), t, sess.Actor(), reason); err != nil {
		srv.actionFailed(w, r, sess, log, err)
		return
	}
	log.Info("console: tenant " + name + "d")
	done(w, r, t, name+"d")
}

// detail is an audit row's detail: JSON, never document text.
func detail(fields map[string]any) string {
	b, _ := json.Marshal(fields)
	return string(b)
}

func (srv *Server) verify(w http.ResponseWriter, r *http.Request, sess *session, reason string) {
	t, ok := tenantParam(r)
	if !ok {
		srv.fail(w, r, sess, http.StatusNotFound, "no such tenant")
		return
	}
	log := srv.actionLog(r, sess, t, ActionVerify)
	if srv.deps.Recorder == nil {
		srv.actionFailed(w, r, sess, log, ErrUnavailable)
		return
	}
	rep, err := audit.VerifyChain(r.Context(), srv.deps.Reader, t, nil)
	if err != nil {
		srv.actionFailed(w, r, sess, log, err)
		return
	}
	res := verifyResult{At: srv.cfg.Now(), OK: rep.OK, Events: rep.Events, Detail: rep.Problem, Actor: sess.Actor()}
	if err := srv.deps.Recorder.Record(r.Context(), t, sess.Actor(), ActionVerify,
		detail(map[string]any{"reason": reason, "ok": rep.OK, "events": rep.Events, "problem": rep.Problem})); err != nil {
		srv.actionFailed(w, r, sess, log, err)
		return
	}
	srv.mu.Lock()
	srv.verified[t] = res
	srv.mu.Unlock()
	log.Info("console: chain verified", zap.Bool("ok", rep.OK), zap.Int64("events", rep.Events))
	msg := "chain verified: ok"
	if !rep.OK {
		msg = "chain BROKEN: " + rep.Problem
	}
	done(w, r, t, msg)
}

func (srv *Server) reindex(w http.ResponseWriter, r *http.Request, sess *session, reason string) {
	t, ok := tenantParam(r)
	if !ok {
		srv.fail(w, r, sess, http.StatusNotFound, "no such tenant")
		return
	}
	log := srv.actionLog(r, sess, t, ActionReindex)
	if srv.deps.Reindexer == nil || srv.deps.Recorder == nil {
		srv.actionFailed(w, r, sess, log, ErrUnavailable)
		return
	}
	var ids []string
	if d := strings.TrimSpace(r.PostFormValue("document")); d != "" {
		if len(d) > 256 {
			srv.fail(w, r, sess, http.StatusBadRequest, "document id too long")
			return
		}
		ids = []string{d}
	}
	// Recorded first: the jobs it sends are then always explained in the chain.
	if err := srv.deps.Recorder.Record(r.Context(), t, sess.Actor(), ActionReindex,
		detail(map[string]any{"reason": reason, "documents": ids, "all": len(ids) == 0})); err != nil {
		srv.actionFailed(w, r, sess, log, err)
		return
	}
	n, err := srv.deps.Reindexer.Reindex(r.Context(), t, sess.Actor(), reason, ids)
	if err != nil {
		srv.actionFailed(w, r, sess, log, err)
		return
	}
	log.Info("console: reindex requested", zap.Int("jobs", n))
	done(w, r, t, "reindex requested")
}

// replay dry-runs or replays the dead letters the form selects, through
// internal/dlq (every replayed message is audited in its tenant's chain).
func (srv *Server) replay(w http.ResponseWriter, r *http.Request, sess *session, reason string) {
	log := srv.log.With(zap.String("actor", sess.Actor()), zap.String("request_id", randomToken()[:16]))
	if srv.deps.DLQ == nil {
		srv.actionFailed(w, r, sess, log, ErrUnavailable)
		return
	}
	f, err := replayFilter(r)
	if err != nil {
		srv.fail(w, r, sess, http.StatusBadRequest, err.Error())
		return
	}
	dry := r.PostFormValue("mode") != "replay"
	results, st, err := srv.deps.DLQ.Replay(r.Context(), f, sess.Actor(), reason, dry)
	srv.forgetDLQ()
	for _, res := range results {
		log.Info("console: dlq replay", zap.String("tenant_id", res.Message.TenantLabel()),
			zap.String("message_id", res.Message.ID), zap.String("outcome", string(res.Outcome)), zap.Bool("dry_run", dry))
	}
	data := map[string]any{"Results": results, "Stats": st, "DryRun": dry, "Filter": r.PostForm, "Reason": reason}
	if err != nil {
		log.Error("console: dlq replay", zap.Error(err))
		data["Error"] = "the replay stopped early; see the console's log (nothing was lost)"
	}
	srv.render(w, r, http.StatusOK, "replay", sess, data)
}

func replayFilter(r *http.Request) (dlq.Filter, error) {
	var f dlq.Filter
	if s := strings.TrimSpace(r.PostFormValue("tenant")); s != "" {
		id, err := uuid.Parse(s)
		if err != nil || id == uuid.Nil {
			return f, errors.New("tenant must be a tenant id")
		}
		f.Tenants = []uuid.UUID{id}
	}
	split := func(s string) []string {
		var out []string
		for _, p := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' }) {
			if len(p) > 256 {
				continue
			}
			out = append(out, p)
		}
		return out
	}
	f.Reasons = split(r.PostFormValue("dead_letter_reason"))
	f.Stages = split(r.PostFormValue("stage"))
	f.IDs = split(r.PostFormValue("ids"))
	if len(f.IDs) > 100 {
		return f, errors.New("at most 100 message ids")
	}
	return f, f.Validate()
}
