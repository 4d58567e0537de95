"""The audit trail: pure checks (verify.py), the database side (feed.py), checkpoints."""
