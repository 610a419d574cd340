"""Shared torch machinery for the iteratively trained kinds.

Imported only when such a kind is fitted: torch never loads on the query path.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..extras import require
from .kinds import FitContext
from .maps import Map


def require_torch() -> Any:
    return require("torch")


def resolve_device(device: str) -> str:
    """'auto' means the GPU when one is present, the CPU otherwise."""
    torch = require_torch()
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def map_loss(torch: Any, pred: Any, target: Any) -> Any:
    """Squared error plus cosine distance: position and direction both matter for search."""
    mse = ((pred - target) ** 2).sum(dim=1).mean()
    cos = 1.0 - torch.nn.functional.cosine_similarity(pred, target, dim=1).mean()
    return mse + cos


def train_with_early_stopping(
    *,
    params: list[Any],
    loss_fn: Callable[[Any], Any],
    snapshot: Callable[[], Map],
    new: np.ndarray,
    val: tuple[np.ndarray, np.ndarray] | None,
    ctx: FitContext,
    epochs: int,
    batch_size: int,
    lr: float,
    patience: int,
    label: str,
    fixed_epochs: int | None = None,
) -> tuple[Map, int]:
    """Adam over shuffled mini-batches; keeps the snapshot with the best held-out retrieval.

    ``loss_fn(batch_indices)`` returns the loss of one batch. With ``val`` absent it runs
    ``fixed_epochs`` epochs (the refit on all pairs after the epoch count was chosen).
    Returns the best map and the epoch it came from.
    """
    torch = require_torch()
    generator = torch.Generator().manual_seed(ctx.seed)
    optimizer = torch.optim.Adam(params, lr=lr)
    n = len(new)
    best_map = snapshot()
    best_epoch = 0
    best_score = ctx.selection_score(best_map, *val) if val is not None else -np.inf
    stale = 0
    total = fixed_epochs if val is None else epochs
    for epoch in range(1, (total or 0) + 1):
        order = torch.randperm(n, generator=generator)
        for start in range(0, n, batch_size):
            loss = loss_fn(order[start : start + batch_size])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        if val is None:
            continue
        candidate = snapshot()
        score = ctx.selection_score(candidate, *val)
        ctx.log(f"{label}: epoch {epoch} held-out score {score:.4f}")
        if score > best_score + 1e-4:
            best_map, best_score, best_epoch, stale = candidate, score, epoch, 0
        else:
            stale += 1
            if stale >= patience:
                break
    if val is None:
        return snapshot(), total or 0
    return best_map, best_epoch
