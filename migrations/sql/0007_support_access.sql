-- tenantry schema v7: audited support access (issue 18).
--
-- Support staff sometimes have to look at one tenant's data. They log in as
-- {{.SupportRole}} (or a personal login that is a member of it), a role with
-- NO table privileges, no TEMP, no CREATE: its only door is the SECURITY
-- DEFINER function tenantry_support_read, which
--   * requires an active, time-bound, unrevoked grant for that tenant and
--     that operator (grants are created and revoked by the owner role only,
--     through tenantry_support_grant / tenantry_support_revoke, each audited
--     in the tenant's chain);
--   * appends a support.read event (operator, reason, what was read) to the
--     tenant's hash chain in the same transaction as the read;
--   * on refusal (no grant, another tenant's grant, expired, revoked, another
--     operator, a bad request) records a security event and returns the
--     refusal instead of raising, so the record is committed with it.
-- The session's tenant, actor and job settings are set only inside the
-- function from its checked arguments and cleared before it returns: nothing
-- a caller sets beforehand is trusted, and nothing stays in the caller's
-- transaction (a function-level SET of these placeholders needs superuser).
-- Runs as the owner role.

CREATE TABLE public.support_grants (
	grant_id   uuid        PRIMARY KEY,
	tenant_id  uuid        NOT NULL,
	operator   text        NOT NULL CHECK (operator ~ '^[A-Za-z0-9_.@+-]{1,128}$'),
	reason     text        NOT NULL CHECK (length(reason) BETWEEN 1 AND 512),
	granted_by text        NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	expires_at timestamptz NOT NULL,
	revoked_at timestamptz,
	CHECK (expires_at > created_at AND expires_at <= created_at + interval '7 days')
);
CREATE INDEX support_grants_tenant ON public.support_grants (tenant_id, expires_at);
ALTER TABLE public.support_grants ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.support_grants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON public.support_grants
	USING (tenant_id = (SELECT public.tenantry_current_tenant()))
	WITH CHECK (tenant_id = (SELECT public.tenantry_current_tenant()));
-- The owner lists every tenant's grants (`tenantry support list`), and the
-- read function finds a grant before knowing whether it is for the asked tenant.
DO $$
BEGIN
	EXECUTE pg_catalog.format('CREATE POLICY owner_grant_read ON public.support_grants FOR SELECT TO %I USING (true)', current_user);
END $$;

-- Creates a grant for the SESSION tenant (the owner runs it inside a
-- transaction scoped to that tenant) and audits it in the tenant's chain.
-- SECURITY INVOKER: only the owner may execute it.
CREATE FUNCTION public.tenantry_support_grant(p_operator text, p_reason text, p_ttl interval)
RETURNS uuid LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
	t  uuid := public.tenantry_current_tenant();
	id uuid := pg_catalog.gen_random_uuid();
	n  timestamptz := pg_catalog.now();
BEGIN
	IF p_ttl IS NULL OR p_ttl <= interval '0' OR p_ttl > interval '7 days' THEN
		RAISE EXCEPTION 'tenantry_support_grant: ttl must be within 0..7 days' USING ERRCODE = '22023';
	END IF;
	INSERT INTO public.support_grants (grant_id, tenant_id, operator, reason, granted_by, created_at, expires_at)
		VALUES (id, t, p_operator, p_reason, session_user, n, n + p_ttl);
	PERFORM public.tenantry_audit('support.granted', 'support-grant:' || id::text, '',
		pg_catalog.jsonb_build_object('grant', id, 'operator', p_operator, 'reason', p_reason,
			'expires_at', n + p_ttl, 'granted_by', session_user)::text);
	RETURN id;
END $$;

-- Revokes a grant of the SESSION tenant; audited. Revoking twice is a no-op
-- that returns false.
CREATE FUNCTION public.tenantry_support_revoke(p_grant uuid)
RETURNS boolean LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
	t  uuid := public.tenantry_current_tenant();
	op text;
BEGIN
	UPDATE public.support_grants g SET revoked_at = pg_catalog.now()
		WHERE g.grant_id = p_grant AND g.tenant_id = t AND g.revoked_at IS NULL
		RETURNING g.operator INTO op;
	IF NOT FOUND THEN
		RETURN false;
	END IF;
	PERFORM public.tenantry_audit('support.revoked', 'support-grant:' || p_grant::text, '',
		pg_catalog.jsonb_build_object('grant', p_grant, 'operator', op, 'revoked_by', session_user)::text);
	RETURN true;
END $$;

-- The support role's only door. p_what is 'documents' (metadata of the
-- tenant's documents) or 'chunks' (the chunks of one document, p_document).
-- Returns {"ok":true,"rows":[...]} or {"ok":false,"refused":"<reason>"}.
CREATE FUNCTION public.tenantry_support_read(p_tenant uuid, p_grant uuid, p_operator text, p_what text, p_document text DEFAULT '')
RETURNS jsonb LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
	g       public.support_grants%ROWTYPE;
	refused text;
	out     jsonb;
	n       bigint;
BEGIN
	SELECT * INTO g FROM public.support_grants sg WHERE sg.grant_id = p_grant;
	CASE
		WHEN p_tenant IS NULL OR p_grant IS NULL OR p_operator IS NULL
			OR p_what IS NULL OR p_what NOT IN ('documents', 'chunks')
			OR (p_what = 'chunks' AND coalesce(p_document, '') = '') THEN
			refused := 'support_bad_request';
		WHEN NOT FOUND THEN
			refused := 'support_no_grant';
		WHEN g.tenant_id IS DISTINCT FROM p_tenant THEN
			refused := 'support_wrong_tenant';
		WHEN g.operator IS DISTINCT FROM p_operator THEN
			refused := 'support_wrong_operator';
		WHEN g.revoked_at IS NOT NULL THEN
			refused := 'support_grant_revoked';
		WHEN g.expires_at <= pg_catalog.clock_timestamp() THEN
			-- the wall clock, not now(): a transaction opened before
			-- expiry must not keep reading after it
			refused := 'support_grant_expired';
		ELSE
			refused := NULL;
	END CASE;
	IF refused IS NOT NULL THEN
		INSERT INTO public.security_events (reason, source, message_id, claimed_tenant, resource, detail)
			VALUES (refused, 'support', coalesce(p_grant::text, ''), coalesce(p_tenant::text, ''),
				pg_catalog.left(coalesce(p_what, '') || ':' || coalesce(p_document, ''), 1024),
				pg_catalog.left(pg_catalog.jsonb_build_object('operator', p_operator, 'db_user', session_user)::text, 1024));
		RETURN pg_catalog.jsonb_build_object('ok', false, 'refused', refused);
	END IF;

	PERFORM pg_catalog.set_config('tenantry.tenant_id', p_tenant::text, true);
	PERFORM pg_catalog.set_config('tenantry.actor', 'support:' || p_operator, true);
	PERFORM pg_catalog.set_config('tenantry.job_id', 'support-grant:' || p_grant::text, true);
	-- Hold the grant for the rest of the transaction: a revoke waits for it,
	-- and a snapshot older than a committed revoke (REPEATABLE READ opened
	-- before it) fails here with a serialization error instead of reading.
	PERFORM 1 FROM public.support_grants sg WHERE sg.grant_id = p_grant FOR SHARE;

	IF p_what = 'documents' THEN
		SELECT coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
				'document_id', d.document_id, 'version', d.version, 'status', d.status,
				'size_bytes', d.size_bytes, 'media_type', d.media_type, 'filename', d.filename,
				'chunk_count', d.chunk_count, 'model', d.model, 'error', d.error,
				'attributes', d.attributes, 'created_at', d.created_at, 'updated_at', d.updated_at)
				ORDER BY d.document_id), '[]'::jsonb), pg_catalog.count(*)
			INTO out, n
			FROM (SELECT * FROM public.documents dd WHERE dd.tenant_id = p_tenant ORDER BY dd.document_id LIMIT 1000) d;
	ELSE
		SELECT coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
				'document_id', c.document_id, 'version', c.version, 'ordinal', c.ordinal,
				'text', c.text, 'token_count', c.token_count, 'page', c.page,
				'content_hash', c.content_hash) ORDER BY c.version, c.ordinal), '[]'::jsonb), pg_catalog.count(*)
			INTO out, n
			FROM (SELECT * FROM public.chunks cc WHERE cc.tenant_id = p_tenant AND cc.document_id = p_document
				ORDER BY cc.version, cc.ordinal LIMIT 1000) c;
	END IF;

	PERFORM public.tenantry_audit('support.read',
		CASE WHEN p_what = 'documents' THEN 'support:documents' ELSE 'doc:' || p_document END, '',
		pg_catalog.jsonb_build_object('operator', p_operator, 'reason', g.reason, 'grant', p_grant,
			'read', p_what, 'document', coalesce(p_document, ''), 'rows', n, 'db_user', session_user)::text);
	-- The scope ends with the read: nothing of it stays in the caller's transaction.
	PERFORM pg_catalog.set_config('tenantry.tenant_id', '', true);
	PERFORM pg_catalog.set_config('tenantry.actor', '', true);
	PERFORM pg_catalog.set_config('tenantry.job_id', '', true);
	RETURN pg_catalog.jsonb_build_object('ok', true, 'rows', out);
END $$;

REVOKE ALL ON FUNCTION public.tenantry_support_grant(text, text, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION public.tenantry_support_revoke(uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION public.tenantry_support_read(uuid, uuid, text, text, text) FROM PUBLIC;

-- The support role: nothing but CONNECT, USAGE on the schema (to name the
-- function) and EXECUTE on the read function.
DO $$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = '{{.SupportRole}}') THEN
		CREATE ROLE "{{.SupportRole}}" NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
	END IF;
	EXECUTE pg_catalog.format('REVOKE TEMPORARY, CREATE ON DATABASE %I FROM %I', pg_catalog.current_database(), '{{.SupportRole}}');
	EXECUTE pg_catalog.format('GRANT CONNECT ON DATABASE %I TO %I', pg_catalog.current_database(), '{{.SupportRole}}');
END $$;
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM "{{.SupportRole}}";
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM "{{.SupportRole}}";
REVOKE CREATE ON SCHEMA public FROM "{{.SupportRole}}";
GRANT USAGE ON SCHEMA public TO "{{.SupportRole}}";
GRANT EXECUTE ON FUNCTION public.tenantry_support_read(uuid, uuid, text, text, text) TO "{{.SupportRole}}";

-- The auditor role: reads every tenant's audit chain and nothing else (no
-- documents, chunks, grants or security events; no writes; no functions).
-- `tenantry audit verify|anchor|export` and the scheduled anchoring task can
-- log in with it instead of the owner, so the credential they hold cannot
-- rewrite the chain it anchors.
DO $$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = '{{.AuditorRole}}') THEN
		CREATE ROLE "{{.AuditorRole}}" NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
	END IF;
	EXECUTE pg_catalog.format('REVOKE TEMPORARY, CREATE ON DATABASE %I FROM %I', pg_catalog.current_database(), '{{.AuditorRole}}');
	EXECUTE pg_catalog.format('GRANT CONNECT ON DATABASE %I TO %I', pg_catalog.current_database(), '{{.AuditorRole}}');
END $$;
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM "{{.AuditorRole}}";
REVOKE CREATE ON SCHEMA public FROM "{{.AuditorRole}}";
GRANT USAGE ON SCHEMA public TO "{{.AuditorRole}}";
GRANT SELECT ON public.audit_events, public.audit_heads TO "{{.AuditorRole}}";
CREATE POLICY auditor_read ON public.audit_events FOR SELECT TO "{{.AuditorRole}}" USING (true);
CREATE POLICY auditor_read ON public.audit_heads FOR SELECT TO "{{.AuditorRole}}" USING (true);
