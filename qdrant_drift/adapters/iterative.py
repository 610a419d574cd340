"""Adapter kinds trained iteratively with torch (CPU by default, GPU when present)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, ClassVar, Sequence

import numpy as np

from .closed_form import Procrustes
from .kinds import FitContext, register, split_indices
from .maps import LinearMap, Map, ResidualMLPMap
from .training import map_loss, require_torch, resolve_device, train_with_early_stopping


def _tensor(torch: Any, array: np.ndarray, device: str) -> Any:
    return torch.tensor(np.ascontiguousarray(array, dtype=np.float32), device=device)


def _numpy(tensor: Any) -> np.ndarray:
    return tensor.detach().cpu().numpy().astype(np.float32)


def _orthogonality_gap(torch: Any, weight: Any) -> Any:
    """||W^T W - I||^2 / d on the smaller Gram matrix (W may be rectangular)."""
    gram = weight.T @ weight if weight.shape[0] >= weight.shape[1] else weight @ weight.T
    eye = torch.eye(gram.shape[0], device=weight.device)
    return ((gram - eye) ** 2).sum() / gram.shape[0]


@register
@dataclass
class LambdaOrthogonal:
    """Affine map with a soft orthogonality penalty lambda * ||W^T W - I||^2 (NeurIPS 2025).

    Interpolates between Procrustes (lambda -> inf) and free affine regression (lambda = 0);
    lambda is chosen on held-out pairs by retrieval quality.
    """

    lambdas: Sequence[float] = (0.01, 0.1, 1.0, 10.0)
    epochs: int = 30
    batch_size: int = 256
    lr: float = 1e-3
    patience: int = 4
    fixed_epochs: int | None = None  # set: train exactly this long, no selection

    name: ClassVar[str] = "lambda_orthogonal"
    needs_torch: ClassVar[bool] = True

    def min_pairs(self, new_dim: int, old_dim: int) -> int:
        return 50

    def _train(
        self, new: np.ndarray, old: np.ndarray, ctx: FitContext, lam: float,
        val: tuple[np.ndarray, np.ndarray] | None, fixed_epochs: int | None = None,
    ) -> tuple[Map, int]:
        torch = require_torch()
        device = resolve_device(ctx.device)
        start = Procrustes(center=True)(new, old, ctx)
        weight = torch.nn.Parameter(_tensor(torch, start.weight, device))
        bias = torch.nn.Parameter(_tensor(torch, start.bias, device))
        x, y = _tensor(torch, new, device), _tensor(torch, old, device)

        def loss_fn(batch: Any) -> Any:
            batch = batch.to(device)
            pred = x[batch] @ weight + bias
            return map_loss(torch, pred, y[batch]) + lam * _orthogonality_gap(torch, weight)

        return train_with_early_stopping(
            params=[weight, bias], loss_fn=loss_fn,
            snapshot=lambda: LinearMap(weight=_numpy(weight), bias=_numpy(bias)),
            new=new, val=val, ctx=ctx, epochs=self.epochs, batch_size=self.batch_size,
            lr=self.lr, patience=self.patience, label=f"{self.name}(lambda={lam:g})",
            fixed_epochs=fixed_epochs,
        )

    def __call__(self, new: np.ndarray, old: np.ndarray, ctx: FitContext) -> Map:
        if self.fixed_epochs is not None:
            return self._train(new, old, ctx, self.lambdas[0], None, self.fixed_epochs)[0]
        train, val = split_indices(len(new), 0.2, ctx.rng)
        held = (new[val], old[val])
        best: tuple[float, float, int] | None = None
        for lam in self.lambdas:
            fitted, epoch = self._train(new[train], old[train], ctx, lam, held)
            score = ctx.selection_score(fitted, *held)
            ctx.log(f"{self.name}: lambda={lam:g} best epoch {epoch} score {score:.4f}")
            if best is None or score > best[0]:
                best = (score, lam, epoch)
        assert best is not None
        self.selected = {"lambda": best[1], "epochs": best[2]}
        return self._train(new, old, ctx, best[1], None, fixed_epochs=best[2])[0]

    def frozen(self) -> "LambdaOrthogonal":
        return replace(self, lambdas=(self.selected["lambda"],),
                       fixed_epochs=self.selected["epochs"])


@register
@dataclass
class ResidualMLP:
    """Affine map plus a small ReLU MLP residual (Drift-Adapter's MLP), early-stopped on
    held-out retrieval. The residual's output layer starts at zero, so training begins from
    the Procrustes solution and only moves away from it while held-out retrieval improves."""

    hidden: int = 256
    epochs: int = 40
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 1e-4
    patience: int = 4
    fixed_epochs: int | None = None  # set: train exactly this long, no early stopping

    name: ClassVar[str] = "residual_mlp"
    needs_torch: ClassVar[bool] = True

    def min_pairs(self, new_dim: int, old_dim: int) -> int:
        return 100

    def _train(
        self, new: np.ndarray, old: np.ndarray, ctx: FitContext,
        val: tuple[np.ndarray, np.ndarray] | None, fixed_epochs: int | None = None,
    ) -> tuple[Map, int]:
        torch = require_torch()
        device = resolve_device(ctx.device)
        torch.manual_seed(ctx.seed)
        start = Procrustes(center=True)(new, old, ctx)
        weight = torch.nn.Parameter(_tensor(torch, start.weight, device))
        bias = torch.nn.Parameter(_tensor(torch, start.bias, device))
        hidden = torch.nn.Linear(new.shape[1], self.hidden).to(device)
        out = torch.nn.Linear(self.hidden, old.shape[1]).to(device)
        torch.nn.init.zeros_(out.weight)
        torch.nn.init.zeros_(out.bias)
        x, y = _tensor(torch, new, device), _tensor(torch, old, device)
        params = [weight, bias, *hidden.parameters(), *out.parameters()]

        def loss_fn(batch: Any) -> Any:
            xb = x[batch.to(device)]
            pred = xb @ weight + bias + out(torch.relu(hidden(xb)))
            decay = self.weight_decay * (hidden.weight.pow(2).sum() + out.weight.pow(2).sum())
            return map_loss(torch, pred, y[batch.to(device)]) + decay

        def snapshot() -> Map:
            return ResidualMLPMap(
                weight=_numpy(weight), bias=_numpy(bias),
                w1=_numpy(hidden.weight.T), b1=_numpy(hidden.bias),
                w2=_numpy(out.weight.T), b2=_numpy(out.bias),
            )

        return train_with_early_stopping(
            params=params, loss_fn=loss_fn, snapshot=snapshot, new=new, val=val, ctx=ctx,
            epochs=self.epochs, batch_size=self.batch_size, lr=self.lr,
            patience=self.patience, label=self.name, fixed_epochs=fixed_epochs,
        )

    def __call__(self, new: np.ndarray, old: np.ndarray, ctx: FitContext) -> Map:
        if self.fixed_epochs is None:
            train, val = split_indices(len(new), 0.2, ctx.rng)
            _, self.selected_epochs = self._train(new[train], old[train], ctx,
                                                  (new[val], old[val]))
            ctx.log(f"{self.name}: best epoch {self.selected_epochs}")
        else:
            self.selected_epochs = self.fixed_epochs
        return self._train(new, old, ctx, None, fixed_epochs=self.selected_epochs)[0]

    def frozen(self) -> "ResidualMLP":
        return replace(self, fixed_epochs=self.selected_epochs)
