"""What can be checked of docker/ without a Docker engine: the compose file and the worker
image's entry point."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import yaml
from qdrant_client import QdrantClient

ROOT = Path(__file__).resolve().parents[1]
DOCKER = ROOT / "docker"


def test_compose_names_qdrant_the_worker_and_prometheus_with_pinned_images():
    compose = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"qdrant", "backfill-worker", "prometheus"}
    qdrant_tag = services["qdrant"]["image"].split(":")[1]
    assert tuple(int(x) for x in qdrant_tag.lstrip("v").split(".")[:2]) >= (1, 18)
    assert ":" in services["prometheus"]["image"] and "latest" not in services["prometheus"]["image"]
    assert services["backfill-worker"]["build"]["dockerfile"] == "docker/Dockerfile"
    scrape = yaml.safe_load((DOCKER / "prometheus.yml").read_text())
    targets = scrape["scrape_configs"][0]["static_configs"][0]["targets"]
    assert targets == ["backfill-worker:9108"]
    assert "--metrics-port" in services["backfill-worker"]["command"]


def _dockerfile_json(instruction: str) -> list[str]:
    text = (DOCKER / "Dockerfile").read_text()
    return json.loads(re.search(rf"^{instruction} (\[.*\])$", text, re.M).group(1))


def test_the_worker_image_entry_point_runs_and_fails_clearly_before_the_migration_starts(tmp_path):
    entry, command = _dockerfile_json("ENTRYPOINT"), _dockerfile_json("CMD")
    assert entry == ["qdrant-drift", "backfill"]
    migration_file = ROOT / command[0]
    assert migration_file.exists()
    db = tmp_path / "qdrant"
    QdrantClient(path=str(db)).close()
    args = [command[0], "--path", str(db)] + [
        {"9108": "0"}.get(a, a) for a in command[1:] if a not in ("--url", "http://qdrant:6333")]
    run = subprocess.run([sys.executable, "-m", "qdrant_drift", "backfill", *args], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2, run.stdout + run.stderr
    assert "fit and start it first" in run.stderr  # the migration does not exist yet: say so
