"""TMK+PDQF evaluation on ThreatExchange's TMK sample videos, against the reference scores and hashes.

1. Reference pair scores: the level-1/level-2 scores upstream's ``tmk-two-level-score`` and
   ``tmk-query`` printed for pairs of the sample videos (tmk-README.upstream.md; the README
   lists both ends of the sorted table), against ours for every pair whose two videos are here.
2. Reference hashes (only when the upstream ``.tmk`` files are at hand, ``--reference-dir`` or the
   fetched facebook/ThreatExchange mirror): byte equality and the largest float difference of
   our hash of each video, and every pair's scores from ours vs from theirs.
3. Clustering: connected components at c1=c2=0.7 and at 0.95 (as ``tmk-clusterize``) vs upstream's
   clusters restricted to the videos present.
4. Detection per variant at the reference thresholds (0.7/0.7): each original as the bank, every
   other video as a query, through crossmatch's own index (FAISS level 1 + level 2).

The thresholds are upstream's suggested 0.7/0.7 (and 0.95); nothing is tuned here, so there is no
tuning split.  Data: ../shared/evaldata/threatexchange-pdq-vpdq-tmk (SOURCE.md).

    .venv/bin/python eval/tmk.py [--data ../shared/evaldata] [--reference-dir DIR] [--smoke] [--json FILE]
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from crossmatch.settings import Settings  # noqa: E402
from crossmatch.signals import tmk_features as tf  # noqa: E402
from crossmatch.signals.base import Content, Signal  # noqa: E402
from crossmatch.signals.tmk import TmkType, create  # noqa: E402

TE = "threatexchange-pdq-vpdq-tmk"
MIRROR = Path("/work/.mirror/facebook+ThreatExchange/repo")  # fetched upstream (git dir); never copied into the repo
ORIGINALS = {"chair": "chair-orig-22-sd-bar", "pattern": "pattern-hd-no-bar"}
SMOKE_VIDEOS = ("chair-orig-22-sd-bar", "chair-22-sd-grey-bar", "chair-19-sd-bar", "doorknob-hd-no-bar")
_PAIR = re.compile(r"^(-?\d+\.\d+) (-?\d+\.\d+) (\S+)\.tmk (\S+)\.tmk$")
_CLUSTER = re.compile(r"^clidx=(\d+),clusz=\d+,filename=(\S+)\.tmk$")


def group(name: str) -> str:
    return name.split("-")[0]


def reference_pairs(readme: Path) -> dict[tuple[str, str], tuple[float, float]]:
    """(a, b) sorted -> (level 1, level 2) from every score line of the upstream README."""
    out = {}
    for line in readme.read_text().splitlines():
        m = _PAIR.match(line.strip())
        if m and m[3] != m[4]:
            out[tuple(sorted((m[3], m[4])))] = (float(m[1]), float(m[2]))
    return out


def reference_clusters(readme: Path) -> dict[float, list[set[str]]]:
    """Threshold -> clusters printed by ``tmk-clusterize --c1 T --c2 T``."""
    out: dict[float, dict[str, set[str]]] = {}
    current = None
    for line in readme.read_text().splitlines():
        m = re.search(r"tmk-clusterize --c1 ([\d.]+) --c2 ([\d.]+) -s \*\.tmk", line)
        if m:
            current = float(m[1])
            out[current] = {}
            continue
        m = _CLUSTER.match(line.strip())
        if m and current is not None:
            out[current].setdefault(m[1], set()).add(m[2])
        elif line.startswith("```") and current is not None and out[current]:
            current = None
    return {t: list(c.values()) for t, c in out.items()}


def clusters(names: list[str], scores: dict[tuple[str, str], tuple[float, float]], c1: float, c2: float) -> list[set[str]]:
    """Connected components of the pairs passing both levels."""
    parent = {n: n for n in names}

    def root(n: str) -> str:
        while parent[n] != n:
            n = parent[n]
        return n

    for (a, b), (one, two) in scores.items():
        if one >= c1 and two >= c2:
            parent[root(a)] = root(b)
    out: dict[str, set[str]] = {}
    for n in names:
        out.setdefault(root(n), set()).add(n)
    return sorted(out.values(), key=lambda c: sorted(c))


def restrict(reference: list[set[str]], present: set[str]) -> list[set[str]]:
    return sorted((c & present for c in reference if c & present), key=lambda c: sorted(c))


def pair_scores(tmk: TmkType, signals: dict[str, Signal]) -> dict[tuple[str, str], tuple[float, float]]:
    """Every pair's (level 1, level 2), level 2 computed whatever level 1 is (as --c1 -1)."""
    out = {}
    scorer = tmk.scorer()
    for a, b in itertools.combinations(sorted(signals), 2):
        fa, fb = tmk.features(signals[a].value), tmk.features(signals[b].value)
        out[(a, b)] = (tf.level1(fa, fb), float(scorer.scores(fa, fb.cos[None], fb.sin[None])[0]))
    return out


def reference_bytes(name: str, reference_dir: Path | None) -> bytes | None:
    if reference_dir is not None:
        path = reference_dir / f"{name}.tmk"
        return path.read_bytes() if path.exists() else None
    if not MIRROR.exists():
        return None
    proc = subprocess.run(["git", "-C", str(MIRROR), "show", f"HEAD:tmk/sample-hashes/{name}.tmk"], capture_output=True)
    return proc.stdout if proc.returncode == 0 else None


def level2_port_vs_tmkpy(signals: dict[str, Signal], ours: dict[tuple[str, str], tuple[float, float]]) -> float | None:
    """Largest |our level 2 - the reference C++ level 2| over the pairs (tmkpy scores files on disk)."""
    try:
        import tmkpy
    except ImportError:
        return None
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        paths = {}
        for name, signal in signals.items():
            paths[name] = Path(tmp) / f"{name}.tmk"
            paths[name].write_bytes(tf.decode_value(signal.value))
        worst = 0.0
        for (a, b), (_, two) in ours.items():
            reference = tmkpy.query(str(paths[a]), [str(paths[b])], 1)[0]
            worst = max(worst, abs(reference - two))
    return worst


def hash_videos(tmk: TmkType, videos: dict[str, Path]) -> tuple[dict[str, Signal], dict[str, float]]:
    signals, seconds = {}, {}
    for name, path in videos.items():
        start = time.perf_counter()
        signals[name] = tmk.hash(Content(name, "video", path=path))[0]
        seconds[name] = time.perf_counter() - start
    return signals, seconds


def detection(tmk: TmkType, signals: dict[str, Signal]) -> list[dict]:
    """Each original as a one-item bank in crossmatch's index; every other video matched at 0.7/0.7
    (index for level 1, then the type's two-level ``match``)."""
    rows = []
    for grp, original in ORIGINALS.items():
        if original not in signals:
            continue
        index = tmk.fast_index()
        index.add([(1, signals[original])])
        bank = {1: (original, signals[original])}
        for name, signal in sorted(signals.items()):
            if name == original:
                continue
            one, _ = tmk.scores(signal, signals[original])
            found = tmk.match([signal], index, tmk.default_threshold, lambda ids: {i: bank[i] for i in ids})
            two = found[0].score if found else None
            if two is None:  # not matched: say level 2 only where level 1 passed
                two = tmk.scores(signal, signals[original])[1]
            rows.append({"bank": original, "query": name, "same_content": group(name) == grp,
                         "level1": round(one, 6), "level2": None if two is None else round(two, 6), "matched": bool(found)})
    return rows


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "evaldata")
    parser.add_argument("--reference-dir", type=Path, default=None,
                        help="directory of upstream tmk/sample-hashes/*.tmk (default: the fetched mirror, if present)")
    parser.add_argument("--smoke", action="store_true", help=f"only {len(SMOKE_VIDEOS)} short videos")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    data = args.data / TE
    readme = data / "tmk-README.upstream.md"
    all_videos = {p.stem: p for p in sorted((data / "sample-videos").glob("*.mp4")) if p.stem != "test-padded-dimensions"}
    videos = {n: p for n, p in all_videos.items() if not args.smoke or n in SMOKE_VIDEOS}
    tmk = create(Settings())
    signals, seconds = hash_videos(tmk, videos)
    names = sorted(signals)
    ours = pair_scores(tmk, signals)
    results: dict = {"videos": names, "hash_seconds": {n: round(s, 3) for n, s in seconds.items()}}

    print(f"# TMK+PDQF evaluation ({len(names)} sample videos from {TE}; upstream thresholds, nothing tuned)\n")
    print("## 1. Reference pair scores (tmk-README.upstream.md) vs ours\n")
    print("| video A | video B | ref level-1 | ours | ref level-2 | ours | max abs diff |\n|---|---|---|---|---|---|---|")
    table = []
    for (a, b), (r1, r2) in sorted(reference_pairs(readme).items()):
        if (a, b) not in ours:
            continue
        o1, o2 = ours[(a, b)]
        diff = max(abs(o1 - r1), abs(o2 - r2))
        table.append({"a": a, "b": b, "ref": [r1, r2], "ours": [round(o1, 6), round(o2, 6)], "diff": diff})
        print(f"| {a} | {b} | {r1:.6f} | {o1:.6f} | {r2:.6f} | {o2:.6f} | {diff:.1e} |")
    results["reference_pairs"] = table
    worst = max((r["diff"] for r in table), default=float("nan"))
    print(f"\n{len(table)} reference pairs with both videos here; largest difference {worst:.1e} "
          "(the README prints 6 decimals).\n")

    print("## 2. Against the reference .tmk files\n")
    ref_signals = {}
    for name in names:
        raw = reference_bytes(name, args.reference_dir)
        if raw is not None:
            ref_signals[name] = Signal(tmk.name, tf.encode_value(raw))
    if not ref_signals:
        print("reference .tmk files not found (give --reference-dir or fetch facebook/ThreatExchange); skipped\n")
    else:
        print("| video | frames | byte-identical | max abs diff (pure average) | max abs diff (cos/sin) |\n|---|---|---|---|---|")
        rows = []
        for name in sorted(ref_signals):
            mine, theirs = tmk.features(signals[name].value), tmk.features(ref_signals[name].value)
            same = tf.decode_value(signals[name].value) == tf.decode_value(ref_signals[name].value)
            pure = float(np.abs(mine.pure_average - theirs.pure_average).max())
            trig = float(max(np.abs(mine.cos - theirs.cos).max(), np.abs(mine.sin - theirs.sin).max()))
            rows.append({"video": name, "frames": mine.frame_count, "identical": same, "pure": pure, "cos_sin": trig})
            print(f"| {name} | {mine.frame_count} | {'yes' if same else 'no'} | {pure:.1e} | {trig:.1e} |")
        theirs_pairs = pair_scores(tmk, ref_signals)
        score_diff = max((max(abs(ours[p][0] - theirs_pairs[p][0]), abs(ours[p][1] - theirs_pairs[p][1]))
                          for p in theirs_pairs), default=0.0)
        print(f"\nAll {len(theirs_pairs)} pairs scored from our hashes vs from the reference hashes: "
              f"largest level-1/level-2 difference {score_diff:.1e}.\n")
        port_diff = level2_port_vs_tmkpy(ref_signals, theirs_pairs)
        if port_diff is not None:
            print(f"Our numpy level 2 vs tmkpy's own computeLevel2Score (tmkpy.query on the reference files), "
                  f"all {len(theirs_pairs)} pairs: largest difference {port_diff:.1e}.\n")
        results["reference_hashes"] = {"rows": rows, "pairs": len(theirs_pairs), "max_score_diff": score_diff,
                                       "level2_port_vs_tmkpy": port_diff}

    print("## 3. Clustering (connected components, as tmk-clusterize)\n")
    present = set(names)
    results["clusters"] = {}
    for threshold, reference in sorted(reference_clusters(readme).items()):
        mine = clusters(names, ours, threshold, threshold)
        expected = restrict(reference, present)
        same = [sorted(c) for c in mine] == [sorted(c) for c in expected]
        results["clusters"][str(threshold)] = {"ours": [sorted(c) for c in mine], "reference": [sorted(c) for c in expected],
                                               "same": same}
        print(f"c1=c2={threshold}: {'same as' if same else 'DIFFERENT from'} upstream (restricted to the videos here)")
        for c in mine:
            print(f"  - {', '.join(sorted(c))}")
    print()

    print("## 4. Detection per variant at level-1 >= 0.7 and level-2 >= 0.7 (crossmatch's index)\n")
    print("| bank (original) | query | same content | level-1 | level-2 | matched |\n|---|---|---|---|---|---|")
    rows = detection(tmk, signals)
    for r in rows:
        two = "-" if r["level2"] is None else f"{r['level2']:.4f}"
        verdict = "yes" if r["matched"] else "no"
        print(f"| {r['bank']} | {r['query']} | {'yes' if r['same_content'] else 'no'} | {r['level1']:.4f} | {two} | {verdict} |")
    tp = sum(r["matched"] and r["same_content"] for r in rows)
    fn = sum(not r["matched"] and r["same_content"] for r in rows)
    fp = sum(r["matched"] and not r["same_content"] for r in rows)
    negatives = sum(not r["same_content"] for r in rows)
    print(f"\nvariants found {tp}/{tp + fn}; false matches {fp}/{negatives}.")
    results["detection"] = {"rows": rows, "tp": tp, "fn": fn, "fp": fp, "negatives": negatives}
    total = sum(seconds.values())
    print(f"\nTMK hashing: {total:.1f} s for {len(names)} videos ({sum(tmk.features(s.value).frame_count for s in signals.values()) / tf.FPS:.0f} s of video).")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return results


if __name__ == "__main__":
    main()
