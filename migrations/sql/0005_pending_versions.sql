-- Pending versions: a large document is written in batches, each its own
-- short transaction, into chunks under its new version while the document
-- row still names the version search sees (retrieval joins chunks to
-- documents on version, and only ready documents): the batches are
-- invisible until one short transaction flips the row to the new version,
-- removes the old version's chunks and appends the audit row.
--
-- pending_version: the version whose chunks are being written ('' when
--   none). A retry of the same version with the same pending_key resumes
--   (keeps the chunks already stored); any other claim discards them.
-- pending_key: what the stored chunks depend on besides the bytes (the
--   embedding model, the chunking, the build): a retry that would cut or
--   embed differently starts over instead of mixing.
-- pending_token: the attempt that holds the pending version (random per
--   attempt). A batch is written only while its attempt still holds it, so
--   two deliveries of one message never write the same chunks twice.
-- No new grant: the worker already has UPDATE on documents (RLS still
-- scopes every row).
ALTER TABLE documents
	ADD COLUMN pending_version text NOT NULL DEFAULT '',
	ADD COLUMN pending_key     text NOT NULL DEFAULT '',
	ADD COLUMN pending_token   text NOT NULL DEFAULT '';
