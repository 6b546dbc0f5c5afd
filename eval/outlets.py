"""Seeded simulator of a platform stream, fed through the outlets tracker: are planted outlets found,
how early, how cleanly, without news/researcher/journalist accounts, and are the candidates right?

Material (benign stand-ins only):
- pictures: the evaldata photos (UKBench, ISC2021, AugLy, ThreatExchange) and generated posters
  (crossmatch.samples), each hashed with the real PDQ signal type as the original and as seeded edits
  (resize, re-encode, greyscale, 5 % crop, brightness).  Whether a picture post matches a bank item, and
  which unbanked posts are near-duplicates, is decided on these real hashes.
- texts: bank items are FLORES-200 devtest sentences (Arabic); posts are their translations into
  Russian, Kazakh, Uzbek, Tajik or Turkish, or excerpts.  Text matching is the engine's job, measured in
  EVALUATION.md (text sections); here a text post matches its bank item with probability ``--text-recall``.
- an ordinary account's own photo is a random 256-bit PDQ value (a picture nobody else posts).
- outlet marks (logos) are simulated: half of the outlets reuse a banked mark, matched with
  probability ``--mark-recall`` on their picture posts; the other half's marks are unknown.

Accounts: ordinary (default 20,000; a few repost one viral known picture), news (same-topic wire
pictures shared by many outlets, links to their own and shared domains, sometimes quote a known item),
researchers/journalists (known items with commentary, institutes sharing a domain), and planted outlets
(3-12 accounts over 2-3 platforms, a start date within the stream, edited copies and translations of bank
items, their own new releases shared among them, their mark, their channel links).

    .venv/bin/python eval/outlets.py --seed 1            # choose rules on seed 1
    .venv/bin/python eval/outlets.py --seed 2 --seed 3   # report on others
    .venv/bin/python eval/outlets.py --smoke             # a small stream (the test suite's smoke test)
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import random
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crossmatch.outlets.clusters import pdq_hamming  # noqa: E402
from crossmatch.outlets.record import DAY, Post, PostMatch  # noqa: E402
from crossmatch.outlets.tracker import Tracker  # noqa: E402
from crossmatch.settings import OutletSettings  # noqa: E402

DATA = ROOT.parent / "shared" / "evaldata"
PLATFORMS = ("telegram", "x", "vk", "facebook", "tiktok")
TEXT_LANGS = ("rus_Cyrl", "kaz_Cyrl", "uzn_Latn", "tgk_Cyrl", "tur_Latn")
T0 = 1_767_225_600.0  # 2026-01-01


# -- material ----------------------------------------------------------------------------------------
def _photos(data: Path) -> list[Path]:
    found = []
    for sub in ("imagededup-ukbench-tests/base_images", "isc2021-disc21", "augly-image-test-assets",
                "threatexchange-pdq-vpdq-tmk"):
        folder = data / sub
        if folder.exists():
            found += sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    return found


def _edits(img, rng: random.Random):
    from PIL import Image, ImageEnhance, ImageOps

    def reencode(i):
        out = io.BytesIO()
        i.save(out, "JPEG", quality=rng.randint(30, 70))
        return Image.open(io.BytesIO(out.getvalue())).convert("RGB")

    def crop(i):
        dx, dy = int(i.width * 0.05), int(i.height * 0.05)
        return i.crop((dx, dy, i.width - dx, i.height - dy))

    return [
        lambda i: i.resize((max(32, i.width * 2 // 3), max(32, i.height * 2 // 3))),
        reencode,
        lambda i: ImageOps.grayscale(i).convert("RGB"),
        crop,
        lambda i: ImageEnhance.Brightness(i).enhance(rng.choice((0.8, 1.2))),
    ]


class Library:
    """Pictures as PDQ hashes: groups of [original, edit, edit, ...]; cached on disk by parameters."""

    def __init__(self, groups: dict[str, list[list[str]]]) -> None:
        self.groups = groups

    @classmethod
    def build(cls, sizes: dict[str, int], data: Path, cache: Path | None) -> "Library":
        key = hashlib.sha256(json.dumps(sizes, sort_keys=True).encode()).hexdigest()[:12]
        path = cache / f"outlets_library_{key}.json" if cache else None
        if path and path.exists():
            return cls(json.loads(path.read_text()))
        from PIL import Image

        from crossmatch.samples import make_poster
        from crossmatch.settings import Settings
        from crossmatch.signals.base import Content
        from crossmatch.signals.registry import SignalRegistry

        pdq = SignalRegistry.from_entry_points(Settings(workers=1)).get("pdq")
        rng = random.Random(7)
        photos = _photos(data)
        sources: list = []
        for p in photos:
            try:
                sources.append(Image.open(p).convert("RGB"))
            except OSError:
                continue
        groups: dict[str, list[list[str]]] = {}
        seed = 10_000
        for name, count in sizes.items():
            out = []
            while len(out) < count:
                if sources and name == "bank":
                    img = sources.pop()
                else:
                    seed += 1
                    img = make_poster(seed, (320, 240))
                img.thumbnail((480, 480))
                variants = [img] + [edit(img) for edit in _edits(img, rng)]
                hashes = []
                for v in variants:
                    buf = io.BytesIO()
                    v.save(buf, "PNG")
                    signals = pdq.hash(Content("x", "image", data=buf.getvalue()))
                    if signals:
                        hashes.append(signals[0].value)
                if len(hashes) == len(variants):
                    out.append(hashes)
            groups[name] = out
        if path:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(groups))
        return cls(groups)


# -- the stream -------------------------------------------------------------------------------------------
@dataclass
class Account:
    key: str
    role: str  # ordinary | news | researcher | outlet
    platform: str
    outlet: int | None = None


@dataclass
class World:
    posts: list[tuple[float, str, dict]] = field(default_factory=list)  # (time, account, payload)
    accounts: dict[str, Account] = field(default_factory=dict)
    material: dict[str, str] = field(default_factory=dict)  # pdq value -> what it is (release, wire, bank, own)
    outlets: dict[int, list[str]] = field(default_factory=dict)


def simulate(seed: int, lib: Library, ordinary: int, news: int, researchers: int, n_outlets: int, days: int,
             text_recall: float, mark_recall: float) -> World:
    rng = random.Random(seed)
    w = World()
    bank = lib.groups["bank"]
    n_bank_texts = 300
    for kind in ("bank", "release", "wire"):
        for group in lib.groups[kind]:
            for v in group:
                w.material.setdefault(v, kind)

    def add(key: str, role: str, platform: str, outlet: int | None = None) -> Account:
        a = Account(key, role, platform, outlet)
        w.accounts[key] = a
        return a

    def own_photo() -> str:
        v = f"{rng.getrandbits(256):064x}"
        w.material[v] = "own"
        return v

    def bank_picture(excerpt: bool = False) -> dict:
        i = rng.randrange(len(bank))
        return {"pdq": rng.choice(bank[i][1:]), "bank_image": i}

    def bank_text(how: str) -> dict:
        return {"text_item": rng.randrange(n_bank_texts), "how": how, "lang": rng.choice(TEXT_LANGS)}

    news_domains = [f"news{i}.example" for i in range(max(5, news // 8))]
    # Ordinary accounts: own photos and chatter, some news links, rarely a viral known picture.
    for i in range(ordinary):
        a = add(f"ord{i}", "ordinary", rng.choice(PLATFORMS))
        rate = rng.lognormvariate(-2.6, 1.0)  # posts a day; mean about 0.12
        t = T0 + rng.uniform(0, days) * DAY
        viral_at = T0 + rng.uniform(0, days) * DAY if rng.random() < 0.003 else None
        while t < T0 + days * DAY:
            payload: dict = {"pdq": own_photo()} if rng.random() < 0.4 else {}
            if rng.random() < 0.03:
                payload["links"] = [f"https://{rng.choice(news_domains)}/story/{rng.randrange(10**6)}"]
            w.posts.append((t, a.key, payload))
            t += rng.expovariate(rate) * DAY
        if viral_at:
            w.posts.append((viral_at, a.key, bank_picture()))
    # News: wire pictures of the day's stories, their own site, sometimes a quoted known item.
    stories = lib.groups["wire"]
    for i in range(news):
        a = add(f"news{i}", "news", rng.choice(PLATFORMS))
        site = news_domains[i % len(news_domains)]
        t = T0 + rng.uniform(0, 2) * DAY
        while t < T0 + days * DAY:
            r = rng.random()
            day = int((t - T0) / DAY)
            if r < 0.35:
                story = stories[(day * 3 + rng.randrange(3)) % len(stories)]
                payload = {"pdq": rng.choice(story)}
            elif r < 0.985:
                payload = {}
            else:  # quoting a known item
                payload = bank_text("excerpt") if rng.random() < 0.6 else bank_picture()
            payload["links"] = [f"https://{site}/{day}/{rng.randrange(10**6)}"]
            w.posts.append((t, a.key, payload))
            t += rng.expovariate(3.0) * DAY
    # Researchers and journalists: commentary with known items; institutes share a domain.
    institute = 0
    for i in range(researchers):
        if i % 3 == 0:
            institute += 1
        a = add(f"res{i}", "researcher", rng.choice(PLATFORMS))
        t = T0 + rng.uniform(0, 5) * DAY
        while t < T0 + days * DAY:
            r = rng.random()
            if r < 0.2:  # a known item with commentary: quoted, sometimes translated for their readers, or pictured
                x = rng.random()
                payload = bank_text("excerpt") if x < 0.4 else bank_text("translation") if x < 0.5 else bank_picture()
            elif r < 0.6:
                payload = {"pdq": own_photo()}
            else:
                payload = {}
            if rng.random() < 0.4:
                payload["links"] = [f"https://institute{institute}.example/report/{rng.randrange(1000)}"]
            w.posts.append((t, a.key, payload))
            t += rng.expovariate(0.7) * DAY
    # Planted outlets.
    releases = lib.groups["release"]
    per_outlet = max(1, len(releases) // max(1, n_outlets))
    for o in range(n_outlets):
        size = rng.randint(3, 12)
        platforms = rng.sample(PLATFORMS, rng.randint(2, 3))
        start = T0 + rng.uniform(5, max(6, days - 60)) * DAY
        banked_mark = 900_000 + o if o % 2 == 0 else None
        channel = f"https://t.me/outlet{o}_{rng.randrange(10**4)}"
        site = f"outlet{o}-{rng.randrange(10**4)}.example"
        own = releases[o * per_outlet:(o + 1) * per_outlet]
        members = []
        # A new outlet brands its own releases from the start: the first on day one, the rest within a month.
        release_at = [start] + [start + rng.uniform(0, 30) * DAY for _ in own[1:]]
        for j in range(size):
            a = add(f"out{o}_{j}", "outlet", platforms[j % len(platforms)], o)
            members.append(a.key)
            t = start + rng.uniform(0, 10) * DAY
            end = min(T0 + days * DAY, start + rng.uniform(60, 150) * DAY)
            while t < end:
                r = rng.random()
                if r < 0.35:
                    payload = bank_picture()
                elif r < 0.65:
                    payload = bank_text("translation")
                else:
                    live = [k for k, at in enumerate(release_at) if at <= t]
                    payload = {"pdq": rng.choice(own[rng.choice(live)])} if live else bank_picture()
                if "pdq" in payload and banked_mark and rng.random() < mark_recall:
                    payload["mark"] = banked_mark
                if rng.random() < 0.4:
                    payload["links"] = [channel if rng.random() < 0.6 else f"https://{site}/{rng.randrange(1000)}"]
                w.posts.append((t, a.key, payload))
                t += rng.expovariate(1.5) * DAY
        w.outlets[o] = members
    w.posts.sort(key=lambda p: (p[0], p[1]))
    # Text verdicts are drawn here (seeded): a translation or excerpt is found with probability text_recall.
    for _, _, payload in w.posts:
        if "text_item" in payload:
            payload["found"] = rng.random() < text_recall
    return w


def _bank_index(lib: Library):
    import numpy as np

    originals = [g[0] for g in lib.groups["bank"]]
    words = np.array([np.frombuffer(bytes.fromhex(v), dtype=">u8").astype(np.uint64) for v in originals])
    cache: dict[str, list[tuple[int, int]]] = {}

    def matches(value: str) -> list[tuple[int, int]]:
        if value not in cache:
            q = np.frombuffer(bytes.fromhex(value), dtype=">u8").astype(np.uint64)
            d = np.bitwise_count(words ^ q).sum(axis=1)
            cache[value] = [(int(i), int(d[i])) for i in np.flatnonzero(d <= 31)]
        return cache[value]

    return matches


def to_post(n: int, at: float, account: Account, payload: dict, bank_matches) -> Post:
    matches: list[PostMatch] = []
    unbanked: tuple = ()
    language = None
    if "pdq" in payload:
        for item, d in bank_matches(payload["pdq"]):
            matches.append(PostMatch(item, "known", "pdq", ("edited",) if d else ()))
        if not matches:
            unbanked = (("pdq", payload["pdq"]),)
    if "text_item" in payload:
        language = payload["lang"]
        if payload["found"]:
            how = ("translation",) if payload["how"] == "translation" else ("excerpt",)
            matches.append(PostMatch(100_000 + payload["text_item"], "known", "text_xling", how))
    if "mark" in payload:
        matches.append(PostMatch(payload["mark"], "marks", "keypoints", (), mark=True))
    links = tuple(payload.get("links", ()))
    domains = tuple(u.split("/")[2] for u in links)
    return Post(f"p{n}", account.key, account.platform, at, tuple(matches), unbanked, links, domains, language)


# -- measuring --------------------------------------------------------------------------------------------
def ari(truth: dict[str, str], found: dict[str, str]) -> float:
    from sklearn.metrics import adjusted_rand_score

    keys = sorted(set(truth) | set(found))
    return float(adjusted_rand_score([truth.get(k, f"solo:{k}") for k in keys], [found.get(k, f"solo:{k}") for k in keys]))


def run(world: World, lib: Library, settings: OutletSettings) -> dict:
    tracker = Tracker(settings, {"pdq": (pdq_hamming, 31.0, "distance")})
    bank_matches = _bank_index(lib)
    planted = {o: set(m) for o, m in world.outlets.items()}
    outlet_posts = defaultdict(int)
    detected_after: dict[int, int] = {}
    innocents: set[str] = set()
    started = time.perf_counter()
    for n, (at, key, payload) in enumerate(world.posts):
        account = world.accounts[key]
        if account.outlet is not None:
            outlet_posts[account.outlet] += 1
        changes = tracker.observe(to_post(n, at, account, payload, bank_matches))
        if changes.outlets:
            for outlet in tracker.communities.outlets.values():
                innocents |= {a for a in outlet.members if world.accounts[a].role in ("news", "researcher", "ordinary")}
                for o, members in planted.items():
                    if o in detected_after:
                        continue
                    common = len(outlet.members & members)
                    if common >= min(3, len(members)) and common >= 0.5 * len(outlet.members):
                        detected_after[o] = outlet_posts[o]
    elapsed = time.perf_counter() - started
    truth = {a: f"o{o}" for o, members in planted.items() for a in members}
    found = {a: f"d{oid}" for oid, o in tracker.communities.outlets.items() for a in o.members}
    candidates = list(tracker.candidates)
    right = sum(1 for cid in candidates if world.material.get(tracker.clusters.by_id[cid].value) in ("release", "bank"))
    roles = defaultdict(int)
    for a in innocents:
        roles[world.accounts[a].role] += 1
    flagged = defaultdict(int)
    for r in tracker.accounts.values():
        if r.flagged_at is not None:
            flagged[world.accounts[r.account].role] += 1
    lives = sorted(detected_after.values())
    return {
        "posts": len(world.posts), "accounts": len(world.accounts), "planted": len(planted),
        "detected": len(detected_after), "within_20": sum(1 for v in lives if v <= 20),
        "median_posts_to_detect": statistics.median(lives) if lives else None,
        "ari": round(ari(truth, found), 3), "innocents_in_outlets": dict(roles),
        "flagged": dict(flagged), "candidates": len(candidates), "candidate_precision":
            round(right / len(candidates), 3) if candidates else None,
        "seconds": round(elapsed, 1), "us_per_post": round(1e6 * elapsed / max(1, len(world.posts)), 1),
    }


def table(rows: list[tuple[int, dict]]) -> str:
    lines = ["| seed | posts | accounts | planted | detected | within 20 posts | median posts to detect | ARI | "
             "news/researchers/ordinary in outlets | flagged (outlet/news/researcher/ordinary) | candidates | precision | µs/post |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for seed, r in rows:
        inn = r["innocents_in_outlets"]
        fl = r["flagged"]
        lines.append(f"| {seed} | {r['posts']:,} | {r['accounts']:,} | {r['planted']} | {r['detected']} | "
                     f"{r['within_20']} ({r['within_20'] / max(1, r['planted']):.2f}) | {r['median_posts_to_detect']} | "
                     f"{r['ari']} | {inn.get('news', 0)}/{inn.get('researcher', 0)}/{inn.get('ordinary', 0)} | "
                     f"{fl.get('outlet', 0)}/{fl.get('news', 0)}/{fl.get('researcher', 0)}/{fl.get('ordinary', 0)} | "
                     f"{r['candidates']} | {r['candidate_precision']} | {r['us_per_post']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[tuple[int, dict]]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, action="append", help="repeatable; default 1")
    ap.add_argument("--smoke", action="store_true", help="a small stream: 600 ordinary accounts, 4 outlets, 60 days")
    ap.add_argument("--ordinary", type=int, default=20_000)
    ap.add_argument("--news", type=int, default=150)
    ap.add_argument("--researchers", type=int, default=90)
    ap.add_argument("--outlets", type=int, default=15)
    ap.add_argument("--days", type=int, default=180)
    ap.add_argument("--text-recall", type=float, default=0.85)
    ap.add_argument("--mark-recall", type=float, default=0.8)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="an outlets setting, e.g. min_member_strength=0.5")
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/crossmatch-eval-cache"))
    ap.add_argument("--json", type=Path)
    if "--smoke" in (argv if argv is not None else sys.argv[1:]):  # smaller defaults; explicit options still win
        ap.set_defaults(ordinary=600, news=12, researchers=9, outlets=4, days=60)
    args = ap.parse_args(argv)
    sizes = {"bank": 24 if args.smoke else 120, "release": 8 * args.outlets, "wire": 15 if args.smoke else 180}
    lib = Library.build(sizes, args.data, args.cache)
    overrides = {k: type(getattr(OutletSettings(), k))(v) for k, v in (s.split("=", 1) for s in args.set)}
    settings = OutletSettings(**overrides)
    rows = []
    for seed in args.seed or [1]:
        world = simulate(seed, lib, args.ordinary, args.news, args.researchers, args.outlets, args.days,
                         args.text_recall, args.mark_recall)
        rows.append((seed, run(world, lib, settings)))
    print(f"settings: {overrides or 'defaults'}")
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps({"settings": settings.model_dump(), "rows": rows}, indent=1))
    return rows


if __name__ == "__main__":
    main()
