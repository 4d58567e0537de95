-- Sends to third parties hold no database connection (issue 21): a sender claims a message
-- with a lease and commits, talks to the SMTP server or the webhook endpoint with no
-- connection held, then records the outcome in a new transaction. Until the lease ends
-- nobody else sends the message; if the sender dies before it records, the message is sent
-- again once the lease ends (at least once; the same Message-ID or webhook-id each time).
-- A lease is its end: the outcome is recorded only by the sender whose lease it still is.
ALTER TABLE code_deliveries ADD COLUMN sending_until timestamptz;
ALTER TABLE webhook_deliveries ADD COLUMN leased_until timestamptz;
