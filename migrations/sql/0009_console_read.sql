-- tenantry schema v9: the operator console's read-only view of document
-- metadata across tenants (tenantry console, internal/console).
--
-- The console reads as the owner role, like `tenantry audit verify`
-- (policy owner_audit_read): these policies are FOR SELECT only, so FORCE
-- ROW LEVEL SECURITY still refuses the owner every write outside a tenant
-- scope. Nothing here exposes chunks: chunk text stays behind the tenant
-- policy, and the console counts chunks from documents.chunk_count.
-- console_documents names the only columns the console may show (metadata,
-- never text); it runs with the caller's rights (security_invoker), so the
-- worker role, which has no grant on it, gets nothing, and RLS applies.

DO $$
BEGIN
	EXECUTE pg_catalog.format('CREATE POLICY owner_console_read ON public.documents FOR SELECT TO %I USING (true)', current_user);
	EXECUTE pg_catalog.format('CREATE POLICY owner_console_read ON public.tenants FOR SELECT TO %I USING (true)', current_user);
END $$;

CREATE VIEW public.console_documents WITH (security_invoker = true) AS
	SELECT tenant_id, document_id, version, status, size_bytes, media_type, chunk_count, error, updated_at
	FROM public.documents;
REVOKE ALL ON public.console_documents FROM PUBLIC;
