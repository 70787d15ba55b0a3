-- Who claimed a document that is `processing`: the job id of the claiming
-- scope (an envelope's jti, the same on every delivery and replay of one
-- message). When a message ends without success (dead-lettered after a
-- timeout, a kill, or its last receive), the worker marks the document
-- failed only if that message's job still holds the claim: a newer upload
-- being processed by another message is left alone. No new grant: the worker
-- already has UPDATE on documents (RLS still scopes every row).
ALTER TABLE documents ADD COLUMN claimed_by text NOT NULL DEFAULT '';
