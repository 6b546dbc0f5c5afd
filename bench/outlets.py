"""Outlets benchmark: the account graph's update cost per post, and a full re-cluster, against
networkx's plain Louvain on the same graph.

Synthetic stream (seeded): ``--accounts`` accounts post ``--posts`` posts; ``--outlets`` planted
outlets (3-12 accounts) post edited known items, translations and their own releases; everyone else
posts their own pictures, links to common sites, and now and then a known item.  Every post goes
through :meth:`Tracker.observe` (records, clusters, graph, incremental Louvain of what changed).

Then both re-cluster the final graph from scratch: ours (every node dirty: Louvain per
evidence-connected component, then the member rules) against ``networkx.community.louvain_communities``
on the whole weighted graph, plain.  The issue asks for 1M accounts and 50M posts; the default
here is scaled down to what one shared 2-core machine runs in minutes (say so when you record it).

    .venv/bin/python bench/outlets.py --accounts 200000 --posts 1000000
    .venv/bin/python bench/outlets.py --smoke
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import networkx as nx  # noqa: E402

from crossmatch.outlets.clusters import pdq_hamming  # noqa: E402
from crossmatch.outlets.record import DAY, Post, PostMatch  # noqa: E402
from crossmatch.outlets.tracker import Tracker  # noqa: E402
from crossmatch.settings import OutletSettings  # noqa: E402

T0 = 1_767_225_600.0


def stream(accounts: int, posts: int, outlets: int, seed: int):
    rng = random.Random(seed)
    members = []
    for o in range(outlets):
        size = rng.randint(3, 12)
        releases = [f"{rng.getrandbits(256):064x}" for _ in range(6)]
        members.append(([f"o{o}_{j}" for j in range(size)], releases, [f"https://t.me/o{o}"]))
    outlet_share = sum(len(m[0]) for m in members) * 20 / max(1, posts)  # about 20 posts per outlet account
    for n in range(posts):
        at = T0 + n / posts * 180 * DAY
        if rng.random() < outlet_share:
            accts, releases, links = rng.choice(members)
            account = rng.choice(accts)
            r = rng.random()
            if r < 0.35:
                post = Post(f"p{n}", account, "telegram", at, (PostMatch(rng.randrange(500), "k", "pdq", ("edited",)),))
            elif r < 0.65:
                post = Post(f"p{n}", account, "vk", at, (PostMatch(1000 + rng.randrange(500), "k", "text_xling", ("translation",)),))
            else:
                post = Post(f"p{n}", account, "telegram", at, (), (("pdq", rng.choice(releases)),), tuple(links))
        else:
            account = f"a{rng.randrange(accounts)}"
            matches = (PostMatch(rng.randrange(500), "k", "pdq", ()),) if rng.random() < 0.002 else ()
            unbanked = (("pdq", f"{rng.getrandbits(256):064x}"),) if rng.random() < 0.4 else ()
            links = (f"https://site{rng.randrange(50)}.example/{n}",) if rng.random() < 0.05 else ()
            post = Post(f"p{n}", account, "x", at, matches, unbanked, links,
                        tuple(u.split("/")[2] for u in links))
        yield post


def run(accounts: int, posts: int, outlets: int, seed: int) -> dict:
    settings = OutletSettings()
    tracker = Tracker(settings, {"pdq": (pdq_hamming, 31.0, "distance")})
    reclusters = 0
    update = tracker.communities.update

    def counted(*args):
        nonlocal reclusters
        reclusters += 1
        return update(*args)

    tracker.communities.update = counted
    start = time.perf_counter()
    for post in stream(accounts, posts, outlets, seed):
        tracker.observe(post)
    ingest_s = time.perf_counter() - start
    g = tracker.graph
    # Full re-cluster from scratch: ours (every node dirty) against plain Louvain on the whole graph.
    from crossmatch.outlets.communities import Communities

    ours = Communities(settings.louvain_resolution, settings.min_outlet_accounts, settings.min_member_strength,
                       0, settings.min_member_features, settings.min_member_purity)
    g.dirty = set(g.g.nodes)
    start = time.perf_counter()
    found = ours.update(g, T0)
    ours_s = time.perf_counter() - start
    start = time.perf_counter()
    plain = nx.community.louvain_communities(g.g, weight="weight", seed=0)
    plain_s = time.perf_counter() - start
    return {"accounts": accounts, "posts": posts, "planted_outlets": outlets, "flagged_nodes": g.g.number_of_nodes(),
            "edges": g.g.number_of_edges(), "us_per_post": round(1e6 * ingest_s / posts, 1),
            "ingest_s": round(ingest_s, 1), "outlets_found": len(ours.outlets), "changes": len(found),
            "full_recluster_ours_s": round(ours_s, 3), "plain_louvain_s": round(plain_s, 3),
            "plain_communities": len(plain), "ratio_plain_over_ours": round(plain_s / max(ours_s, 1e-9), 2),
            # The non-incremental alternative: plain Louvain of the whole graph after every post that changed it.
            "reclusters": reclusters, "plain_every_change_us_per_post": round(1e6 * reclusters * plain_s / posts, 1),
            "load": os.getloadavg()[0]}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--accounts", type=int, default=200_000)
    ap.add_argument("--posts", type=int, default=1_000_000)
    ap.add_argument("--outlets", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args(argv)
    if args.smoke:
        args.accounts, args.posts, args.outlets = 2000, 20_000, 10
    result = run(args.accounts, args.posts, args.outlets, args.seed)
    print("| accounts | posts | flagged nodes | edges | µs/post, ours (incremental) | µs/post, plain Louvain after each "
          "graph change (estimated) | ratio | full re-cluster, ours s | networkx plain Louvain s | outlets found | load (1 min) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    r = result
    ratio = r["plain_every_change_us_per_post"] / max(r["us_per_post"], 1e-9)
    print(f"| {r['accounts']:,} | {r['posts']:,} | {r['flagged_nodes']:,} | {r['edges']:,} | {r['us_per_post']} | "
          f"{r['plain_every_change_us_per_post']} | {ratio:.1f}x | {r['full_recluster_ours_s']} | {r['plain_louvain_s']} | "
          f"{r['outlets_found']} | {r['load']:.2f} |")
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
