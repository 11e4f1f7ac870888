"""Recalls: the recall record, its customers and notices, and the hold on recalled stock."""

from engine.recall import holds  # noqa: F401  (connects the hold to the ledger's postings)
