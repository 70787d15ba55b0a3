package main

import (
	"fmt"
	"os"
	"time"

	"github.com/tenantry/tenantry/internal/service"
)

// TenantCmd operates tenants' circuit breakers and dispatch limits (owner role).
type TenantCmd struct {
	Pause  TenantPauseCmd  `cmd:"" help:"Open a tenant's breaker until resumed: every worker parks its verified messages (kept, never dropped)."`
	Resume TenantResumeCmd `cmd:"" help:"Close a tenant's breaker; the workers release its parked messages in order."`
	Status TenantStatusCmd `cmd:"" help:"Breaker state, reason, parked count and last failures (all tenants with a breaker, or --tenant)."`
	Limits TenantLimitsCmd `cmd:"" help:"Show or set a tenant's dispatch weight, concurrency cap and provider budgets."`
}

// TenantDB is the owner-role connection of the tenant commands.
type TenantDB struct {
	OwnerURL string `name:"owner-database-url" aliases:"owner-url" env:"TENANTRY_OWNER_DATABASE_URL" required:"" help:"Owner role connection string (operators act on any tenant; audited in its chain)."`
	Actor    string `name:"actor" env:"TENANTRY_ACTOR" help:"Who acts, for the audit chain (default: $USER)."`
}

func (d TenantDB) actor() string {
	if d.Actor != "" {
		return d.Actor
	}
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return "operator"
}

func (d TenantDB) open(g *Globals) (*service.TenantAdmin, error) {
	return service.OpenTenantAdmin(g.Context(), d.OwnerURL, g.Logger())
}

// TenantPauseCmd pauses a tenant.
type TenantPauseCmd struct {
	TenantDB
	Tenant string `name:"tenant" required:"" help:"Tenant id."`
	Reason string `name:"reason" required:"" help:"Why (recorded in the tenant's audit chain)."`
}

// Run pauses.
func (c *TenantPauseCmd) Run(g *Globals) error {
	return c.transition(g, c.Tenant, c.Reason, true)
}

// TenantResumeCmd resumes a tenant.
type TenantResumeCmd struct {
	TenantDB
	Tenant string `name:"tenant" required:"" help:"Tenant id."`
	Reason string `name:"reason" default:"resumed by an operator" help:"Why (recorded in the tenant's audit chain)."`
}

// Run resumes.
func (c *TenantResumeCmd) Run(g *Globals) error {
	return c.transition(g, c.Tenant, c.Reason, false)
}

func (d TenantDB) transition(g *Globals, tenant, reason string, pause bool) error {
	id, err := parseTenant(tenant)
	if err != nil {
		return err
	}
	a, err := d.open(g)
	if err != nil {
		return err
	}
	defer a.Close()
	op := a.Breakers.Resume
	if pause {
		op = a.Breakers.Pause
	}
	if err := op(g.Context(), id, d.actor(), reason); err != nil {
		return err
	}
	sts, err := a.TenantStatuses(g.Context(), nil)
	if err != nil {
		return err
	}
	for _, st := range sts {
		if st.Tenant == id.String() {
			return service.WriteStatuses(os.Stdout, []service.BreakerStatus{st}, false)
		}
	}
	return nil
}

// TenantStatusCmd shows breakers.
type TenantStatusCmd struct {
	TenantDB
	Tenant      []string `name:"tenant" help:"Only these tenants (default: every tenant with a breaker or parked messages)."`
	OutputFlags `embed:""`
}

// Run shows.
func (c *TenantStatusCmd) Run(g *Globals) error {
	ids, err := parseTenants(c.Tenant...)
	if err != nil {
		return err
	}
	a, err := c.open(g)
	if err != nil {
		return err
	}
	defer a.Close()
	sts, err := a.TenantStatuses(g.Context(), ids)
	if err != nil {
		return err
	}
	return service.WriteStatuses(os.Stdout, sts, c.format().IsJSON())
}

// TenantLimitsCmd shows or sets a tenant's limits; flags left at -1 keep
// their current value.
type TenantLimitsCmd struct {
	TenantDB
	Tenant            string `name:"tenant" required:"" help:"Tenant id."`
	Weight            int    `name:"weight" default:"-1" help:"Share in the weighted round-robin over tenants (1..1000)."`
	MaxConcurrency    int    `name:"max-concurrency" default:"-1" help:"Most of the tenant's messages in work at once on each worker (0: the global limit only)."`
	RequestsPerMinute int    `name:"requests-per-minute" default:"-1" help:"Embedding requests per minute for the tenant (0: unbudgeted)."`
	TokensPerMinute   int    `name:"tokens-per-minute" default:"-1" help:"Embedding tokens per minute for the tenant (0: unbudgeted)."`
}

// Run shows or sets.
func (c *TenantLimitsCmd) Run(g *Globals) error {
	id, err := parseTenant(c.Tenant)
	if err != nil {
		return err
	}
	a, err := c.open(g)
	if err != nil {
		return err
	}
	defer a.Close()
	next, err := a.SetLimits(g.Context(), id, c.actor(), service.LimitChange{Weight: c.Weight, MaxConcurrency: c.MaxConcurrency,
		RequestsPerMinute: c.RequestsPerMinute, TokensPerMinute: c.TokensPerMinute})
	if err != nil {
		return err
	}
	return writeLimits(id.String(), next)
}

func writeLimits(tenant string, l service.TenantLimits) error {
	_, err := fmt.Printf("tenant %s: weight %d, max concurrency %d, %d requests/min, %d tokens/min\n",
		tenant, l.Weight, l.MaxConcurrency, l.RequestsPerMinute, l.TokensPerMinute)
	return err
}

// BreakerFlags tune the per-tenant circuit breakers: the same rules for the
// messages of `tenantry worker` and the Step Functions tasks of both
// `tenantry worker` and `tenantry lambda`.
type BreakerFlags struct {
	Disable             bool          `name:"disable" env:"TENANTRY_BREAKER_DISABLE" help:"Turn the per-tenant breakers off (nothing is parked or refused; parked messages wait)."`
	Window              time.Duration `name:"window" env:"TENANTRY_BREAKER_WINDOW" default:"1m" help:"Period over which a tenant's permanent failures are counted."`
	MinSamples          int           `name:"min-samples" env:"TENANTRY_BREAKER_MIN_SAMPLES" default:"10" help:"Fewest outcomes in a window before the failure ratio can trip a breaker."`
	FailureRatio        float64       `name:"failure-ratio" env:"TENANTRY_BREAKER_FAILURE_RATIO" default:"0.5" help:"Trip when permanent failures / outcomes in the window reach this."`
	ConsecutiveFailures int           `name:"consecutive-failures" env:"TENANTRY_BREAKER_CONSECUTIVE_FAILURES" default:"10" help:"Trip after this many permanent failures in a row."`
	OpenFor             time.Duration `name:"open-for" env:"TENANTRY_BREAKER_OPEN_FOR" default:"30s" help:"How long a tripped breaker stays open before one trial runs."`
}

// ReleaseFlags tune how `tenantry worker` puts parked messages back.
type ReleaseFlags struct {
	ReleaseRate  float64       `name:"release-rate" env:"TENANTRY_BREAKER_RELEASE_RATE" default:"50" help:"Parked messages per second one worker puts back into the queue."`
	PollInterval time.Duration `name:"poll-interval" env:"TENANTRY_BREAKER_POLL_INTERVAL" default:"250ms" help:"How often each worker looks for parked work to release."`
}

// settings are the breakers' configuration; release (nil: none) adds the
// worker's release settings.
func (f BreakerFlags) settings(release *ReleaseFlags) service.BreakerConfig {
	c := service.BreakerConfig{Window: f.Window, MinSamples: f.MinSamples, FailureRatio: f.FailureRatio,
		ConsecutiveFailures: f.ConsecutiveFailures, OpenFor: f.OpenFor}
	if release != nil {
		c.ReleaseRate, c.PollInterval = release.ReleaseRate, release.PollInterval
	}
	return c
}
