"""Serving during a migration: the wrapper shells (sync and async) over one sans-I/O core.

``client`` holds the two shells; ``queries``, ``batching`` and ``writes`` the routed call
paths; ``router`` picks a plan; ``merge`` ranks both sides on one scale; ``hits`` and
``shadow`` are the signals replicas send back through the state collection.
"""
