"""HMA-compatible /h, /m, /c routes: request and response shapes as HMA's OpenMediaMatch blueprints define them."""

from __future__ import annotations

import time

from crossmatch.samples import make_poster, to_bytes
from test_api_support import api, unique  # noqa: F401  (fixture)


def _jpeg(seed: int, quality: int = 90) -> bytes:
    return to_bytes(make_poster(seed), quality=quality)


def test_hma_routes_need_a_token_unless_anonymous_mode(api):
    c = api.client
    assert c.get("/c/banks").status_code == 401
    assert c.get("/m/raw_lookup", params={"signal_type": "md5", "signal": "0" * 32}).status_code == 401
    assert c.get("/c/banks", headers=api.h("reviewer")).status_code == 403
    assert c.get("/c/banks", headers=api.h("curator")).status_code == 200
    api.state.settings.exchange.hma_anonymous = True
    try:
        assert c.get("/c/banks").status_code == 200
        assert c.get("/m/raw_lookup", params={"signal_type": "md5", "signal": "0" * 32}).json() == {"matches": []}
    finally:
        api.state.settings.exchange.hma_anonymous = False


def test_hma_bank_content_hash_lookup_compare_flow(api):
    c, cur, mat = api.client, api.h("curator"), api.h("matcher")
    bank = unique("HMA").upper().replace("-", "_")
    created = c.post("/c/banks", json={"name": bank}, headers=cur)
    assert created.status_code == 201 and created.json() == {"name": bank, "matching_enabled_ratio": 1.0}
    assert c.post("/c/banks", json={"name": bank}, headers=cur).status_code == 403  # HMA: already exists
    assert {"name": bank, "matching_enabled_ratio": 1.0} in c.get("/c/banks", headers=cur).json()

    original = _jpeg(7)
    added = c.post(f"/c/bank/{bank}/content", files={"photo": ("poster.jpg", original, "image/jpeg")},
                   params={"metadata": '{"content_id": "poster-7"}'}, headers=cur)
    assert added.status_code == 200, added.text
    content_id, signals = added.json()["id"], added.json()["signals"]
    assert isinstance(content_id, int) and len(signals["pdq"]) == 64

    shown = c.get(f"/c/bank/{bank}/content/{content_id}", params={"include_signals": "true"}, headers=cur).json()
    assert shown["id"] == content_id and shown["disable_until_ts"] == 1 and shown["bank"]["name"] == bank
    assert shown["signals"]["pdq"] == signals["pdq"] and shown["original_media_uri"] is None

    hashed = c.post("/h/hash", files={"photo": ("q.jpg", _jpeg(7, quality=40), "image/jpeg")}, headers=api.h("hasher"))
    assert hashed.status_code == 200 and set(hashed.json()) == {"pdq"}
    assert c.post("/h/hash", files={"audio": ("a.bin", b"x", "application/octet-stream")}, headers=mat).json() == {
        "message": "no such content_type: 'audio'"}
    assert c.get("/h/hash", params={"url": "http://127.0.0.1:9/x.jpg"}, headers=mat).status_code == 400

    raw = c.get("/m/raw_lookup", params={"signal_type": "pdq", "signal": signals["pdq"]}, headers=mat)
    assert raw.json() == {"matches": [content_id]}
    raw = c.get("/m/raw_lookup", params={"signal_type": "pdq", "signal": signals["pdq"], "include_distance": "true"}, headers=mat)
    assert raw.json() == {"matches": [{"bank_content_id": content_id, "distance": "0"}]}
    by_bank = c.get("/m/lookup", params={"signal_type": "pdq", "signal": signals["pdq"]}, headers=mat).json()
    assert by_bank[bank] == [{"bank_content_id": content_id, "distance": "0"}]

    uploaded = c.post("/m/lookup", files={"photo": ("q.jpg", _jpeg(7, quality=40), "image/jpeg")}, headers=mat).json()
    assert uploaded["pdq"][bank][0]["bank_content_id"] == content_id and int(uploaded["pdq"][bank][0]["distance"]) <= 31
    assert c.post("/m/lookup", files={"photo": ("u.jpg", _jpeg(99), "image/jpeg")}, headers=mat).json()["pdq"] == {}

    compared = c.post("/m/compare", json={"pdq": [signals["pdq"], hashed.json()["pdq"]]}, headers=mat).json()
    assert compared["pdq"][0] is True and 0 <= compared["pdq"][1]["distance"] <= 31
    assert c.post("/m/compare", json={"pdq": ["zz", "zz"]}, headers=mat).json()["message"].startswith("Invalid pdq hash")
    assert c.post("/m/compare", json={"pdq": [signals["pdq"]]}, headers=mat).status_code == 400
    assert c.get("/m/lookup", params={"signal_type": "nope", "signal": "x"}, headers=mat).status_code == 400

    status = c.get("/m/index/status", params={"signal_type": "pdq"}, headers=mat).json()
    assert status["pdq"]["present"] is True and status["pdq"]["size"] >= 1

    # Disabling the bank (enabled_ratio 0) or the content stops matches, as in HMA.
    assert c.put(f"/c/bank/{bank}", json={"enabled_ratio": 0}, headers=cur).json()["matching_enabled_ratio"] == 0.0
    assert bank not in c.get("/m/lookup", params={"signal_type": "pdq", "signal": signals["pdq"]}, headers=mat).json()
    c.put(f"/c/bank/{bank}", json={"enabled": True}, headers=cur)
    until = int(time.time()) + 86400 * 365
    disabled = c.put(f"/c/bank/{bank}/content/{content_id}", json={"disable_until_ts": until}, headers=cur).json()
    assert disabled["disable_until_ts"] == until
    assert bank not in c.get("/m/lookup", params={"signal_type": "pdq", "signal": signals["pdq"]}, headers=mat).json()

    by_signal = c.post(f"/c/bank/{bank}/signal", json={"md5": "0cc175b9c0f1b6a831c399e269772661"}, headers=cur).json()
    assert by_signal["signals"] == {"md5": "0cc175b9c0f1b6a831c399e269772661"} and isinstance(by_signal["id"], int)
    assert c.post(f"/c/bank/{bank}/signal", json={"pdq": "nothex"}, headers=cur).status_code == 400
    assert c.delete(f"/c/bank/{bank}/content/{by_signal['id']}", headers=cur).json() == {"deleted": 1}
    assert c.get(f"/c/bank/{bank}/content/{by_signal['id']}", headers=cur).status_code == 404
    assert c.delete(f"/c/bank/{bank}", headers=cur).json() == {"message": "Done"}
    missing = c.get(f"/c/bank/{bank}", headers=cur)
    assert missing.status_code == 404 and "message" in missing.json()


def test_hma_lookup_upload_gets_crossmatch_recall(api):
    """Through HMA's routes an upload runs the whole pipeline: a mirrored copy of a banked image matches."""
    from PIL import ImageOps

    c, cur = api.client, api.h("curator")
    bank = unique("HMAFLIP").upper().replace("-", "_")
    assert c.post("/c/banks", json={"name": bank}, headers=cur).status_code == 201
    poster = make_poster(21)
    added = c.post(f"/c/bank/{bank}/content", files={"photo": ("p.jpg", to_bytes(poster), "image/jpeg")}, headers=cur).json()
    flipped = to_bytes(ImageOps.mirror(poster))
    found = c.post("/m/lookup", files={"photo": ("f.jpg", flipped, "image/jpeg")}, headers=cur)
    assert found.status_code == 200 and found.headers["X-Crossmatch-Complete"] in ("true", "false")
    assert any(m["bank_content_id"] == added["id"] for by_bank in found.json().values() for m in by_bank.get(bank, []))
    # the plain hash of the mirrored image alone is far from the banked one (HMA would miss it)
    plain = c.get("/m/lookup", params={"signal_type": "pdq", "signal": c.post("/h/hash", files={
        "photo": ("f.jpg", flipped, "image/jpeg")}, headers=cur).json()["pdq"]}, headers=cur).json()
    assert bank not in plain


def test_hma_lookup_by_file_runs_the_deep_pass_within_its_own_budget(tmp_path):
    """An HMA client reads only the synchronous answer, so HMA's /m/lookup has its own deep-pass
    budget (exchange.hma_deep_budget_s): a poster pasted into another picture, which only the deep
    pass finds, is found through HMA's route while crossmatch's own route (budget 0) queues it."""
    import io

    import pytest
    from fastapi.testclient import TestClient

    from crossmatch.api.app import create_app
    from crossmatch.settings import ExchangeSettings, ServiceSettings, Settings
    from test_allow_rule import photo

    pytest.importorskip("cv2")
    settings = Settings(home=tmp_path / "home", workers=1, deep_scan=True,
                        service=ServiceSettings(background_workers=False, rate_per_second=0, deep_budget_s=0.0),
                        exchange=ExchangeSettings(hma_deep_budget_s=120.0))  # generous: no timing in a test
    app = create_app(settings)
    with TestClient(app) as c:
        cur = {"Authorization": f"Bearer {app.state.tokens.create('curator', 'deep-hma')[0]}"}
        assert c.post("/c/banks", json={"name": "DEEP_HMA"}, headers=cur).status_code == 201
        poster = photo(3)
        added = c.post("/c/bank/DEEP_HMA/content", files={"photo": ("p.jpg", to_bytes(poster), "image/jpeg")},
                       headers=cur).json()
        scene = photo(99, (900, 700))
        scene.paste(poster.resize((448, 336)), (120, 90))  # picture in picture, at 70 %
        buf = io.BytesIO()
        scene.save(buf, "PNG")
        found = c.post("/m/lookup", files={"photo": ("s.png", buf.getvalue(), "image/png")}, headers=cur)
        assert found.status_code == 200 and found.headers["X-Crossmatch-Complete"] == "true"
        assert any(m["bank_content_id"] == added["id"] for by_bank in found.json().values()
                   for m in by_bank.get("DEEP_HMA", [])), found.json()
        matcher = {"Authorization": f"Bearer {app.state.tokens.create('matcher', 'deep-own')[0]}"}
        own = c.post("/api/v1/lookup", files={"file": ("s.png", buf.getvalue(), "image/png")}, headers=matcher)
        assert own.status_code == 200, own.text
        assert own.json()["deep_pass"]["status"] == "queued" and own.json()["matches"] == []
    app.state.ctx.close()
