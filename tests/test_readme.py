"""The README and docs run as written: every fenced ```bash block, in order, in a temporary home.

Each document runs as one bash script (blocks in order, ``set -e``), the way a
reader pastes them into one terminal: ``cd`` and variables carry over.  The
home holds the shipped samples (``crossmatch samples ~/crossmatch-samples``).
What cannot run here is filled in from the small map below, and nothing else
is changed:

* install lines (``make ...``, ``source .venv/bin/activate``): the test already
  runs inside an installed checkout, with the venv's ``crossmatch`` on PATH;
* port 8000 (the server) and 9000 (the tutorial's webhook receiver): free ports;
* ``crossmatch serve`` / ``python -m crossmatch.review.demo`` lines (which run
  until Ctrl-C, "in a second terminal"): started in the background and waited
  for on ``/readyz``; the blocks after them talk to that server;
* ThreatExchange and TCAP (no internet here): a loopback fake of both APIs
  (tests/fake_sources.py) through the exchanges' ``base_url`` setting, with
  made-up credentials.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from crossmatch.api.healthcheck import free_port
from fake_sources import FakeExchangeServer, tcap_entry, te_record

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```bash\n(.*?)^```", re.M | re.S)
SERVER_LINE = re.compile(r"^\s*((?:crossmatch\b[^#\n]*?\bserve\b|python3? -m crossmatch\.review\.demo\b)[^#\n]*?)\s*(#.*)?$")
INSTALL_LINE = re.compile(r"^\s*(make\b|source \.venv/bin/activate\b|git clone\b)")
FAKE_TX_TOKEN = "1234567890|abcdefghijklmnopqrstuvwxyz0123"
# What each document promises its reader will see (in stdout): the examples must not only run but do what the text says.
EXPECT = {
    "README.md": ["MATCH pdq:aa45c241d461d68dd28dda8e2f7a6d7a2df6279233b225ba35a59c8dd88dc262",  # the sample PDQ matches
                  "2 of 4 bank sentences aligned", "closest: texts/notice-library",  # a multi-sentence match, a near miss
                  "clip_00.mp4", '"bank_item":"poster_03.jpg"', "partner-01", "tx: added 3"],
    "first-hour.md": ["match.review signature ok", "decision signature ok case 1 confirm", "delivered", "partner-01"],
    "exchange.md": ["tcap: added 3", "gifct-csv: added 7", "te-1234: added 3", "raw_text:sha256:", "text_xling 0.", "(library-list)"],
    "service.md": ['"bank_item":"poster_03.jpg"', "platform-2"],
}

pytestmark = pytest.mark.slow  # a few minutes: each document runs whole, with its servers

PREAMBLE = r"""
set -eo pipefail
trap '__rc=$?; __jobs=$(jobs -p); [ -z "$__jobs" ] || kill $__jobs 2>/dev/null; wait 2>/dev/null; exit $__rc' EXIT
__wait_ready() {
  for _ in $(seq 300); do curl -fs "http://127.0.0.1:$1/readyz" >/dev/null 2>&1 && return 0; sleep 1; done
  echo "the server on port $1 never became ready:" >&2; cat ~/.server-*.log >&2; return 1
}
cd "$HOME"
"""


def blocks(doc: Path) -> list[tuple[int, str]]:
    """(line number, code) of each fenced bash block."""
    text = doc.read_text(encoding="utf-8")
    return [(text.count("\n", 0, m.start()) + 1, m.group(1)) for m in FENCE.finditer(text)]



def fill(code: str, ports: dict[int, int], fake_url: str, servers: list[int]) -> str:
    """The fixture map: the few things a test cannot run as a reader would (see the module docstring)."""
    for doc_port, port in ports.items():
        code = re.sub(rf"\b{doc_port}\b", str(port), code)
    code = code.replace("'<app id>|<secret>'", f"'{FAKE_TX_TOKEN}'")
    code = re.sub(r"(-c collab\.privacy_group=\d+)", rf"\1 -c base_url={fake_url}", code)
    code = re.sub(r"(-c api=tat\b)", rf"\1 -c base_url={fake_url}", code)
    out = []
    for line in code.splitlines():
        if INSTALL_LINE.match(line):
            out.append(f": 'skipped by the test (it runs inside an installed checkout):' {line.strip()!r}")
            continue
        server = SERVER_LINE.match(line)
        if server:
            port = re.search(r"--port (\d+)", server.group(1))
            assert port, f"a server line must name its port (--port 8000): {line}"
            servers.append(int(port.group(1)))
            out.append(f"( {server.group(1)} ) > ~/.server-{len(servers)}.log 2>&1 &\n__wait_ready {port.group(1)}")
            continue
        out.append(line)
    return "\n".join(out)


def script(doc: Path, ports: dict[int, int], fake_url: str) -> tuple[str, list[int]]:
    servers: list[int] = []
    parts = [PREAMBLE]
    for number, code in blocks(doc):
        parts.append(f"echo '::: {doc.name} block at line {number}' >&2")
        parts.append(fill(code, ports, fake_url, servers))
    return "\n".join(parts) + "\n", servers


@pytest.fixture(scope="module")
def samples(tmp_path_factory) -> Path:
    """The shipped samples, generated once and copied into each document's home."""
    folder = tmp_path_factory.mktemp("samples") / "crossmatch-samples"
    done = subprocess.run([sys.executable, "-c", "from crossmatch.cli import main; main()", "--home", str(folder.parent / "h"),
                           "samples", str(folder)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return folder


@pytest.fixture(scope="module")
def fake_exchanges():
    with FakeExchangeServer(page_size=50) as fake:
        fake.te_updates = [te_record(i + 1, "%064x" % (0x5A5A << (4 * i)), updated=1000 + i, tags=["sample"]) for i in range(3)]
        fake.tcap_entries = [tcap_entry(i + 1, "%064x" % (0xA5A5 << (4 * i)), updated=1704085200.0 + i, group="Example Entity A")
                             for i in range(3)]
        yield fake


def test_every_doc_with_commands_is_found():
    names = {doc.name for doc in DOCS if blocks(doc)}
    assert {"README.md", "first-hour.md", "exchange.md"} <= names, names


@pytest.mark.parametrize("doc", [d for d in DOCS if blocks(d)], ids=lambda d: d.name)
def test_doc_runs_as_written(doc, tmp_path, samples, fake_exchanges):
    missing = [tool for tool in ("curl", "jq") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"the documented examples use {' and '.join(missing)}: apt-get install {' '.join(missing)} (deps/apt-docs.txt)")
    home = tmp_path / "home"
    home.mkdir()
    shutil.copytree(samples, home / "crossmatch-samples")
    ports = {8000: free_port(), 9000: free_port()}
    text, servers = script(doc, ports, fake_exchanges.url)
    (tmp_path / "doc.sh").write_text(text, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CROSSMATCH_", "TX_", "PYTX_"))}
    env.update(HOME=str(home), PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}", COLUMNS="120",
               CROSSMATCH_WORKERS="1", PYTHONUNBUFFERED="1")
    done = subprocess.run(["bash", str(tmp_path / "doc.sh")], cwd=home, env=env, capture_output=True, text=True, timeout=1500)
    where = [line for line in done.stderr.splitlines() if line.startswith(":::")]
    assert done.returncode == 0, (f"{doc.name} failed in {where[-1] if where else 'the preamble'} (exit {done.returncode}):\n"
                                  f"--- stdout (end)\n{done.stdout[-3000:]}\n--- stderr (end)\n{done.stderr[-3000:]}")
    assert len(where) == len(blocks(doc))
    missing = [want for want in EXPECT.get(doc.name, []) if want not in done.stdout]
    assert not missing, f"{doc.name} ran but did not show {missing}:\n{done.stdout[-4000:]}"
    assert not list(ROOT.glob("crossmatch-samples")) and not (ROOT / "samples").exists()  # nothing written into the checkout


def test_fixture_map_keeps_commands_and_only_fills_placeholders():
    servers: list[int] = []
    code = fill("make demo\ncrossmatch serve --port 8000   # second terminal\ncurl http://127.0.0.1:8000/healthz\n"
                "export TX_ACCESS_TOKEN='<app id>|<secret>'\ncrossmatch exchange add tx --kind pytx --bank b -c api=fb_threatexchange "
                "-c collab.privacy_group=1234", {8000: 5555}, "http://127.0.0.1:1", servers)
    lines = code.splitlines()
    assert lines[0].startswith(": 'skipped") and servers == [5555]
    assert lines[1] == "( crossmatch serve --port 5555 ) > ~/.server-1.log 2>&1 &" and lines[2] == "__wait_ready 5555"
    assert lines[3] == "curl http://127.0.0.1:5555/healthz" and FAKE_TX_TOKEN in lines[4]
    assert lines[5].endswith("-c collab.privacy_group=1234 -c base_url=http://127.0.0.1:1")


def test_exchange_doc_states_the_thresholds_the_code_uses(tmp_path):
    """docs/exchange.md's threshold table against every signal type's default_threshold (no drift, e.g. 0.5 vs 0.3)."""
    from crossmatch.settings import Settings
    from crossmatch.signals.registry import SignalRegistry

    text = (ROOT / "docs" / "exchange.md").read_text(encoding="utf-8")
    table = dict(re.findall(r"^\| `([a-z0-9_]+)` \| [^|]+ \| (?:≤ |≥ )?([0-9.]+) \|$", text, re.M))
    registry = SignalRegistry.from_entry_points(Settings.load(home=tmp_path))
    assert set(table) == set(registry.names())
    for name in registry.names():
        assert float(table[name]) == registry.get(name).default_threshold, name
    assert "0.5 Jaccard" not in text and "Jaccard ≥ 0.3" in text
