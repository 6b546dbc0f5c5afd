"""TX_MANIFEST loaded through python-threatexchange's own extension mechanism and CLI."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

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
