"""Webhooks: messages (from domain events), signatures, the retry policy and address checks."""
