-- The transparency log: an RFC 9162 Merkle tree over the settled global order, and its signed
-- tree heads. Written only by the checkpoint maker (one at a time, an advisory lock), from
-- settled rows in cursor order: the transition's own transaction does not touch these tables.

-- Leaf i of the tree is the row at this cursor; leaf_hash = SHA-256(0x00 || the row's hash),
-- the tree's level 0. Rows written before the upgrade become leaves too, in cursor order, the
-- first time the tree is extended.
CREATE TABLE audit_tree_leaves (
    leaf_index  bigint PRIMARY KEY,
    cursor_xid  xid8 NOT NULL,
    cursor_id   bigint NOT NULL,
    leaf_hash   bytea NOT NULL CHECK (length(leaf_hash) = 32),
    UNIQUE (cursor_xid, cursor_id)
);

-- The hash of the perfect subtrees at levels 4, 8, 12, ... (merkle.STRIDE): (level, idx) covers
-- leaves [idx * 2^level, (idx + 1) * 2^level). Every root and proof is folded from these and
-- the leaf hashes (mfa_flow/merkle.py), about 1.07 stored hashes per row. Kept, with the
-- leaves, through a retention purge, so proofs for the rows that remain stay complete.
CREATE TABLE audit_tree_nodes (
    level  smallint NOT NULL,
    idx    bigint NOT NULL,
    hash   bytea NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (level, idx)
);

-- Signed tree heads: the C2SP tlog-checkpoint text signed as a C2SP signed note (Ed25519).
CREATE TABLE audit_tree_heads (
    id            bigserial PRIMARY KEY,
    tree_size     bigint NOT NULL,
    root          bytea NOT NULL,
    note          text NOT NULL,
    verifier_key  text NOT NULL,
    at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_tree_heads_size ON audit_tree_heads (tree_size);
