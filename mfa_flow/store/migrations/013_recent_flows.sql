-- The console's list of flows reads them newest first, a page at a time.
CREATE INDEX flows_recent ON flows (created_at DESC, id DESC);
