"""TX_MANIFEST loaded through python-threatexchange's own extension mechanism and CLI."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

import pytest

from threatexchange import interface_validation
from threatexchange.content_type import file, photo, text, url, video
from threatexchange.extensions.manifest import ThreatExchangeExtensionManifest
from threatexchange.signal_type.md5 import VideoMD5Signal
from threatexchange.signal_type.pdq.signal import PdqSignal

SAME = "The quick brown fox jumps over the lazy dog near the river bank today."
EDITED = "The quick brown fox jumps over the lazy dog near the river bank, today!"
OTHER = "Completely different words about weather forecasts and rainfall in spring."


def test_manifest_loads_and_validates_with_pytx_types():
    manifest = ThreatExchangeExtensionManifest.load_from_module_name("crossmatch.tx_extension")
    names = {st.get_name(): st for st in manifest.signal_types}
    assert set(names) == {"text_near", "text_xling"}
    # What `threatexchange config extensions add` checks: no clashes with the built-in types.
    content = [photo.PhotoContent, video.VideoContent, url.URLContent, text.TextContent, file.FileContent]
    mapping = interface_validation.SignalTypeMapping(content, list(itertools.chain([PdqSignal, VideoMD5Signal], manifest.signal_types)))
    assert set(st.get_name() for st in mapping.get_supported_signal_types_for_content(text.TextContent)) >= {"text_near", "text_xling"}

    near = names["text_near"]
    a, b, c = near.hash_from_str(SAME), near.hash_from_str(EDITED), near.hash_from_str(OTHER)
    assert near.validate_signal_str(a) == a
    assert near.compare_hash(a, b).match and not near.compare_hash(a, c).match
    index = near.get_index_cls().build([(a, "bank-1"), (c, "bank-2")])
    assert [m.metadata for m in index.query(b)] == ["bank-1"]

    xling = names["text_xling"]
    examples = xling.get_examples()
    joined = ";".join(examples[:2])
    assert xling.validate_signal_str(joined) == joined
    assert xling.compare_hash(joined, examples[0]).match  # a shared chunk is a hit
    try:
        xling.validate_signal_str("not base64!")
    except ValueError as exc:
        assert "base64" in str(exc)
    else:
        raise AssertionError("a bad text_xling signal must be rejected")


def test_threatexchange_cli_hashes_text_with_the_extension(tmp_path: Path):
    cli = Path(sys.executable).with_name("threatexchange")
    env = {**os.environ, "HOME": str(tmp_path)}
    added = subprocess.run([str(cli), "config", "extensions", "add", "crossmatch.tx_extension"], env=env,
                           capture_output=True, text=True, timeout=120)
    assert added.returncode == 0, added.stderr
    assert "text_near" in added.stdout and "text_xling" in added.stdout
    hashed = subprocess.run([str(cli), "hash", "--signal-type", "text_near", "text", "--", SAME], env=env,
                            capture_output=True, text=True, timeout=120)
    assert hashed.returncode == 0, hashed.stderr
    kind, value = hashed.stdout.strip().split(" ", 1)
    from crossmatch.tx_extension import TextNearSignal

    assert kind == "text_near" and TextNearSignal.compare_hash(value, TextNearSignal.hash_from_str(EDITED)).match


LIBRARY = ("The central city library announced that from the first of March it will open from eight in the morning "
           "until ten at night. The director said the new hall seats two hundred readers. Free computer classes "
           "will run every Saturday.")
LIBRARY_EXCERPT = "The central city library announced that from the first of March it will open from eight in the morning until ten at night."
LIBRARY_RU = "Центральная городская библиотека объявила, что с первого марта будет открыта с восьми утра до десяти вечера."
FERRY = "The ferry timetable changes next week: boats will leave every forty minutes instead of every half hour."


def _tx(home: Path, *args: str) -> subprocess.CompletedProcess:
    cli = Path(sys.executable).with_name("threatexchange")
    done = subprocess.run([str(cli), *args], env={**os.environ, "HOME": str(home)}, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"threatexchange {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.mark.slow
def test_threatexchange_cli_fetches_a_local_file_collab_and_matches(tmp_path: Path):
    """The whole python-threatexchange CLI loop: extension, hash, local_file collab, fetch (index build), match."""
    _tx(tmp_path, "config", "extensions", "add", "crossmatch.tx_extension")
    lines = [_tx(tmp_path, "hash", "--signal-type", name, "text", "--", LIBRARY).stdout.strip() for name in ("text_near", "text_xling")]
    assert [line.split(" ", 1)[0] for line in lines] == ["text_near", "text_xling"]
    assert ";" in lines[1]  # three sentences: three chunk embeddings
    signals = tmp_path / "signals.txt"
    signals.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _tx(tmp_path, "config", "collab", "edit", "local_file", "--create", "library-list", "--filename", str(signals))

    fetched = _tx(tmp_path, "fetch")
    assert "Index for text_near ready" in fetched.stderr and "Index for text_xling ready" in fetched.stderr
    for name, cls in (("text_near", "TextNearIndex"), ("text_xling", "TextXlingIndex")):
        assert cls.encode() in (tmp_path / ".threatexchange" / "index" / f"{name}.index").read_bytes()

    def matched(text: str) -> set[str]:
        out = _tx(tmp_path, "match", "text", "--", text).stdout
        return {line.split(" ", 1)[0] for line in out.splitlines() if "(library-list)" in line}

    assert matched(LIBRARY_EXCERPT) == {"text_near", "text_xling"}  # an excerpt: a near copy and a shared sentence
    assert matched(LIBRARY_RU) == {"text_xling"}  # a translation: only the cross-lingual type sees it
    assert matched(FERRY) == set()


def test_text_near_compares_every_part_of_a_long_text():
    from crossmatch.tx_extension import TextNearIndex, TextNearSignal

    sentences = [f"Sentence number {w} of the long bulletin talks about {w} different things at length." for w in
                 ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve")]
    long_hash = TextNearSignal.hash_from_str(" ".join(sentences))
    parts = long_hash.split(";")
    assert len(parts) > 1  # the whole text plus sentence windows
    assert TextNearSignal.validate_signal_str(long_hash) == long_hash
    # The first six sentences: far from the whole text, equal to the first window.
    head = TextNearSignal.hash_from_str(" ".join(sentences[:6]))
    assert TextNearSignal.compare_hash(long_hash, head).match
    assert TextNearSignal.compare_hash(long_hash, head).distance.distance == 0
    assert TextNearSignal.get_index_cls() is TextNearIndex and TextNearSignal.get_index_cls() is TextNearSignal.get_index_cls()
    index = TextNearIndex.build([(long_hash, "bulletin")])
    assert [m.metadata for m in index.query(head)] == ["bulletin"]
