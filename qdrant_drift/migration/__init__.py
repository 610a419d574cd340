"""What a migration is: its spec, its phases and the moves between them, its layout.

Pure data and rules, no I/O: every other layer (serving, store, backfill, lifecycle) reads
these and none redefines them.
"""
