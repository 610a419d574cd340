"""The state collection in Qdrant: migration records, adapter blobs, backfill bookkeeping.

Each module reads and writes one kind of record as sans-I/O steps; nothing here decides
policy.
"""
