-- tenantry schema v12: each tenant's embedding provider usage per minute
-- (internal/usage), for the operator console's tenants view.
--
-- provider_usage is a tenant table: tenant_id NOT NULL, ENABLE + FORCE RLS,
-- a USING + WITH CHECK policy on the session tenant. The worker adds its
-- tallies (requests, estimated tokens, provider throttles) in batched
-- upserts, one scoped transaction per tenant, never per request; it may
-- read, insert and update only its scoped tenant's rows, and delete none.
-- The owner role (the console's read-only reader) reads every tenant's rows
-- (FOR SELECT only: FORCE RLS still refuses it every write).

CREATE TABLE public.provider_usage (
	tenant_id uuid        NOT NULL,
	minute    timestamptz NOT NULL CHECK (minute = pg_catalog.date_trunc('minute', minute)),
	requests  bigint      NOT NULL DEFAULT 0 CHECK (requests >= 0),
	tokens    bigint      NOT NULL DEFAULT 0 CHECK (tokens >= 0),
	throttled bigint      NOT NULL DEFAULT 0 CHECK (throttled >= 0),
	PRIMARY KEY (tenant_id, minute)
);

ALTER TABLE public.provider_usage ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.provider_usage FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON public.provider_usage
	USING (tenant_id = (SELECT public.tenantry_current_tenant()))
	WITH CHECK (tenant_id = (SELECT public.tenantry_current_tenant()));
DO $$
BEGIN
	EXECUTE pg_catalog.format('CREATE POLICY owner_console_read ON public.provider_usage FOR SELECT TO %I USING (true)', current_user);
END $$;

REVOKE ALL ON public.provider_usage FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE ON public.provider_usage TO "{{.WorkerRole}}";
