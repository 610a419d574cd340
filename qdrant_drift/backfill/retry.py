"""Retrying Qdrant calls on transient faults (tenacity), failing fast on permanent ones.

Transient: connection errors, timeouts, HTTP 5xx and 429 (waiting at least its Retry-After),
gRPC UNAVAILABLE / DEADLINE_EXCEEDED / RESOURCE_EXHAUSTED / ABORTED. Anything else (a wrong
vector name, a bad request) is a bug or a misconfiguration: retrying would only hide it.
Retrying a backfill call is safe because every backfill write is conditional (idempotent).
"""

from __future__ import annotations

from typing import Any, Callable

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from ..errors import QdrantFault, TransientFaultsExhausted, classify


def is_transient(exc: BaseException) -> bool:
    """Worth retrying (see :func:`qdrant_drift.errors.classify`)."""
    return classify(exc) is QdrantFault.TRANSIENT


def retry_after(exc: BaseException) -> float | None:
    """Seconds a 429/503 asked us to wait (the Retry-After header), if any."""
    headers = getattr(exc, "headers", None)
    value = None
    if headers is not None:
        try:
            value = headers.get("retry-after") or headers.get("Retry-After")
        except AttributeError:
            value = None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class WaitRetryAfter:
    """Exponential backoff with jitter, but never less than the server's Retry-After."""

    def __init__(self, initial: float = 0.05, max_wait: float = 10.0) -> None:
        self.backoff = wait_exponential(multiplier=initial, max=max_wait) + wait_random(0, initial)
        self.max_wait = max_wait

    def __call__(self, state: RetryCallState) -> float:
        wait = self.backoff(state)
        exc = state.outcome.exception() if state.outcome else None
        asked = retry_after(exc) if exc is not None else None
        return min(self.max_wait * 6, max(wait, asked)) if asked is not None else wait


class RetryingClient:
    """Proxy: every method call of the wrapped client is retried on transient faults."""

    def __init__(self, client: Any, *, max_attempts: int = 8, max_wait: float = 10.0,
                 on_retry: Callable[[BaseException], None] | None = None) -> None:
        self._client = client
        self._max_attempts, self._max_wait, self._on_retry = max_attempts, max_wait, on_retry

    def _retrying(self) -> Retrying:
        def before_sleep(state: RetryCallState) -> None:
            if self._on_retry and state.outcome is not None:
                self._on_retry(state.outcome.exception())

        return Retrying(retry=retry_if_exception(is_transient),
                        stop=stop_after_attempt(self._max_attempts),
                        wait=WaitRetryAfter(max_wait=self._max_wait),
                        before_sleep=before_sleep, reraise=True)

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._client, name)
        if not callable(target):
            return target

        def retried(*args: Any, **kwargs: Any) -> Any:
            try:
                return self._retrying()(target, *args, **kwargs)
            except Exception as exc:
                if is_transient(exc):
                    raise TransientFaultsExhausted(
                        f"{name} still failing after {self._max_attempts} attempts with "
                        f"transient faults, last: {exc!r}") from exc
                raise

        return retried
