package sfntask

import (
	"context"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/tenantry/tenantry/internal/breaker"
	"github.com/tenantry/tenantry/internal/outcome"
	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/worker"
)

// job is one run of a task: the task, and once the gate verified its
// tenant and the tenant's breaker let it run, that admission.
type job struct {
	*Task
	// scope is the verified tenant's scope (zero before the gate).
	scope tenantdb.Scope
	// admitted: the breaker let the task run; its outcome is recorded.
	admitted bool
	// trial: the task runs as its tenant's half-open trial.
	trial bool
}

// id names the task state the job runs, the same for every attempt the
// state machine makes: the breaker's job id (the trial's claim, the last
// failures an operator sees).
func (j *job) id() string {
	id := "sfn:" + j.Execution + ":" + string(j.Stage)
	if j.Batch != nil {
		id += ":" + strconv.Itoa(*j.Batch)
	}
	return id
}

// run names the execution the job belongs to: one document's run through
// the state machine, the unit a half-open breaker's trial is. Every task of
// the trial's execution runs as the trial; only its verdict on the document
// (a permanent failure at any stage, or Finalize's success) settles it.
func (j *job) run() string { return "sfn:" + j.Execution }

// admit asks scope's tenant's breaker whether j may run now (the same
// decision as the SQS worker's, breaker.AdmitTask): when the breaker is
// open, paused, or half-open with its trial taken, the task is refused
// with breaker.ErrOpen (answered ErrorBreakerOpen, which the state machine
// retries) before it does any work. MarkFailed is not asked: it runs no
// stage, only records a failure already reached, and is never a trial.
func (h *Handler) admit(ctx context.Context, j *job, scope tenantdb.Scope) error {
	j.scope = scope
	if h.breaker == nil || j.Stage == StageMarkFailed {
		return nil
	}
	d, err := h.breaker.AdmitTask(ctx, scope, j.run())
	if err != nil {
		return err
	}
	j.admitted, j.trial = true, d.Trial
	return nil
}

// record tells the tenant's breaker how an admitted task ended, as the SQS
// worker tells it how a message ended. A document is one verdict however
// many tasks it takes: a permanent failure of any stage counts as a
// failure, Finalize's success as a success; the other stages' successes
// never count, not even in the half-open trial's execution (a Verify that
// succeeds proves nothing about the stage that kept failing), so a tenant
// whose every document fails at one stage trips its breaker as it would on
// the SQS path, and only a whole document closes it. Transient failures
// never count (a trial's transient failure frees the trial claim).
func (h *Handler) record(ctx context.Context, j *job, err error) {
	if !j.admitted {
		return
	}
	o := breaker.Outcome{JobID: j.id(), Trial: j.trial}
	if j.trial {
		o.JobID = j.run() // the trial's claim
	}
	switch v := outcome.Classify(err); {
	case err == nil && j.Stage != StageFinalize:
		return // not a verdict on the document (nor on a trial)
	case err == nil:
	case v.Class == outcome.Permanent || v.Class == outcome.Rejected:
		o.Failed, o.Reason = true, v.Reason
	default:
		o.Transient = true
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, rerr := h.breaker.Record(rctx, j.scope, o); rerr != nil {
		worker.Logger(ctx).Warn("breaker outcome not recorded", zap.String("tenant_id", j.scope.TenantID().String()),
			zap.String("job_id", j.id()), zap.Error(rerr))
	}
}
