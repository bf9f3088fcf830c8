"""Idempotency keys: a retried POST gets the first attempt's response, not a second effect."""
