package service_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/breaker"
	"github.com/tenantry/tenantry/internal/service"
)

func (e *env) admin() *service.TenantAdmin {
	e.t.Helper()
	a, err := service.OpenTenantAdmin(e.ctx, e.db.OwnerURL, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(a.Close)
	return a
}

func (e *env) breakerStatus(a *service.TenantAdmin, tenant uuid.UUID) breaker.Status {
	e.t.Helper()
	st, err := a.Breakers.Status(e.ctx, tenant)
	if err != nil {
		e.t.Fatal(err)
	}
	return st
}

// Through the real worker, S3 server and queue: a tenant whose uploads all
// fail permanently trips its breaker within its first few documents; its
// later uploads are parked, not dead-lettered; another tenant's documents
// become searchable meanwhile.
func TestFailingTenantTripsWhileOthersRun(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{breaker: breaker.Config{ConsecutiveFailures: 3, MinSamples: 1000, OpenFor: time.Hour, PollInterval: 100 * time.Millisecond}})
	adm := e.admin()
	good, bad := uuid.New(), uuid.New()
	// First wave: the failures that trip it (all may be in flight at once).
	const firstWave, secondWave = 4, 4
	for i := range firstWave {
		e.upload(bad, fmt.Sprintf("bin-%d", i), "blob.exe", "application/x-msdownload", "MZ not a document")
	}
	e.upload(good, "warranty", "warranty.md", "text/markdown", "# Warranty\n\nThe robot warranty lasts 36 months.")
	e.eventually("the failing tenant's breaker to trip", func() bool { return e.breakerStatus(adm, bad).State == breaker.Open })
	// Second wave, after the trip: parked, not run, not dead-lettered.
	for i := range secondWave {
		e.upload(bad, fmt.Sprintf("late-%d", i), "blob.exe", "application/x-msdownload", "MZ not a document")
	}
	e.upload(good, "returns", "returns.txt", "text/plain", "Returns are accepted within 14 days.")
	e.waitStatus(good, "warranty", "ready")
	e.waitStatus(good, "returns", "ready")
	// Every later upload is parked. A first-wave upload the intake let
	// through only after the third failure had tripped the breaker is
	// parked too (it never ran): the trip needs 3 of the 4 to fail.
	parked := func(doc string) int {
		return e.adminCount("SELECT count(*) FROM parked_messages WHERE tenant_id = $1 AND body LIKE '%/' || $2 || '-%'", bad, doc)
	}
	e.eventually("the later uploads to be parked", func() bool { return parked("late") == secondWave })
	firstParked := parked("bin")
	if firstParked > firstWave-3 {
		t.Fatalf("%d first-wave uploads parked: the breaker tripped before 3 failures", firstParked)
	}
	st := e.breakerStatus(adm, bad)
	if st.Parked != int64(secondWave+firstParked) {
		t.Errorf("status parked %d, want %d", st.Parked, secondWave+firstParked)
	}
	if !strings.Contains(st.Reason, "consecutive permanent failures") {
		t.Errorf("status: %+v", st)
	}
	if n := e.adminCount("SELECT count(*) FROM documents WHERE tenant_id = $1 AND document_id LIKE 'late-%'", bad); n != 0 {
		t.Errorf("%d parked uploads were processed", n)
	}
	badDocs := firstWave - firstParked
	reasons := e.dlqMessages(badDocs)
	for _, r := range reasons {
		if r != "unsupported_media_type" {
			t.Errorf("dead-lettered for %q: parked work must never reach the DLQ", r)
		}
	}
	if n := e.adminCount("SELECT count(*) FROM audit_events WHERE tenant_id = $1 AND action = 'breaker.trip'", bad); n != 1 {
		t.Errorf("%d trip audit rows, want 1", n)
	}
	if st := e.breakerStatus(adm, good); st.State != breaker.Closed || st.Parked != 0 {
		t.Errorf("the healthy tenant's breaker: %+v", st)
	}
}

// An operator's pause parks a tenant's uploads on the running worker; resume
// releases every one of them, and they become searchable. Each transition
// is in the tenant's audit chain.
func TestPauseParksAndResumeReleasesEverything(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{breaker: breaker.Config{PollInterval: 100 * time.Millisecond}})
	adm := e.admin()
	tenant := uuid.New()
	if err := adm.Breakers.Pause(e.ctx, tenant, "ops", "migrating their integration"); err != nil {
		t.Fatal(err)
	}
	docs := []string{"alpha", "beta", "gamma"}
	for _, d := range docs {
		e.upload(tenant, d, d+".txt", "text/plain", "Document "+d+" about warranty terms.")
	}
	e.eventually("3 parked uploads", func() bool { return e.breakerStatus(adm, tenant).Parked == 3 })
	if n := len(e.docs(tenant)); n != 0 {
		t.Fatalf("%d documents stored while paused", n)
	}
	if err := adm.Breakers.Resume(e.ctx, tenant, "ops", "integration fixed"); err != nil {
		t.Fatal(err)
	}
	for _, d := range docs {
		e.waitStatus(tenant, d, "ready")
	}
	if st := e.breakerStatus(adm, tenant); st.State != breaker.Closed || st.Parked != 0 || st.Refused != 0 {
		t.Errorf("after resume: %+v", st)
	}
	var actions []string
	for _, a := range []string{"breaker.pause", "breaker.resume", "breaker.release"} {
		n := e.adminCount("SELECT count(*) FROM audit_events WHERE tenant_id = $1 AND action = $2", tenant, a)
		actions = append(actions, fmt.Sprintf("%s=%d", a, n))
	}
	if !slices.Equal(actions, []string{"breaker.pause=1", "breaker.resume=1", "breaker.release=3"}) {
		t.Errorf("audit: %v", actions)
	}
	if n := e.adminCount("SELECT count(*) FROM documents WHERE tenant_id = $1", tenant); n != 3 {
		t.Errorf("%d documents, want 3 (nothing doubled)", n)
	}
}

// From the attacker's side: failures only count against a tenant the gate
// verified. Forged uploads claiming the victim (a key nobody trusts) are
// dead-lettered as forgeries and never trip, or even touch, the victim's
// breaker; the victim's next real upload runs.
func TestForgedFailuresNeverTripAnotherTenant(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{breaker: breaker.Config{ConsecutiveFailures: 2, MinSamples: 2}})
	victim := uuid.New()
	const forged = 5
	for i := range forged {
		key := fmt.Sprintf("%s/forged-%d/plans.exe", victim, i)
		if _, err := e.s3.PutObject(e.ctx, &s3.PutObjectInput{Bucket: aws.String(e.bucket), Key: aws.String(key),
			Body: strings.NewReader("MZ"), ContentType: aws.String("application/x-msdownload"),
			Metadata: map[string]string{"tenantry-envelope": e.kit.SignWith(t, e.kit.Stranger, e.kit.ObjectClaims(victim, e.bucket, key))}}); err != nil {
			t.Fatal(err)
		}
		e.notify("ObjectCreated:Put", key)
	}
	for _, r := range e.dlqMessages(forged) {
		if r != "unknown_key" {
			t.Errorf("dead-lettered for %q", r)
		}
	}
	for _, table := range []string{"tenant_breakers", "parked_messages"} {
		if n := e.adminCount("SELECT count(*) FROM "+table+" WHERE tenant_id = $1", victim); n != 0 {
			t.Errorf("forged input reached the victim's %s (%d rows)", table, n)
		}
	}
	e.upload(victim, "real", "real.txt", "text/plain", "The victim's real document.")
	e.waitStatus(victim, "real", "ready")
}
