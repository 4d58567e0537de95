-- Webhook retention: the worker deletes messages whose deliveries all ended (succeeded or
-- failed) longer ago than MFA_FLOW_WEBHOOK_RETENTION_DAYS; it looks for them from the oldest.
CREATE INDEX webhook_messages_occurred ON webhook_messages (occurred_at);
