"""The query path (import, load, transform) never imports torch."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from qdrant_drift import fit

from .synthetic import drifted_pairs


def test_import_load_and_transform_do_not_import_torch(tmp_path):
    new, old, _ = drifted_pairs(400, 16, 16, noise=0.01)
    path = tmp_path / "a.safetensors"
    fit("procrustes", new, old).save(path)
    script = textwrap.dedent(
        f"""
        import sys
        import numpy as np
        import qdrant_drift
        from qdrant_drift.adapters import KINDS, load_adapter
        adapter = load_adapter({str(path)!r})
        adapter.transform(np.ones(16, np.float32))
        adapter.transform(np.ones((3, 16), np.float32))
        assert "residual_mlp" in KINDS
        loaded = sorted(m for m in sys.modules if m == "torch" or m.startswith("torch."))
        print("TORCH:", loaded)
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True)
    assert "TORCH: []" in out.stdout, out.stdout + out.stderr


def test_the_package_and_a_worker_backfill_never_import_ray():
    script = textwrap.dedent(
        """
        import sys
        import qdrant_drift
        from qdrant_drift.backfill import BackfillOptions, PayloadField, run_backfill
        from qdrant_drift.embedders import CallableEmbedder
        from qdrant_drift.lifecycle.facade import Migration
        from qdrant_drift.cli.app import app
        from tests.backfill_fixtures import build_text_world, embed_texts
        world = build_text_world(20)
        run_backfill(world.client, "upgrade", CallableEmbedder(embed_texts, normalize=False),
                     PayloadField("text"), options=BackfillOptions(sample_interval_s=0.2))
        print("RAY:", sorted(m for m in sys.modules if m == "ray" or m.startswith("ray.")))
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True)
    assert "RAY: []" in out.stdout, out.stdout + out.stderr
