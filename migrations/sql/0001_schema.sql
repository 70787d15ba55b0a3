-- tenantry schema v1: tenant tables with FORCED row level security, the audit
-- chain, the job ledger and security events. Rendered with text/template:
-- {{.Dims}} (embedding dimension), {{.WorkerRole}} (the worker's login role).
-- Runs as the owner role (owns every table; never used by the worker).

-- The session tenant. A missing, empty or malformed setting is an ERROR, not
-- an empty result: RLS policies call this once per statement (InitPlan).
CREATE FUNCTION tenantry_current_tenant() RETURNS uuid
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
	v text := current_setting('tenantry.tenant_id', true);
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

CREATE TABLE tenants (
	tenant_id  uuid PRIMARY KEY,
	created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE documents (
	tenant_id    uuid        NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
	document_id  text        NOT NULL CHECK (length(document_id) BETWEEN 1 AND 256),
	source_uri   text        NOT NULL,
	version      text        NOT NULL, -- content hash of the raw bytes ("sha256:<hex>")
	status       text        NOT NULL CHECK (status IN ('processing', 'ready', 'failed')),
	size_bytes   bigint      NOT NULL DEFAULT 0,
	media_type   text        NOT NULL DEFAULT '',
	filename     text        NOT NULL DEFAULT '',
	chunk_count  integer     NOT NULL DEFAULT 0,
	model        text        NOT NULL DEFAULT '',
	sequencer    text        NOT NULL DEFAULT '', -- newest S3 event sequencer applied
	error        text        NOT NULL DEFAULT '', -- reason code, never document text
	created_at   timestamptz NOT NULL DEFAULT now(),
	updated_at   timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, document_id)
);

CREATE TABLE chunks (
	tenant_id    uuid        NOT NULL,
	document_id  text        NOT NULL,
	version      text        NOT NULL,
	ordinal      integer     NOT NULL CHECK (ordinal >= 0),
	text         text        NOT NULL,
	token_count  integer     NOT NULL,
	char_start   integer     NOT NULL,
	char_end     integer     NOT NULL,
	page         integer     NOT NULL DEFAULT 0,
	embedding    vector({{.Dims}}) NOT NULL,
	model        text        NOT NULL,
	content_hash text        NOT NULL,
	PRIMARY KEY (tenant_id, document_id, version, ordinal),
	FOREIGN KEY (tenant_id, document_id) REFERENCES documents (tenant_id, document_id) ON DELETE CASCADE,
	CHECK (char_start >= 0 AND char_end > char_start)
);
CREATE INDEX chunks_embedding_hnsw ON chunks USING hnsw (embedding vector_cosine_ops);

-- The job ledger: one row per effect key (e.g. "ingest:<doc>:<version>").
CREATE TABLE jobs (
	tenant_id   uuid        NOT NULL,
	job_key     text        NOT NULL,
	kind        text        NOT NULL,
	status      text        NOT NULL CHECK (status IN ('running', 'done', 'failed')),
	attempts    integer     NOT NULL DEFAULT 1,
	message_id  text        NOT NULL DEFAULT '',
	error       text        NOT NULL DEFAULT '',
	created_at  timestamptz NOT NULL DEFAULT now(),
	updated_at  timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, job_key)
);

-- Hash-chained audit log, written only by tenantry_audit().
CREATE TABLE audit_events (
	tenant_id    uuid        NOT NULL,
	seq          bigint      NOT NULL CHECK (seq > 0),
	occurred_at  timestamptz NOT NULL,
	actor        text        NOT NULL,
	job_id       text        NOT NULL,
	action       text        NOT NULL,
	resource     text        NOT NULL,
	payload_hash text        NOT NULL,
	detail       text        NOT NULL,
	prev_hash    bytea       NOT NULL,
	hash         bytea       NOT NULL,
	PRIMARY KEY (tenant_id, seq)
);

-- The head of each tenant's chain; its row lock serialises appends per tenant.
CREATE TABLE audit_heads (
	tenant_id uuid   PRIMARY KEY,
	seq       bigint NOT NULL,
	hash      bytea  NOT NULL
);

-- Rejected envelopes. Not tenant-scoped (the tenant was not verified); the
-- worker may insert but not read.
CREATE TABLE security_events (
	id             bigserial   PRIMARY KEY,
	occurred_at    timestamptz NOT NULL DEFAULT now(),
	reason         text        NOT NULL,
	source         text        NOT NULL,
	message_id     text        NOT NULL DEFAULT '',
	claimed_tenant text        NOT NULL DEFAULT '',
	resource       text        NOT NULL DEFAULT '',
	detail         text        NOT NULL DEFAULT ''
);

-- Row level security on every tenant table, forced for the owner too.
-- (SELECT tenantry_current_tenant()) is an InitPlan: evaluated once per statement.
DO $$
DECLARE
	t text;
BEGIN
	FOREACH t IN ARRAY ARRAY['tenants', 'documents', 'chunks', 'jobs', 'audit_events', 'audit_heads'] LOOP
		EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
		EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
		EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = (SELECT tenantry_current_tenant())) '
			'WITH CHECK (tenant_id = (SELECT tenantry_current_tenant()))', t);
	END LOOP;
	-- The owner (operators' audit verify/export) may read every tenant's chain.
	EXECUTE format('CREATE POLICY owner_audit_read ON audit_events FOR SELECT TO %I USING (true)', current_user);
	EXECUTE format('CREATE POLICY owner_audit_read ON audit_heads FOR SELECT TO %I USING (true)', current_user);
END $$;

-- Canonical hash of one audit row: every field length-prefixed (no separator
-- ambiguity), timestamps in UTC with microseconds. internal/audit recomputes it
-- in Go; the two must agree byte for byte.
CREATE FUNCTION tenantry_audit_hash(p_tenant uuid, p_seq bigint, p_prev bytea, p_at timestamptz,
	p_actor text, p_job text, p_action text, p_resource text, p_payload_hash text, p_detail text)
RETURNS bytea LANGUAGE sql STABLE AS $$
	SELECT sha256(convert_to(concat(
		'tenantry-audit-v1', chr(10),
		octet_length(p_tenant::text), ':', p_tenant::text, chr(10),
		octet_length(p_seq::text), ':', p_seq::text, chr(10),
		octet_length(encode(p_prev, 'hex')), ':', encode(p_prev, 'hex'), chr(10),
		octet_length(to_char(p_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')), ':',
			to_char(p_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), chr(10),
		octet_length(p_actor), ':', p_actor, chr(10),
		octet_length(p_job), ':', p_job, chr(10),
		octet_length(p_action), ':', p_action, chr(10),
		octet_length(p_resource), ':', p_resource, chr(10),
		octet_length(p_payload_hash), ':', p_payload_hash, chr(10),
		octet_length(p_detail), ':', p_detail, chr(10)), 'UTF8'))
$$;

-- Appends one audit row for the SESSION tenant (never a parameter), chained to
-- the tenant's previous row. SECURITY DEFINER so the worker needs no INSERT
-- grant on audit_events; FORCE RLS still applies to the definer (the owner).
-- search_path ends with pg_temp so a caller's temporary objects can never
-- stand in for these tables (0002 also schema-qualifies every name, and
-- re-creates the function on databases migrated before this line was fixed).
CREATE FUNCTION tenantry_audit(p_action text, p_resource text, p_payload_hash text, p_detail text DEFAULT '')
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
	t    uuid := tenantry_current_tenant();
	a    text := coalesce(current_setting('tenantry.actor', true), '');
	j    text := coalesce(current_setting('tenantry.job_id', true), '');
	at   timestamptz := date_trunc('microseconds', clock_timestamp());
	s    bigint;
	prev bytea;
	h    bytea;
BEGIN
	IF p_action IS NULL OR p_action !~ '^[a-z][a-z0-9_.]{0,63}$' THEN
		RAISE EXCEPTION 'tenantry_audit: invalid action' USING ERRCODE = '22023';
	END IF;
	INSERT INTO audit_heads (tenant_id, seq, hash) VALUES (t, 0, decode(repeat('00', 32), 'hex'))
		ON CONFLICT (tenant_id) DO NOTHING;
	SELECT ah.seq, ah.hash INTO s, prev FROM audit_heads ah WHERE ah.tenant_id = t FOR UPDATE;
	s := s + 1;
	h := tenantry_audit_hash(t, s, prev, at, a, j, p_action, coalesce(p_resource, ''),
		coalesce(p_payload_hash, ''), coalesce(p_detail, ''));
	INSERT INTO audit_events (tenant_id, seq, occurred_at, actor, job_id, action, resource, payload_hash, detail, prev_hash, hash)
		VALUES (t, s, at, a, j, p_action, coalesce(p_resource, ''), coalesce(p_payload_hash, ''), coalesce(p_detail, ''), prev, h);
	UPDATE audit_heads SET seq = s, hash = h WHERE tenant_id = t;
	RETURN s;
END $$;

-- The worker role: login, not owner, not superuser, no BYPASSRLS, no
-- inheritance from the owner; only the grants it needs.
DO $$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{{.WorkerRole}}') THEN
		CREATE ROLE "{{.WorkerRole}}" NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
	END IF;
END $$;
REVOKE ALL ON FUNCTION tenantry_audit(text, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenantry_audit(text, text, text, text) TO "{{.WorkerRole}}";
GRANT EXECUTE ON FUNCTION tenantry_current_tenant() TO "{{.WorkerRole}}";
GRANT USAGE ON SCHEMA public TO "{{.WorkerRole}}";
GRANT SELECT, INSERT ON tenants TO "{{.WorkerRole}}";
GRANT SELECT, INSERT, UPDATE, DELETE ON documents, chunks, jobs TO "{{.WorkerRole}}";
GRANT SELECT ON audit_events TO "{{.WorkerRole}}";
GRANT INSERT ON security_events TO "{{.WorkerRole}}";
GRANT USAGE ON SEQUENCE security_events_id_seq TO "{{.WorkerRole}}";
