"""Benchmarks, the README demo, retrieval evaluation and fault injection.

Off the runtime import path: nothing in :mod:`qdrant_drift` imports this package; the CLI's
``bench`` and ``demo`` commands load it when they run. It needs the ``bench`` extra
(faiss-cpu for exact search).
"""
