-- tenantry schema v2: the database trusts no caller's schema (design invariant 9).
--
-- An outside probe showed that tenantry_audit() (SECURITY DEFINER, search_path
-- "pg_catalog, public") resolved audit_heads/audit_events through the CALLER's
-- temporary schema: PostgreSQL searches pg_temp first unless search_path names
-- it. A worker that created pg_temp.audit_heads with a trigger ran that trigger
-- as the owner. The class fix, for every function of the schema:
--   * search_path pinned with pg_temp LAST, and every object schema-qualified;
--   * EXECUTE revoked from PUBLIC, granted only to the roles that need it;
--   * the worker role can create nothing: no TEMP on the database, no CREATE on
--     the database or any schema (tenantdb.Preflight refuses to start otherwise,
--     and migrations_test checks the catalog).

-- The session tenant (SECURITY INVOKER; called by every RLS policy).
CREATE OR REPLACE FUNCTION public.tenantry_current_tenant() RETURNS uuid
LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	v text := pg_catalog.current_setting('tenantry.tenant_id', true);
BEGIN
	IF v IS NULL OR v = '' THEN
		RAISE EXCEPTION 'tenantry: no tenant scope in this transaction'
			USING ERRCODE = '42501', HINT = 'use tenantdb.WithTenant';
	END IF;
	BEGIN
		RETURN v::uuid;
	EXCEPTION WHEN invalid_text_representation THEN
		RAISE EXCEPTION 'tenantry: malformed tenant scope' USING ERRCODE = '42501';
	END;
END $$;

-- The audit row hash (SECURITY INVOKER, pure). Only the owner's audit
-- function calls it; internal/audit recomputes it in Go.
ALTER FUNCTION public.tenantry_audit_hash(uuid, bigint, bytea, timestamptz, text, text, text, text, text, text)
	SET search_path = pg_catalog, pg_temp;

-- Appends one audit row for the SESSION tenant. Every table and function is
-- schema-qualified and search_path ends with pg_temp, so nothing a caller
-- creates can stand in for them.
CREATE OR REPLACE FUNCTION public.tenantry_audit(p_action text, p_resource text, p_payload_hash text, p_detail text DEFAULT '')
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
	t    uuid := public.tenantry_current_tenant();
	a    text := coalesce(pg_catalog.current_setting('tenantry.actor', true), '');
	j    text := coalesce(pg_catalog.current_setting('tenantry.job_id', true), '');
	at   timestamptz := pg_catalog.date_trunc('microseconds', pg_catalog.clock_timestamp());
	s    bigint;
	prev bytea;
	h    bytea;
BEGIN
	IF p_action IS NULL OR p_action OPERATOR(pg_catalog.!~) '^[a-z][a-z0-9_.]{0,63}$' THEN
		RAISE EXCEPTION 'tenantry_audit: invalid action' USING ERRCODE = '22023';
	END IF;
	INSERT INTO public.audit_heads (tenant_id, seq, hash)
		VALUES (t, 0, pg_catalog.decode(pg_catalog.repeat('00', 32), 'hex'))
		ON CONFLICT (tenant_id) DO NOTHING;
	SELECT ah.seq, ah.hash INTO s, prev FROM public.audit_heads ah WHERE ah.tenant_id = t FOR UPDATE;
	s := s + 1;
	h := public.tenantry_audit_hash(t, s, prev, at, a, j, p_action, coalesce(p_resource, ''),
		coalesce(p_payload_hash, ''), coalesce(p_detail, ''));
	INSERT INTO public.audit_events (tenant_id, seq, occurred_at, actor, job_id, action, resource, payload_hash, detail, prev_hash, hash)
		VALUES (t, s, at, a, j, p_action, coalesce(p_resource, ''), coalesce(p_payload_hash, ''), coalesce(p_detail, ''), prev, h);
	UPDATE public.audit_heads SET seq = s, hash = h WHERE tenant_id = t;
	RETURN s;
END $$;

-- EXECUTE only where needed (functions are executable by PUBLIC by default).
REVOKE ALL ON FUNCTION public.tenantry_current_tenant() FROM PUBLIC;
REVOKE ALL ON FUNCTION public.tenantry_audit_hash(uuid, bigint, bytea, timestamptz, text, text, text, text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION public.tenantry_audit(text, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.tenantry_current_tenant() TO "{{.WorkerRole}}";
GRANT EXECUTE ON FUNCTION public.tenantry_audit(text, text, text, text) TO "{{.WorkerRole}}";
-- Functions created later by this role are not executable by PUBLIC either.
ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

-- Nothing to create for the worker: no temporary objects, no schemas, no
-- objects in public. (The database owner runs migrations; a non-owner's
-- REVOKE on the database is a warning and Preflight then refuses the worker.)
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
REVOKE CREATE ON SCHEMA public FROM "{{.WorkerRole}}";
DO $$
BEGIN
	EXECUTE pg_catalog.format('REVOKE TEMPORARY, CREATE ON DATABASE %I FROM PUBLIC', pg_catalog.current_database());
	EXECUTE pg_catalog.format('REVOKE TEMPORARY, CREATE ON DATABASE %I FROM %I', pg_catalog.current_database(), '{{.WorkerRole}}');
	-- CONNECT stays PUBLIC's; granted explicitly so the worker keeps it if an operator revokes it.
	EXECUTE pg_catalog.format('GRANT CONNECT ON DATABASE %I TO %I', pg_catalog.current_database(), '{{.WorkerRole}}');
END $$;
