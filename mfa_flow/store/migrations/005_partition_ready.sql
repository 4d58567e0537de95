-- Ready for partitioning flows and their log by flow id (Citus, or native hash partitions).
--
-- A partitioned or distributed table can only enforce keys that contain the partition column.
-- `flows` already has it (id). The transition log's key becomes (flow_id, seq), which it
-- already had as UNIQUE; `id` stays the global cursor, still filled from its sequence (so
-- still unique), and keeps an index for the cursor's range scans. Nothing reads by `id`
-- alone on the hot path.
ALTER TABLE transitions DROP CONSTRAINT transitions_pkey;
ALTER TABLE transitions DROP CONSTRAINT transitions_flow_id_seq_key;
ALTER TABLE transitions ADD CONSTRAINT transitions_pkey PRIMARY KEY (flow_id, seq);
CREATE INDEX transitions_cursor ON transitions (id);
