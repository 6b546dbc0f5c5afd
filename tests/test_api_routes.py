"""The JSON API end to end: every route group, its roles, and its error paths."""

from __future__ import annotations

import hashlib
import json

import pytest
from alembic.script import ScriptDirectory

from crossmatch.samples import make_poster, to_bytes
from crossmatch.store.db import alembic_config
from test_api_support import api, unique  # noqa: F401  (fixture)

ROLES = ("hasher", "matcher", "curator", "reviewer", "admin")

# (method, path, roles that pass the role check; admin always does)
ROUTES = [
    ("POST", "/api/v1/hash", {"hasher", "matcher"}),
    ("POST", "/api/v1/lookup", {"matcher"}),
    ("POST", "/api/v1/lookup/signal", {"matcher"}),
    ("POST", "/api/v1/submissions", {"matcher"}),
    ("GET", "/api/v1/submissions/999999", {"matcher"}),
    ("GET", "/api/v1/banks", {"curator", "reviewer"}),
    ("POST", "/api/v1/banks", {"curator"}),
    ("GET", "/api/v1/banks/nope", {"curator", "reviewer"}),
    ("PATCH", "/api/v1/banks/nope", {"curator"}),
    ("DELETE", "/api/v1/banks/nope", {"curator"}),
    ("PUT", "/api/v1/banks/nope/policy", {"curator"}),
    ("GET", "/api/v1/banks/nope/items", {"curator", "reviewer"}),
    ("PUT", "/api/v1/banks/nope/items", {"curator"}),
    ("POST", "/api/v1/banks/nope/import", {"curator"}),
    ("GET", "/api/v1/webhooks", set()),
    ("POST", "/api/v1/webhooks", set()),
    ("GET", "/api/v1/actions", set()),
    ("POST", "/api/v1/actions/999999/retry", set()),
    ("POST", "/api/v1/tokens", set()),
    ("GET", "/api/v1/tokens", set()),
    ("GET", "/api/v1/users", set()),
    ("GET", "/api/v1/audit", set()),
]


def test_health_ready_metrics_openapi_need_no_auth(api):
    c = api.client
    assert c.get("/healthz").json() == {"status": "ok"}
    ready = c.get("/readyz")
    heads = ScriptDirectory.from_config(alembic_config(api.state.ctx.db)).get_heads()
    assert ready.status_code == 200 and ready.json()["heads"] == sorted(heads) and len(heads) >= 3  # one per area branch
    spec = c.get("/openapi.json").json()
    assert "/api/v1/lookup/signal" in spec["paths"] and "HTTPBearer" in spec["components"]["securitySchemes"]
    c.get("/api/v1/banks", headers=api.h("reviewer"))
    metrics = c.get("/metrics").text
    assert 'crossmatch_http_requests_total{method="GET",route="/api/v1/banks",status="200"}' in metrics
    assert "crossmatch_actions" in metrics


@pytest.mark.parametrize("method,path,allowed", ROUTES)
def test_roles(api, method, path, allowed):
    c = api.client
    anonymous = c.request(method, path)
    assert anonymous.status_code == 401 and anonymous.json()["error"] == "Unauthenticated"
    assert "token create" in anonymous.json()["detail"]
    for role in ROLES:
        response = c.request(method, path, headers=api.h(role))
        if role in allowed or role == "admin":
            assert response.status_code not in (401, 403), (role, response.text)
        else:
            assert response.status_code == 403, (role, response.text)
            assert role in response.json()["detail"] and response.json()["error"] == "Forbidden"


def test_bad_credentials(api):
    c = api.client
    assert c.get("/api/v1/banks", headers={"Authorization": "Bearer cm_not-a-token"}).status_code == 401
    bad_scheme = c.get("/api/v1/banks", headers={"Authorization": "Basic abc"})
    assert bad_scheme.status_code == 401 and "Bearer" in bad_scheme.json()["detail"]
    assert bad_scheme.headers["WWW-Authenticate"] == "Bearer"


def test_session_sign_in_works_for_json_routes(api):
    c = api.client
    rita = unique("rita")
    api.state.users.create(rita, "a long enough password", "reviewer")
    cookie = api.session_cookie(rita, "reviewer")
    try:
        c.cookies.set("crossmatch_session", cookie)
        assert c.get("/api/v1/banks").status_code == 200
        assert c.post("/api/v1/banks", json={"name": unique()}).status_code == 403
        c.cookies.set("crossmatch_session", cookie[:-2] + ("AA" if not cookie.endswith("AA") else "BB"))
        assert c.get("/api/v1/banks").status_code == 401
        c.cookies.set("crossmatch_session", api.session_cookie(unique("ghost"), "admin"))  # signed, but no such user
        assert c.get("/api/v1/banks").status_code == 401
        api.state.users.disable(rita)
        c.cookies.set("crossmatch_session", cookie)
        gone = c.get("/api/v1/banks")
        assert gone.status_code == 401 and "disabled" in gone.json()["detail"]
    finally:
        c.cookies.clear()


def test_bank_crud_and_errors(api):
    c, cur = api.client, api.h("curator")
    name = unique()
    created = c.post("/api/v1/banks", json={"name": name, "thresholds": {"pdq": 20}, "labels": {"src": "test"}}, headers=cur)
    assert created.status_code == 201 and created.json()["thresholds"] == {"pdq": 20.0}
    dup = c.post("/api/v1/banks", json={"name": name}, headers=cur)
    assert dup.status_code == 409 and dup.json()["error"] == "Conflict" and name in dup.json()["detail"]
    bad = c.post("/api/v1/banks", json={"name": "bad name!"}, headers=cur)
    assert bad.status_code == 422 and "name" in bad.json()["detail"]
    assert c.post("/api/v1/banks", json={"name": unique(), "thresholds": {"nosuch": 1}}, headers=cur).status_code == 422
    assert c.post("/api/v1/banks", json={"name": unique(), "kind": "maybe"}, headers=cur).status_code == 422
    missing = c.get(f"/api/v1/banks/{unique()}", headers=api.h("reviewer"))
    assert missing.status_code == 404 and missing.json()["error"] == "NotFound"
    patched = c.patch(f"/api/v1/banks/{name}", json={"enabled": False, "description": "x"}, headers=cur)
    assert patched.status_code == 200 and patched.json()["enabled"] is False
    assert c.patch(f"/api/v1/banks/{name}", json={}, headers=cur).status_code == 422
    got = c.get(f"/api/v1/banks/{name}", headers=api.h("reviewer")).json()
    assert got["description"] == "x" and got["items"] == 0
    assert name in [b["name"] for b in c.get("/api/v1/banks", headers=cur).json()]
    assert c.delete(f"/api/v1/banks/{name}", headers=cur).status_code == 204
    assert c.get(f"/api/v1/banks/{name}", headers=cur).status_code == 404
    trail = c.get("/api/v1/audit", params={"action": "bank."}, headers=api.h("admin")).json()
    mine = [(r["action"], r["actor"]) for r in trail if r["target"] == name]
    assert ("bank.create", api.actors["curator"]) in mine and ("bank.delete", api.actors["curator"]) in mine


def test_items_and_md5_lookup(api):
    c, cur, mat = api.client, api.h("curator"), api.h("matcher")
    name = unique()
    c.post("/api/v1/banks", json={"name": name}, headers=cur)
    data = to_bytes(make_poster(11))
    md5 = hashlib.md5(data).hexdigest()
    put = c.put(f"/api/v1/banks/{name}/items", headers=cur, json={"items": [
        {"id": "posters/11.jpg", "signals": [{"type": "md5", "value": md5.upper()}], "labels": {"entity": "Test Group"}}]})
    assert put.status_code == 200 and put.json()["statuses"] == {"posters/11.jpg": "added"}
    again = c.put(f"/api/v1/banks/{name}/items", headers=cur, json={"items": [
        {"id": "posters/11.jpg", "signals": [{"type": "md5", "value": md5}], "labels": {"entity": "Test Group"}}]})
    assert again.json()["statuses"] == {"posters/11.jpg": "unchanged"}
    bad = c.put(f"/api/v1/banks/{name}/items", headers=cur, json={"items": [{"id": "x", "signals": [{"type": "md5", "value": "zz"}]}]})
    assert bad.status_code == 422 and "'x'" in bad.json()["detail"] and "md5" in bad.json()["detail"]
    item = c.get(f"/api/v1/banks/{name}/items/posters/11.jpg", headers=api.h("reviewer")).json()
    assert item["signals"][0]["value"] == md5 and item["labels"]["entity"] == "Test Group"
    assert c.get(f"/api/v1/banks/{name}/items/nope", headers=cur).status_code == 404

    by_signal = c.post("/api/v1/lookup/signal", json={"signal_type": "md5", "signal": md5}, headers=mat)
    assert by_signal.status_code == 200
    [match] = [m for m in by_signal.json()["matches"] if m["bank"] == name]
    assert match["bank_item"] == "posters/11.jpg" and match["distance"] == 0 and match["item_labels"]["entity"] == "Test Group"
    by_upload = c.post("/api/v1/lookup", files={"file": ("upload.jpg", data, "image/jpeg")}, headers=mat)
    assert by_upload.status_code == 200 and by_upload.json()["kind"] == "image"
    assert {(m["bank"], m["signal_type"]) for m in by_upload.json()["matches"]} >= {(name, "md5")}

    disabled = c.patch(f"/api/v1/banks/{name}/items/posters/11.jpg", json={"enabled": False}, headers=cur)
    assert disabled.status_code == 200 and disabled.json()["enabled"] is False
    after = c.post("/api/v1/lookup/signal", json={"signal_type": "md5", "signal": md5}, headers=mat).json()
    assert not [m for m in after["matches"] if m["bank"] == name]
    assert c.delete(f"/api/v1/banks/{name}/items/posters/11.jpg", headers=cur).status_code == 204
    assert c.get(f"/api/v1/banks/{name}/items", headers=cur).json() == []


def test_pdq_lookup_finds_an_edited_copy(api):
    c, cur, mat = api.client, api.h("curator"), api.h("matcher")
    name = unique()
    c.post("/api/v1/banks", json={"name": name}, headers=cur)
    original = to_bytes(make_poster(21))
    signals = c.post("/api/v1/hash", files={"file": ("p.jpg", original, "image/jpeg")}, headers=api.h("hasher")).json()["signals"]
    pdq = [s for s in signals if s["type"] == "pdq" and not s.get("meta", {}).get("query_only")]
    assert pdq, signals
    c.put(f"/api/v1/banks/{name}/items", headers=cur, json={"items": [{"id": "p21", "signals": [{"type": "pdq", "value": pdq[0]["value"]}]}]})
    edited = to_bytes(make_poster(21), quality=40)  # recompressed copy: different bytes, same picture
    result = c.post("/api/v1/lookup", files={"file": ("copy.jpg", edited, "image/jpeg")}, headers=mat).json()
    [match] = [m for m in result["matches"] if m["bank"] == name and m["signal_type"] == "pdq"]
    assert match["bank_item"] == "p21" and match["distance"] <= match["threshold"]
    unrelated = c.post("/api/v1/lookup", files={"file": ("u.jpg", to_bytes(make_poster(99)), "image/jpeg")}, headers=mat).json()
    assert not [m for m in unrelated["matches"] if m["bank"] == name]


def test_hash_and_lookup_input_errors(api):
    c, mat = api.client, api.h("matcher")
    text = c.post("/api/v1/hash", json={"text": "A benign test sentence about the weather in spring, repeated for length."}, headers=mat)
    assert text.status_code == 200 and text.json()["kind"] == "text"
    assert "text_near" in {s["type"] for s in text.json()["signals"]}
    for body in ({}, {"text": "a", "url": "http://x"}, {"text": 5}, {"text": "a", "extra": 1}):
        r = c.post("/api/v1/hash", json=body, headers=mat)
        assert r.status_code == 422 and r.json()["error"] == "InvalidInput", body
    notjson = c.post("/api/v1/hash", content=b"{nope", headers={**mat, "Content-Type": "application/json"})
    assert notjson.status_code == 422 and "JSON" in notjson.json()["detail"]
    wrongtype = c.post("/api/v1/hash", content=b"x", headers={**mat, "Content-Type": "text/plain"})
    assert wrongtype.status_code == 422 and "multipart" in wrongtype.json()["detail"]
    empty = c.post("/api/v1/lookup", files={"file": ("e.jpg", b"", "image/jpeg")}, headers=mat)
    assert empty.status_code == 422 and "e.jpg" in empty.json()["detail"]
    nofile = c.post("/api/v1/lookup", data={"source": "x"}, files={"other": ("a.txt", b"hi", "text/plain")}, headers=mat)
    assert nofile.status_code == 422 and "'file'" in nofile.json()["detail"]
    corrupt = c.post("/api/v1/lookup", files={"file": ("broken.jpg", b"\xff\xd8\xff\xe0garbage", "image/jpeg")}, headers=mat)
    assert corrupt.status_code == 200 and corrupt.json()["error"]  # reported per item, like the CLI
    unknown = c.post("/api/v1/lookup/signal", json={"signal_type": "nosuch", "signal": "00"}, headers=mat)
    assert unknown.status_code == 422 and "known types" in unknown.json()["detail"]
    badpdq = c.post("/api/v1/lookup/signal", json={"signal_type": "pdq", "signal": "xyz"}, headers=mat)
    assert badpdq.status_code == 422 and "pdq" in badpdq.json()["detail"]
    assert c.post("/api/v1/lookup/signal", json={"signal_type": "pdq"}, headers=mat).status_code == 422


def test_upload_limit(api):
    limit = api.state.settings.service.max_upload_bytes
    api.state.settings.service.max_upload_bytes = 1000
    try:
        r = api.client.post("/api/v1/hash", files={"file": ("big.bin", b"x" * 5000, "application/octet-stream")}, headers=api.h("hasher"))
        assert r.status_code == 422 and "1000-byte" in r.json()["detail"]
    finally:
        api.state.settings.service.max_upload_bytes = limit


def test_import_csv_and_jsonl(api):
    c, cur = api.client, api.h("curator")
    name = unique()
    c.post("/api/v1/banks", json={"name": name}, headers=cur)
    md5s = [hashlib.md5(str(i).encode()).hexdigest() for i in range(3)]
    csv = "signal_type,signal,id,entity\n" + "".join(f"md5,{h},item{i},Group\n" for i, h in enumerate(md5s)) + "md5,nothex,bad,Group\n"
    r = c.post(f"/api/v1/banks/{name}/import", files={"file": ("list.csv", csv.encode(), "text/csv")}, headers=cur)
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["added"] == 3 and len(report["errors"]) == 1 and "list.csv" in report["errors"][0]["item"]
    again = c.post(f"/api/v1/banks/{name}/import", files={"file": ("list.csv", csv.encode(), "text/csv")}, headers=cur).json()
    assert again["added"] == 0 and again["unchanged"] == 3
    jsonl = json.dumps({"id": "t1", "text": "A benign sample sentence for the import test, long enough to shingle."}) + "\n"
    r = c.post(f"/api/v1/banks/{name}/import", files={"file": ("items.jsonl", jsonl.encode(), "application/jsonl")}, headers=cur)
    assert r.status_code == 200 and r.json()["added"] == 1
    sneaky = json.dumps({"id": "m", "media": "/etc/hostname"}) + "\n"
    r = c.post(f"/api/v1/banks/{name}/import", files={"file": ("items.jsonl", sneaky.encode(), "application/jsonl")}, headers=cur)
    assert r.status_code == 422 and "items.jsonl:1" in r.json()["detail"]
    r = c.post(f"/api/v1/banks/{name}/import", files={"file": ("list.txt", b"x", "text/plain")}, headers=cur)
    assert r.status_code == 422 and ".csv" in r.json()["detail"]
    assert c.post(f"/api/v1/banks/{unique()}/import", files={"file": ("l.csv", csv.encode(), "text/csv")}, headers=cur).status_code == 404


def test_policy_routes(api):
    c, cur = api.client, api.h("curator")
    name = unique()
    c.post("/api/v1/banks", json={"name": name}, headers=cur)
    assert c.get(f"/api/v1/banks/{name}/policy", headers=api.h("reviewer")).json()["on_match"] == "review"
    put = c.put(f"/api/v1/banks/{name}/policy", json={"on_match": "auto", "auto_max_distance": 10}, headers=cur)
    assert put.status_code == 200
    assert c.get(f"/api/v1/banks/{name}/policy", headers=cur).json() == {"on_match": "auto", "auto_max_distance": 10.0, "auto_min_score": None}
    assert c.put(f"/api/v1/banks/{name}/policy", json={"on_match": "sometimes"}, headers=cur).status_code == 422
    assert c.patch(f"/api/v1/banks/{name}", json={"options": {"policy": {"on_match": 3}}}, headers=cur).status_code == 422


def test_tokens_users_and_audit_routes(api):
    c, adm = api.client, api.h("admin")
    made = c.post("/api/v1/tokens", json={"role": "hasher", "name": "platform-upload"}, headers=adm)
    assert made.status_code == 201
    token, token_id = made.json()["token"], made.json()["id"]
    listed = c.get("/api/v1/tokens", headers=adm).json()
    assert all("token" not in t or t["token"] is None for t in listed) and token_id in [t["id"] for t in listed]
    use = {"Authorization": f"Bearer {token}"}
    assert c.post("/api/v1/hash", json={"text": "hello there"}, headers=use).status_code == 200
    assert c.delete(f"/api/v1/tokens/{token_id}", headers=adm).json()["revoked"] is True
    assert c.post("/api/v1/hash", json={"text": "hello there"}, headers=use).status_code == 401
    assert c.delete("/api/v1/tokens/999999", headers=adm).status_code == 404
    assert c.post("/api/v1/tokens", json={"role": "root"}, headers=adm).status_code == 422

    user = unique("u")
    assert c.post("/api/v1/users", json={"username": user, "password": "correct horse battery", "role": "reviewer"}, headers=adm).status_code == 201
    assert c.post("/api/v1/users", json={"username": user, "password": "correct horse battery", "role": "reviewer"}, headers=adm).status_code == 409
    assert c.post("/api/v1/users", json={"username": unique("u"), "password": "short", "role": "reviewer"}, headers=adm).status_code == 422
    assert c.post(f"/api/v1/users/{user}/disable", headers=adm).json()["enabled"] is False
    assert c.post("/api/v1/users/nobody-here/disable", headers=adm).status_code == 404

    trail = c.get("/api/v1/audit", params={"actor": api.actors["admin"], "limit": 50}, headers=adm).json()
    actions = [r["action"] for r in trail]
    assert {"token.create", "token.revoke", "user.create", "user.disable"} <= set(actions)
    assert trail == sorted(trail, key=lambda r: r["id"], reverse=True)
    assert c.get("/api/v1/audit", params={"limit": 0}, headers=adm).status_code == 422
    # Append-only: there is no route that edits or deletes the trail.
    assert c.delete("/api/v1/audit", headers=adm).status_code == 405
    assert c.put("/api/v1/audit", json={}, headers=adm).status_code == 405


def test_unknown_route_is_a_json_404(api):
    r = api.client.get("/api/v1/nothing-here")
    assert r.status_code == 404 and r.json()["error"] == "NotFound" and "/docs" in r.json()["detail"]
