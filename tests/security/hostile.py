"""A hostile-input corpus, and a runner that sends it through the API of a real server.

``generate(folder)`` writes files (bombs, truncations, NUL, RTL overrides, a million
zero-width characters, deep nesting, huge cells, renamed files) and returns them with the JSON
bodies that go beside them.  tests/security/test_sec_hostile.py runs the corpus through the CLI
and the API in-process; this script runs it against a real ``crossmatch serve`` and reports
what the issue note asks for: inputs tried and handled, 5xx count, peak server RSS.

    .venv/bin/python tests/security/hostile.py            # starts its own server on SQLite
"""

from __future__ import annotations

import io
import json
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from crossmatch.samples import make_poster, to_bytes

KNOWN = "The harbour festival opens on Saturday with a parade of painted boats along the river."


@dataclass
class Hostile:
    name: str
    route: str  # "lookup" (multipart file or JSON text) or "import" (a bank import upload)
    path: Path | None = None  # a file to upload
    body: bytes | None = None  # a raw JSON body to post


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height with one tiny compressed row: a pixel-limit bomb."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


def _flat_png(side: int) -> bytes:
    buf = io.BytesIO()
    Image.new("L", (side, side), 128).save(buf, "PNG")
    return buf.getvalue()


def _gif_frames(frames: int, side: int) -> bytes:
    buf = io.BytesIO()
    images = [Image.new("P", (side, side), i % 200) for i in range(frames)]
    images[0].save(buf, "GIF", save_all=True, append_images=images[1:], duration=10)
    return buf.getvalue()


def generate(folder: Path, large: bool = True) -> list[Hostile]:
    """The corpus in ``folder``; ``large`` adds the few inputs that take long to hash (the million-character ones)."""
    folder.mkdir(parents=True, exist_ok=True)
    poster = to_bytes(make_poster(4), "PNG")
    jpeg = to_bytes(make_poster(5), "JPEG")
    files: dict[str, bytes] = {
        # bombs
        "bomb-flat-7000.png": _flat_png(7000),
        "bomb-header-60000.png": _png_header_only(60000, 60000),
        "bomb-gif-400-frames.gif": _gif_frames(400, 256),
        # truncations
        "truncated.png": poster[: len(poster) // 2],
        "truncated.jpg": jpeg[: len(jpeg) // 3],
        "truncated-utf8.txt": (KNOWN + " é").encode()[:-1],
        "empty.txt": b"",
        # NUL, controls, direction overrides
        "nul.txt": KNOWN.replace("parade", "par\x00ade").encode(),
        "controls.txt": ("\x01\x02\x1b[31m" + KNOWN + "\x7f").encode(),
        "rtl-override.txt": ("\u202e" + KNOWN + "\u202c \u2066isolate\u2069 \u200f").encode(),
        "bad-links.txt": (KNOWN + " http://example.com:99999/ http://[::1/x https://[zz]/ http://%ff/").encode(),
        # deep nesting as content
        "deep-brackets.txt": ("[" * 20_000 + KNOWN + "]" * 20_000).encode(),
        # renamed files
        "png-named.txt": poster,
        "text-named.jpg": KNOWN.encode(),
        "random-named.mp4": bytes(range(256)) * 64,
        "fake-mp4-header.mp4": b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 4096,
        "jpeg-named.png": jpeg,
    }
    if large:
        files["zero-width-1m.txt"] = ("\u200b" * 1_000_000 + KNOWN).encode()
        files["long-3m-digits.txt"] = "".join(f"{i:09d} " for i in range(300_000)).encode()
    out = []
    for name, data in files.items():
        path = folder / name
        path.write_bytes(data)
        out.append(Hostile(name, "lookup", path=path))
    imports = {
        "huge-cell.csv": ("signal_type,signal,id,notes\n" + "md5,0cc175b9c0f1b6a831c399e269772661,a,x\n"
                          + "md5,92eb5ffee6ae2fec3ad71c777531578f,b," + "y" * 300_000 + "\n"
                          + "md5,4a8a08f09d37b73795649038408b5f33,c,z\n").encode(),
        "wide.csv": ("signal_type,signal," + ",".join(f"c{i}" for i in range(20_000)) + "\nmd5,0cc175b9c0f1b6a831c399e269772661"
                     + ",v" * 20_000 + "\n").encode(),
        "cr-media.jsonl": b'{"id":"p",\r"media":"/etc/passwd"}\n{"id":"z",\r"media":"/dev/zero"}\n',
        "deep.jsonl": ('{"id": "d", "text": "x", "labels": {"a": ' + "[" * 50_000 + "]" * 50_000 + "}}\n"
                       + json.dumps({"id": "ok", "url": "https://example.org/x"}) + "\n").encode(),
        "truncated.jsonl": (json.dumps({"id": "t", "text": KNOWN}) + "\n" + '{"id": "u", "text": "cut').encode(),
    }
    for name, data in imports.items():
        path = folder / name
        path.write_bytes(data)
        out.append(Hostile(name, "import", path=path))
    bodies = {
        "json-deep-body": b'{"text": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        "json-nul-text": json.dumps({"text": KNOWN.replace(" ", "\u0000", 2)}).encode(),
        "json-lone-surrogate": b'{"text": "\\ud800 ' + KNOWN.encode() + b'"}',
        "json-not-utf8": b'{"text": "\xff\xfe"}',
        "json-wrong-type": b'{"text": ["a"]}',
        "json-truncated": b'{"text": "abc',
        "json-bad-url": json.dumps({"url": "http://[::1/x"}).encode(),
    }
    out += [Hostile(name, "lookup", body=body) for name, body in bodies.items()]
    return out


def send(client, item: Hostile, headers: dict, bank: str = "hostile"):
    """One request for ``item`` through an httpx-like client (TestClient or httpx.Client)."""
    if item.route == "import":
        mime = "text/csv" if item.name.endswith(".csv") else "application/jsonl"
        return client.post(f"/api/v1/banks/{bank}/import", files={"file": (item.name, item.path.read_bytes(), mime)}, headers=headers)
    if item.body is not None:
        return client.post("/api/v1/lookup", content=item.body, headers={**headers, "Content-Type": "application/json"})
    return client.post("/api/v1/lookup", files={"file": (item.name, item.path.read_bytes(), "application/octet-stream")}, headers=headers)


def answered(item: Hostile, response) -> bool:
    """A per-item answer: a result naming what happened, or a 4xx naming the problem; never a 5xx."""
    if response.status_code >= 500:
        return False
    body = response.json()
    if response.status_code >= 400:
        return bool(body.get("detail"))
    if item.route == "import":
        return {"added", "errors"} <= set(body)
    # Not fully checked must be said: an error, or the deep pass queued for the asynchronous path.
    return "complete" in body and (body["complete"] or bool(body.get("error"))
                                   or (body.get("deep_pass") or {}).get("status") == "queued")


def main() -> int:
    import sys
    import tempfile
    import time

    import httpx

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    from api_load import free_port, running_server
    from hostile_body import peak_rss_mb

    from crossmatch.auth.tokens import TokenService  # noqa: F401  (the CLI makes the tokens)

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        corpus = generate(Path(tmp) / "corpus")
        import subprocess
        cm = str(Path(sys.executable).with_name("crossmatch"))
        tokens = {}
        for role in ("matcher", "curator"):
            out = subprocess.run([cm, "--home", str(home), "token", "create", "--role", role, "--name", f"hostile-{role}", "--json"],
                                 check=True, capture_output=True, text=True).stdout
            tokens[role] = json.loads(out.splitlines()[-1])["token"]
        subprocess.run([cm, "--home", str(home), "bank", "create", "hostile"], check=True, capture_output=True)
        port = free_port()
        with running_server(home, None, port, 1) as server:
            idle = peak_rss_mb(server.pid)
            tried = handled = five = 0
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=900) as client:
                for item in corpus:
                    role = "curator" if item.route == "import" else "matcher"
                    start = time.perf_counter()
                    r = send(client, item, {"Authorization": f"Bearer {tokens[role]}"})
                    ok = answered(item, r)
                    tried += 1
                    handled += ok
                    five += r.status_code >= 500
                    alive = client.get("/healthz").status_code == 200
                    summary = r.json().get("error") or r.json().get("detail") or ("complete" if r.json().get("complete") else "")
                    print(f"{item.name:26} {r.status_code} {'handled' if ok else 'NOT HANDLED':11} {time.perf_counter() - start:6.1f}s "
                          f"alive={alive} {str(summary)[:90]}", flush=True)
            peak = peak_rss_mb(server.pid)
    print(f"hostile inputs tried {tried}, handled {handled}, 5xx {five}; server RSS idle {idle:.0f} MiB, peak {peak:.0f} MiB")
    return 0 if handled == tried and five == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
