-- tenantry schema v3: retrieval. Per-document metadata attributes (S3 object
-- metadata and the Bedrock Knowledge Bases sidecar <file>.metadata.json),
-- indexed for the search filter language (internal/retrieval), and full-text
-- indexes for hybrid ranking. Runs as the owner role.

-- Attributes are a flat JSON object: key -> string | number | boolean | list
-- of strings. internal/retrieval compiles filters against this column; the
-- GIN index serves equals/in (containment), the planner's per-tenant count
-- of matching documents decides exact versus HNSW.
ALTER TABLE documents
	ADD COLUMN attributes jsonb NOT NULL DEFAULT '{}'::jsonb,
	ADD CONSTRAINT documents_attributes_object CHECK (jsonb_typeof(attributes) = 'object'),
	ADD CONSTRAINT documents_attributes_size CHECK (pg_column_size(attributes) <= 65536);
CREATE INDEX documents_attributes_gin ON documents USING gin (attributes jsonb_path_ops);

-- Full-text search. The query names its text search configuration as a
-- literal from an allowlist (never a parameter), so it matches one of these
-- expression indexes. Other configurations still work, without an index
-- (an exact scan of the tenant's rows).
CREATE INDEX chunks_fts_english ON chunks USING gin (to_tsvector('english'::regconfig, text));
CREATE INDEX chunks_fts_simple ON chunks USING gin (to_tsvector('simple'::regconfig, text));

-- Keep embeddings inline. A 1024-d vector (4 KB) is above the default toast
-- threshold (~2 KB), so it was moved out of line and every exact-scan row
-- cost a TOAST fetch (~13 us per row measured on 1024-d, vs ~1 us inline).
-- MAIN lets the toaster move the chunk text out first; toast_tuple_target
-- 8160 keeps rows up to one page untoasted. Applies to rows written from now
-- on; existing rows keep their storage until rewritten (see docs/search.md).
ALTER TABLE chunks ALTER COLUMN embedding SET STORAGE MAIN;
ALTER TABLE chunks SET (toast_tuple_target = 8160);

-- The HNSW graph with ef_construction 128 (pgvector's default is 64): make
-- bench measured the index's own recall@10 at ef_search 200 at 0.99 on
-- 100,000 1024-d rows with 128, and a tenant's recall below 0.96 with 64.
-- Rebuilt here only while the table is small (a fresh install, a small
-- deployment); a large table keeps its index and the operator rebuilds it
-- off-line (docs/search.md: CREATE INDEX CONCURRENTLY, then swap).
DO $$
BEGIN
	IF (SELECT c.reltuples FROM pg_catalog.pg_class c WHERE c.oid = 'chunks'::regclass) <= 100000 THEN
		DROP INDEX chunks_embedding_hnsw;
		CREATE INDEX chunks_embedding_hnsw ON chunks USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 128);
	ELSE
		RAISE NOTICE 'tenantry: chunks is large; rebuild chunks_embedding_hnsw WITH (ef_construction = 128) off-line (docs/search.md)';
	END IF;
END $$;
