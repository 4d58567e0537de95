-- A transition between two open states changes no indexed column of flows, so PostgreSQL writes
-- it as a HOT update: no new entry in any of the table's four indexes, and the old version is
-- pruned from its page by the next reader, without VACUUM. The expiry sweep's index used to have
-- `state` in its predicate, which made every change of state a new entry in every index.
--
-- `open_until` is the deadline of an open flow and NULL once it is finished: it changes once in
-- a flow's life (when it finishes), where `state` changes at nearly every step. The index over
-- it holds the open flows only, as the old one did.
--
-- Pages are filled to 80 % so that the new version of a row fits beside the old one (a HOT
-- update needs room on the same page). Adding a stored generated column rewrites the table
-- once (a few seconds per million flows, the table locked meanwhile).
ALTER TABLE flows SET (fillfactor = 80);
ALTER TABLE flows ADD COLUMN open_until timestamptz GENERATED ALWAYS AS (
    CASE WHEN state IN ('done', 'failed', 'expired', 'cancelled') THEN NULL ELSE expires_at END
) STORED;
CREATE INDEX flows_open_until ON flows (open_until) WHERE open_until IS NOT NULL;
DROP INDEX flows_to_expire;
