"""The zoo's manifest.json, shared by the Keras and the torch generators (kept free
of TensorFlow and torch imports so that either venv can load it)."""

import json
import os
from pathlib import Path


def update_manifest(out: Path, entries):
    """Adds or replaces `entries` (by name) in `out`/manifest.json, sorted by name."""
    path = out / "manifest.json"
    old = json.loads(path.read_text())["models"] if path.exists() else []
    by = {e["name"]: e for e in old}
    by.update({e["name"]: e for e in entries})
    models = sorted(by.values(), key=lambda e: e["name"])
    path.write_text(json.dumps({"models": models}, indent=1) + "\n")


def zoo_dir(root: Path, size: str, fixtures: str, cache_sub: str = "") -> Path:
    """Where a generator writes: `tests/fixtures/<fixtures>` for the small (committed)
    models, `${TESSERA_ZOO:-~/.cache/tessera/zoo}/<cache_sub>` for the large ones."""
    if size == "small":
        out = root / "tests" / "fixtures" / fixtures
    else:
        out = Path(os.environ.get("TESSERA_ZOO", Path.home() / ".cache" / "tessera" / "zoo")) / cache_sub
    out.mkdir(parents=True, exist_ok=True)
    return out
