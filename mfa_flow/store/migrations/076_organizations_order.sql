-- The organisations' list is in creation order (created_at, then id: UUID v7 ids order by the
-- millisecond only, and two made within one are in no order of their own); its keyset pages walk
-- this index.
CREATE INDEX organizations_created ON organizations (created_at, id);
