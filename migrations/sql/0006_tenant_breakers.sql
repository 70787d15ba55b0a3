-- tenantry schema v6: one tenant can't hurt the others (internal/breaker,
-- internal/tenantlimits).
--
-- tenant_breakers: each tenant's circuit breaker, shared by every worker
-- (closed / open / half_open, why, by whom, the failure window and the
-- last failures). parked_messages: the verified messages of a tenant whose
-- breaker is open, kept in arrival order until they are released back into
-- the queue (committed before the SQS message is deleted; never dropped).
-- tenant_limits: each tenant's dispatch weight, concurrency cap and
-- provider budgets, read by every worker.
--
-- All three are tenant tables: tenant_id NOT NULL, ENABLE + FORCE RLS, a
-- USING + WITH CHECK policy on the session tenant. The worker reads and
-- writes only its scoped tenant's rows; two SECURITY DEFINER functions let
-- it find which tenants have work to release (ids and states only) and read
-- a parked message back (the bytes it once received from the queue; the
-- releaser re-verifies them through the gate before anything runs).

CREATE TABLE public.tenant_breakers (
	tenant_id            uuid        PRIMARY KEY,
	state                text        NOT NULL DEFAULT 'closed' CHECK (state IN ('closed', 'open', 'half_open')),
	-- paused by an operator: stays open until resumed (no automatic trial)
	manual               boolean     NOT NULL DEFAULT false,
	reason               text        NOT NULL DEFAULT '' CHECK (length(reason) <= 256),
	actor                text        NOT NULL DEFAULT '' CHECK (length(actor) <= 256),
	changed_at           timestamptz NOT NULL DEFAULT now(),
	-- open (automatic): a trial may run from then on
	retry_at             timestamptz,
	-- half_open: the job id of the one trial in flight, and until when it holds the claim
	trial_job            text        NOT NULL DEFAULT '',
	trial_until          timestamptz,
	-- a worker's lease on releasing this tenant's parked messages (which
	-- worker: it renews its own lease at every pass)
	release_until        timestamptz,
	release_owner        text        NOT NULL DEFAULT '' CHECK (length(release_owner) <= 64),
	window_start         timestamptz NOT NULL DEFAULT now(),
	window_total         integer     NOT NULL DEFAULT 0,
	window_failures      integer     NOT NULL DEFAULT 0,
	consecutive_failures integer     NOT NULL DEFAULT 0,
	-- the last few failures: [{"at": ..., "reason": ..., "job_id": ...}], reason codes only
	last_failures        jsonb       NOT NULL DEFAULT '[]'
);

CREATE TABLE public.parked_messages (
	tenant_id  uuid        NOT NULL,
	seq        bigint      GENERATED ALWAYS AS IDENTITY,
	message_id text        NOT NULL CHECK (length(message_id) BETWEEN 1 AND 256),
	body       text        NOT NULL,
	attributes jsonb       NOT NULL DEFAULT '{}',
	reason     text        NOT NULL DEFAULT '' CHECK (length(reason) <= 256),
	parked_at  timestamptz NOT NULL DEFAULT now(),
	-- set when the releaser could not verify the message as this tenant's
	-- (a reason code): kept for operators, never released, never dropped
	refused    text        NOT NULL DEFAULT '' CHECK (length(refused) <= 64),
	PRIMARY KEY (tenant_id, seq),
	-- a redelivery of a message parked before (a kill between commit and
	-- SQS delete) is parked once
	UNIQUE (tenant_id, message_id)
);

CREATE TABLE public.tenant_limits (
	tenant_id       uuid        PRIMARY KEY,
	weight          integer     NOT NULL DEFAULT 1 CHECK (weight BETWEEN 1 AND 1000),
	-- 0: only the global limit applies
	max_concurrency integer     NOT NULL DEFAULT 0 CHECK (max_concurrency >= 0),
	requests_per_minute integer NOT NULL DEFAULT 0 CHECK (requests_per_minute >= 0),
	tokens_per_minute   integer NOT NULL DEFAULT 0 CHECK (tokens_per_minute >= 0),
	actor           text        NOT NULL DEFAULT '' CHECK (length(actor) <= 256),
	updated_at      timestamptz NOT NULL DEFAULT now()
);

DO $$
DECLARE
	t text;
BEGIN
	FOREACH t IN ARRAY ARRAY['tenant_breakers', 'parked_messages', 'tenant_limits'] LOOP
		EXECUTE format('ALTER TABLE public.%I ENABLE ROW LEVEL SECURITY', t);
		EXECUTE format('ALTER TABLE public.%I FORCE ROW LEVEL SECURITY', t);
		EXECUTE format('CREATE POLICY tenant_isolation ON public.%I USING (tenant_id = (SELECT public.tenantry_current_tenant())) '
			'WITH CHECK (tenant_id = (SELECT public.tenantry_current_tenant()))', t);
		-- Operators (the owner role: `tenantry tenant status`) read every tenant's row.
		EXECUTE format('CREATE POLICY owner_read ON public.%I FOR SELECT TO %I USING (true)', t, current_user);
	END LOOP;
END $$;

-- The owner may move any tenant's breaker (the release lease and the
-- automatic half-open below run as the owner, through these functions).
CREATE POLICY owner_lease ON public.tenant_breakers FOR UPDATE TO CURRENT_USER USING (true) WITH CHECK (true);
CREATE POLICY owner_refuse ON public.parked_messages FOR UPDATE TO CURRENT_USER USING (true) WITH CHECK (true);

-- The tenants whose parked messages may be released now, with a release
-- lease taken for the caller (one releaser per tenant at a time): closed
-- breakers with parked messages, and half-open ones whose trial is not in
-- flight. Open automatic breakers whose retry time has come turn half-open
-- here first. Returns ids and states only, never a message.
CREATE FUNCTION public.tenantry_breaker_due(p_lease interval, p_owner text)
RETURNS TABLE (tenant_id uuid, state text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
	t uuid;
	s text;
BEGIN
	IF p_lease IS NULL OR p_lease <= interval '0' OR p_lease > interval '1 hour' THEN
		RAISE EXCEPTION 'tenantry_breaker_due: lease out of range' USING ERRCODE = '22023';
	END IF;
	IF p_owner IS NULL OR p_owner !~ '^[a-z0-9-]{1,64}$' THEN
		RAISE EXCEPTION 'tenantry_breaker_due: invalid owner' USING ERRCODE = '22023';
	END IF;
	FOR t IN SELECT DISTINCT pm.tenant_id FROM public.parked_messages pm ORDER BY 1 LOOP
		UPDATE public.tenant_breakers b SET state = 'half_open', trial_job = '', trial_until = NULL,
			changed_at = pg_catalog.now()
			WHERE b.tenant_id = t AND b.state = 'open' AND NOT b.manual AND b.retry_at <= pg_catalog.now();
		UPDATE public.tenant_breakers b SET release_until = pg_catalog.now() + p_lease, release_owner = p_owner
			WHERE b.tenant_id = t
			  AND (b.release_until IS NULL OR b.release_until < pg_catalog.now() OR b.release_owner = p_owner)
			  AND (b.state = 'closed' OR (b.state = 'half_open' AND (b.trial_job = '' OR b.trial_until < pg_catalog.now())))
			RETURNING b.state INTO s;
		IF FOUND THEN
			tenant_id := t;
			state := s;
			RETURN NEXT;
		END IF;
	END LOOP;
END $$;

-- A tenant's oldest parked messages, for the releaser holding its lease. The
-- worker received exactly these bytes from the queue before; the releaser
-- re-verifies them through the gate and deletes a row only under the scope
-- that verification minted (so only as the tenant the row belongs to).
CREATE FUNCTION public.tenantry_parked_peek(p_tenant uuid, p_limit integer)
RETURNS TABLE (seq bigint, message_id text, body text, attributes jsonb, reason text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
	SELECT pm.seq, pm.message_id, pm.body, pm.attributes, pm.reason FROM public.parked_messages pm
	WHERE pm.tenant_id = p_tenant AND pm.refused = '' ORDER BY pm.seq LIMIT LEAST(GREATEST(p_limit, 0), 100)
$$;

-- Marks a parked message the releaser could not verify as its tenant's
-- (another tenant's envelope filed under this one, an envelope expired or
-- revoked while parked, an object gone): it stays, for operators, and is
-- never released. Changes nothing but the reason code.
CREATE FUNCTION public.tenantry_parked_refuse(p_tenant uuid, p_seq bigint, p_reason text)
RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
	IF p_reason IS NULL OR p_reason !~ '^[a-z][a-z0-9_.-]{0,63}$' THEN
		RAISE EXCEPTION 'tenantry_parked_refuse: invalid reason' USING ERRCODE = '22023';
	END IF;
	UPDATE public.parked_messages pm SET refused = p_reason WHERE pm.tenant_id = p_tenant AND pm.seq = p_seq AND pm.refused = '';
	RETURN FOUND;
END $$;

REVOKE ALL ON FUNCTION public.tenantry_breaker_due(interval, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION public.tenantry_parked_peek(uuid, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION public.tenantry_parked_refuse(uuid, bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.tenantry_parked_refuse(uuid, bigint, text) TO "{{.WorkerRole}}";
GRANT EXECUTE ON FUNCTION public.tenantry_breaker_due(interval, text) TO "{{.WorkerRole}}";
GRANT EXECUTE ON FUNCTION public.tenantry_parked_peek(uuid, integer) TO "{{.WorkerRole}}";
GRANT SELECT, INSERT, UPDATE ON public.tenant_breakers TO "{{.WorkerRole}}";
GRANT SELECT, INSERT, DELETE ON public.parked_messages TO "{{.WorkerRole}}";
GRANT SELECT ON public.tenant_limits TO "{{.WorkerRole}}";
