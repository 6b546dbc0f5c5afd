"""HMA's own API tests, ported to run against `crossmatch serve` over HTTP.

Ported from facebook/ThreatExchange hasher-matcher-actioner/src/OpenMediaMatch/tests
(test_api.py, test_api_banks.py, test_match_api.py, test_e2e_workflow.py): same
requests, same assertions, with these changes, each marked "crossmatch:" below:

* The client is an HTTP session carrying one curator token (what an HMA client needs:
  ``crossmatch token create --role curator``); HMA has no auth.
* One server serves the module; each test starts from no banks and no exchanges
  (HMA drops its tables), so content ids are read from answers, not assumed to be 1.
* Index builds are not triggered: crossmatch's index is read-your-writes.
* URL fetching is allowed for 127.0.0.1 only (``exchange.hma_fetch_hosts``); images that
  HMA's tests fetch from github.com are served locally.
* HMA's second test image (a quarter of the first, enlarged) is replaced by another picture.
* Checks of HMA internals (monkeypatched index caches, storage calls) are dropped;
  exchange credentials are refused (crossmatch keeps them out of its database).
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from PIL import Image

from crossmatch.samples import make_poster, to_bytes

pytestmark = pytest.mark.slow

IMAGE_URL_TO_PDQ: dict[str, str] = {}
CROSSMATCH = Path(sys.executable).with_name("crossmatch")
pytest.importorskip("threatexchange", reason="the HMA suite compares with python-threatexchange (the exchange extra)")
from threatexchange.signal_type.md5 import VideoMD5Signal  # noqa: E402
from threatexchange.signal_type.pdq.signal import PdqSignal  # noqa: E402

PDQ_EXAMPLES = PdqSignal.get_examples()


def _checkerboard(cell: int) -> Image.Image:
    img = Image.new("RGB", (128, 128))
    pixels = img.load()
    for x in range(128):
        for y in range(128):
            pixels[x, y] = (255, 255, 255) if (x // cell + y // cell) % 2 else (0, 0, 0)
    return img


@pytest.fixture(scope="module")
def image_server():
    """HMA's fixture: two checkerboards served over HTTP (plus a poster for the metadata tests)."""
    tmpdir = Path(tempfile.mkdtemp())
    _checkerboard(8).save(tmpdir / "image1.jpg", format="JPEG")
    # crossmatch: HMA's second image is a 16-px checkerboard, which is the 8-px one's quarter enlarged:
    # crossmatch's bank-side crops rightly match one with the other, so the second image is a poster.
    make_poster(11).convert("RGB").save(tmpdir / "image2.jpg", format="JPEG")
    (tmpdir / "aaa-orig.jpg").write_bytes(to_bytes(make_poster(3)))
    handler = functools.partial(QuietHandler, directory=str(tmpdir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    for name in ("image1.jpg", "image2.jpg"):
        IMAGE_URL_TO_PDQ[f"{base}/{name}"] = PdqSignal.hash_from_file(tmpdir / name)
    yield base
    server.shutdown()
    shutil.rmtree(tmpdir)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # noqa: D401 - keep test output clean
        pass


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`crossmatch serve` on a fresh home, with a curator token and a reviewer token."""
    home = tmp_path_factory.mktemp("hma-home")
    env = {**os.environ, "CROSSMATCH_SERVICE__RATE_PER_SECOND": "0", "CROSSMATCH_EXCHANGE__HMA_FETCH_HOSTS": '["127.0.0.1"]',
           "CROSSMATCH_EXCHANGE__SCHEDULER_ENABLED": "false"}

    def token(role: str) -> str:
        out = subprocess.run([str(CROSSMATCH), "--home", str(home), "token", "create", "--role", role, "--name", f"hma-{role}",
                              "--json"], env=env, capture_output=True, text=True, check=True).stdout
        return json.loads(out.strip().splitlines()[-1])["token"]

    tokens = {"curator": token("curator"), "reviewer": token("reviewer")}
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([str(CROSSMATCH), "--home", str(home), "serve", "--port", str(port), "--log-level", "warning"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(f"{base}/status/live", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("crossmatch serve did not start within 120 s")
        time.sleep(0.3)
    yield {"base": base, "home": home, "env": env, "tokens": tokens}
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()


class Response:
    """flask's test response, as HMA's tests read it (``.json``, ``.data``, ``.get_json()``)."""

    def __init__(self, resp: httpx.Response) -> None:
        self.status_code = resp.status_code
        self.data = resp.content
        self.is_json = resp.headers.get("content-type", "").startswith("application/json")
        self.json = resp.json() if self.is_json else None
        self.headers = resp.headers

    def get_json(self):
        return self.json


class Client:
    """HMA's FlaskClient calls over HTTP; the auth header is set once on the session."""

    def __init__(self, base: str, token: str) -> None:
        self.http = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=120)

    def _call(self, method: str, path: str, query_string=None, **kw) -> Response:
        if "data" in kw and isinstance(kw["data"], dict) and any(isinstance(v, tuple) for v in kw["data"].values()):
            kw["files"] = {k: (v[1], open(v[0], "rb"), v[2]) for k, v in kw.pop("data").items()}
        return Response(self.http.request(method, path, params=query_string, **kw))

    def get(self, path, **kw):
        return self._call("GET", path, **kw)

    def post(self, path, **kw):
        return self._call("POST", path, **kw)

    def put(self, path, **kw):
        return self._call("PUT", path, **kw)

    def delete(self, path, **kw):
        return self._call("DELETE", path, **kw)


@pytest.fixture()
def client(server) -> Client:
    c = Client(server["base"], server["tokens"]["curator"])
    # crossmatch: HMA resets its tables before each test; here every exchange and bank goes.
    for name in c.get("/c/exchanges").json:
        c.delete(f"/c/exchange/{name}")
    for bank in c.get("/c/banks").json:
        c.delete(f"/c/bank/{bank['name']}")
    return c


def create_bank(client: Client, bank_name: str):
    post_response = client.post("/c/banks", json={"name": bank_name})
    assert post_response.status_code == 201
    assert post_response.json == {"matching_enabled_ratio": 1.0, "name": bank_name}


def add_hash_to_bank(client: Client, bank_name: str, image_url: str) -> int:
    post_response = client.post("/c/bank/{}/content?url={}&content_type=photo".format(bank_name, image_url))
    assert post_response.status_code == 200
    # crossmatch: the id is the new item's (HMA's fresh tables start at 1)
    assert post_response.json == {"id": post_response.json["id"], "signals": {"pdq": IMAGE_URL_TO_PDQ[image_url]}}
    return post_response.json["id"]


# == test_api.py =====================================================================
def test_status_response(client):
    response = client.get("/status")
    assert response.status_code == 200
    assert response.data == b"I-AM-ALIVE"


def test_status_live_always_alive(client):
    response = client.get("/status/live")
    assert response.status_code == 200
    assert response.data == b"I-AM-ALIVE"


def test_openapi_documentation_available(client):
    response = client.get("/openapi/openapi.json")
    assert response.status_code == 200
    assert response.is_json
    payload = response.get_json()
    # crossmatch: its own title; the HMA routes are in the schema
    assert {"/m/lookup", "/c/banks", "/c/bank/{bank_name}/content", "/status"} <= set(payload["paths"])


def test_site_map(client):
    routes = client.get("/site-map").json
    assert routes == sorted(routes) and "/m/raw_lookup" in routes and "/c/exchanges" in routes


def test_lookup_success(client, image_server):
    image_url = f"{image_server}/image1.jpg"
    get_resp = client.get(f"/m/lookup?url={image_url}")
    assert get_resp.status_code == 200

    response = httpx.get(image_url)
    with tempfile.NamedTemporaryFile(suffix=".jpg") as f:
        f.write(response.content)
        f.flush()
        file_tuple = (f.name, f.name, "image/jpeg")
        resp = client.post("/m/lookup", data={"photo": file_tuple})
        assert resp.status_code == 200

        # It's not really a video, but MD5 is simple that we can fake it
        resp = client.post("/m/lookup", data={"video": file_tuple})
        assert resp.status_code == 200


def test_lookup_without_role(server, image_server):
    # crossmatch: "without the hasher role" is a token of another role
    client = Client(server["base"], server["tokens"]["reviewer"])
    get_resp = client.get(f"/m/lookup?url={image_server}/image1.jpg")
    assert get_resp.status_code == 403
    assert "message" in get_resp.json
    with tempfile.NamedTemporaryFile(suffix=".jpg") as f:
        f.write(b"\xff\xd8\xff\xe0\x00\x10\x4a\x46\x49\x46\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9")
        f.flush()
        resp = client.post("/m/lookup", data={"file": (f.name, f.name, "image/jpeg")})
        assert resp.status_code == 403


def test_exchange_api_set_auth(client):
    sample_name, tx_name = "sample", "fb_threatexchange"
    resp = client.get("/c/exchanges/apis")
    assert resp.status_code == 200
    assert {sample_name, tx_name} <= set(resp.json)  # crossmatch: also ncmec, stop_ncii, tat, file, stix...

    resp = client.get(f"/c/exchanges/api/{sample_name}")
    assert resp.status_code == 200
    assert resp.json == {"supports_authentification": False, "has_set_authentification": False}

    resp = client.get(f"/c/exchanges/api/{tx_name}")
    assert resp.status_code == 200
    assert resp.json["supports_authentification"] is True

    # crossmatch: credentials are refused with where to put them
    resp = client.post(f"/c/exchanges/api/{tx_name}", json={"credential_json": {"api_token": "12345789|000000000000"}})
    assert resp.status_code == 400 and "TX_ACCESS_TOKEN" in resp.json["message"]


def test_exchange_api_schema(client):
    resp = client.get("/c/exchanges/api/sample/schema")
    assert resp.status_code == 200
    data = resp.get_json()
    assert "fields" in data["config_schema"]
    assert data["credentials_schema"] is None

    resp = client.get("/c/exchanges/api/fb_threatexchange/schema")
    assert resp.status_code == 200
    data = resp.get_json()
    config_fields = {f["name"]: f for f in data["config_schema"]["fields"]}
    assert "privacy_group" in config_fields
    assert config_fields["privacy_group"]["type"] == "number"
    assert config_fields["privacy_group"]["required"] is True
    cred_fields = {f["name"]: f for f in data["credentials_schema"]["fields"]}
    assert cred_fields["api_token"]["type"] == "string"


def test_compare_hashes(client):
    specimen1 = "facd8bcb2a49bcebdec1985298d5fe84bcd006c187c598c720c3c087b3fdb318"
    specimen2 = "facd8bcb2a49bcebdec1985228d5ae84bcd006c187c598c720c2b087b3fdb318"
    resp = client.post("/m/compare", json={"pdq": [specimen1, specimen2]})
    assert resp.json == {"pdq": [True, {"distance": 9}]}

    bad_inputs = [["banana"], {"pdq": "banana"}, {"pdq": []}, {"pdq": ["banana", "banana"]},
                  {"pdq": [specimen1, specimen2, specimen1]}]
    for bad_input in bad_inputs:
        resp = client.post("/m/compare", json=bad_input)
        assert resp.status_code == 400


def test_exchange_delete(client):
    delete_response = client.delete("/c/exchange/TEST_EXCHANGE")
    assert delete_response.status_code == 200

    post_response = client.post("/c/exchanges", json={"api": "sample", "bank": "FOO_EXCHANGE", "api_json": {}})
    assert post_response.status_code == 201

    delete_response = client.delete("/c/exchange/FOO_EXCHANGE")
    assert delete_response.status_code == 200
    assert delete_response.get_json()["message"] == "Exchange deleted"


def test_exchange_get_fetch_status(client):
    resp = client.get("/c/exchange/NONEXISTENT_EXCHANGE/status")
    assert resp.status_code == 404

    post_resp = client.post("/c/exchanges", json={"api": "sample", "bank": "BAR_EXCHANGE", "api_json": {}})
    assert post_resp.status_code == 201

    resp = client.get("/c/exchange/BAR_EXCHANGE/status")
    assert resp.status_code == 200
    assert resp.is_json
    data = resp.get_json()
    for key in ("checkpoint_ts", "running_fetch_start_ts", "last_fetch_complete_ts", "last_fetch_succeeded",
                "up_to_date", "fetched_items"):
        assert key in data


# == test_api_banks.py ===============================================================
def test_banks_empty_index(client):
    response = client.get("/c/banks")
    assert response.status_code == 200
    assert response.json == []


def test_banks_create(client):
    assert client.post("/c/banks", json={"name": "01_TEST_BANK"}).status_code == 400
    assert client.post("/c/banks", json={"name": "my_test_bank"}).status_code == 400
    post_response = client.post("/c/banks", json={"name": "MY_TEST_BANK_01"})
    assert post_response.status_code == 201
    assert post_response.json == {"matching_enabled_ratio": 1.0, "name": "MY_TEST_BANK_01"}
    response = client.get("/c/banks")
    assert response.status_code == 200
    assert response.json == [post_response.json]


def test_banks_update(client):
    assert client.post("/c/banks", json={"name": "MY_TEST_BANK"}).status_code == 201
    assert client.put("/c/bank/MY_TEST_BANK", json={"name": "1_invalid_name"}).status_code == 400

    post_response = client.put("/c/bank/MY_TEST_BANK", json={"name": "MY_TEST_BANK_RENAMED"})
    assert post_response.status_code == 200
    assert post_response.get_json()["name"] == "MY_TEST_BANK_RENAMED"

    post_response = client.put("/c/bank/MY_TEST_BANK_RENAMED", json={"enabled": False})
    assert post_response.status_code == 200
    assert post_response.get_json()["matching_enabled_ratio"] == 0

    post_response = client.put("/c/bank/MY_TEST_BANK_RENAMED", json={"enabled_ratio": 0.5})
    assert post_response.status_code == 200
    assert post_response.get_json()["matching_enabled_ratio"] == 0.5

    get_response = client.get("/c/banks")
    assert get_response.status_code == 200
    assert get_response.get_json() == [{"name": "MY_TEST_BANK_RENAMED", "matching_enabled_ratio": 0.5}]


def test_banks_delete(client):
    assert client.post("/c/banks", json={"name": "MY_TEST_BANK"}).status_code == 201
    assert client.delete("/c/bank/MY_TEST_BANK").status_code == 200
    assert client.delete("/c/bank/MY_TEST_BANK").status_code == 200


def test_bank_get_content(client, image_server):
    create_bank(client, "TEST_BANK_GET")
    add_response = client.post(f"/c/bank/TEST_BANK_GET/content?url={image_server}/image1.jpg&content_type=photo")
    assert add_response.status_code == 200, str(add_response.get_json())
    content_id = add_response.json.get("id")
    get_response = client.get(f"/c/bank/TEST_BANK_GET/content/{content_id}")
    assert get_response.status_code == 200, str(get_response.get_json())
    assert get_response.json.get("id") == content_id
    # crossmatch: the HMA shape exactly, 1 = enabled
    assert set(get_response.json) == {"id", "disable_until_ts", "original_media_uri", "bank"}
    assert get_response.json["disable_until_ts"] == 1


def test_bank_get_content_404(client):
    assert client.get("/c/bank/TEST_BANK_GET/content/1").status_code == 404
    create_bank(client, "TEST_BANK_GET")
    assert client.get("/c/bank/TEST_BANK_GET/content/999999").status_code == 404


def test_banks_add_content(client, image_server):
    create_bank(client, "NEW_BANK")
    image_url = f"{image_server}/image1.jpg"
    post_response = client.post(f"/c/bank/NEW_BANK/content?url={image_url}&content_type=photo")
    assert post_response.status_code == 200, str(post_response.get_json())
    assert post_response.json == {"id": post_response.json["id"], "signals": {"pdq": IMAGE_URL_TO_PDQ[image_url]}}


def test_bank_update_content(client, image_server):
    create_bank(client, "TEST_BANK_UPDATE")
    add_response = client.post(f"/c/bank/TEST_BANK_UPDATE/content?url={image_server}/image1.jpg&content_type=photo")
    content_id = add_response.json.get("id")
    new_disable_ts = int((datetime.now() + timedelta(days=365)).timestamp())
    update_response = client.put(f"/c/bank/TEST_BANK_UPDATE/content/{content_id}", json={"disable_until_ts": new_disable_ts})
    assert update_response.status_code == 200, str(update_response.get_json())
    assert update_response.json.get("disable_until_ts") == new_disable_ts


def test_bank_update_content_400(client, image_server):
    create_bank(client, "TEST_BANK_UPDATE")
    add_response = client.post(f"/c/bank/TEST_BANK_UPDATE/content?url={image_server}/image1.jpg&content_type=photo")
    content_id = add_response.json.get("id")
    update_response = client.put(f"/c/bank/TEST_BANK_UPDATE/content/{content_id}", json={"disable_until_ts": 9999999999})
    assert update_response.status_code == 400, str(update_response.get_json())


def test_banks_delete_content(client, image_server):
    create_bank(client, "NEW_BANK")
    content_id = add_hash_to_bank(client, "NEW_BANK", f"{image_server}/image1.jpg")
    post_response = client.delete(f"/c/bank/NEW_BANK/content/{content_id}")
    assert post_response.status_code == 200
    assert post_response.json == {"deleted": 1}
    # crossmatch: HMA answers 200 for a missing item too
    assert client.delete(f"/c/bank/NEW_BANK/content/{content_id}").json == {"deleted": 0}


def test_banks_add_metadata(client, image_server):
    create_bank(client, "NEW_BANK")
    post_request = f"/c/bank/NEW_BANK/content?url={image_server}/image1.jpg&content_type=photo"
    post_response = client.post(post_request, json={"metadata": {"invalid_metadata": 5}})
    assert post_response.status_code == 400, str(post_response.get_json())
    post_response = client.post(post_request, json={"metadata": {"content_id": "1197433091", "json": {"asdf": {}}}})
    assert post_response.status_code == 200, str(post_response.get_json())


def test_banks_add_hash_index(client, image_server):
    image_url, image_url_2 = f"{image_server}/image1.jpg", f"{image_server}/image2.jpg"
    create_bank(client, "NEW_BANK")
    first = add_hash_to_bank(client, "NEW_BANK", image_url)
    create_bank(client, "NEW_BANK_2")
    second = add_hash_to_bank(client, "NEW_BANK", image_url_2)
    post_response = client.get(f"/m/raw_lookup?signal_type=pdq&signal={IMAGE_URL_TO_PDQ[image_url]}")
    assert post_response.status_code == 200
    assert post_response.json == {"matches": [first]}
    post_response = client.get(f"/m/raw_lookup?signal_type=pdq&signal={IMAGE_URL_TO_PDQ[image_url_2]}")
    assert post_response.status_code == 200
    assert post_response.json == {"matches": [second]}


def test_bank_get_content_with_signals(client, image_server):
    create_bank(client, "TEST_BANK_GET_SIGS")
    add_response = client.post(f"/c/bank/TEST_BANK_GET_SIGS/content?url={image_server}/image1.jpg&content_type=photo")
    content_id = add_response.json.get("id")
    get_response = client.get(f"/c/bank/TEST_BANK_GET_SIGS/content/{content_id}")
    assert get_response.json.get("id") == content_id
    assert "signals" not in get_response.json
    get_response = client.get(f"/c/bank/TEST_BANK_GET_SIGS/content/{content_id}?include_signals=true")
    assert get_response.json.get("id") == content_id
    assert isinstance(get_response.json["signals"], dict) and len(get_response.json["signals"]) > 0


def test_bank_get_content_returns_stored_metadata(client, image_server):
    create_bank(client, "TEST_BANK_METADATA")
    image_url = f"{image_server}/aaa-orig.jpg"  # crossmatch: served locally
    metadata = {"content_id": "ext-id-123", "content_uri": "https://example.com/item/123",
                "json": {"source": "test", "nested": {"key": "value"}}}
    add_response = client.post(f"/c/bank/TEST_BANK_METADATA/content?url={image_url}&content_type=photo",
                               json={"metadata": metadata})
    assert add_response.status_code == 200, str(add_response.get_json())
    get_data = client.get(f"/c/bank/TEST_BANK_METADATA/content/{add_response.json['id']}").get_json()
    assert get_data["metadata"]["content_id"] == metadata["content_id"]
    assert get_data["metadata"]["content_uri"] == metadata["content_uri"]
    assert get_data["metadata"]["json"] == metadata["json"]


def test_bank_get_content_include_metadata_false(client, image_server):
    create_bank(client, "TEST_BANK_NO_METADATA")
    add_response = client.post(f"/c/bank/TEST_BANK_NO_METADATA/content?url={image_server}/aaa-orig.jpg&content_type=photo",
                               json={"metadata": {"content_id": "id1", "content_uri": "https://example.com/1"}})
    assert add_response.status_code == 200, str(add_response.get_json())
    get_response = client.get(f"/c/bank/TEST_BANK_NO_METADATA/content/{add_response.json['id']}?include_metadata=false")
    assert get_response.status_code == 200
    assert "metadata" not in get_response.get_json()


def test_bank_add_content_with_note(client, image_server):
    create_bank(client, "TEST_BANK_NOTE")
    add_response = client.post(f"/c/bank/TEST_BANK_NOTE/content?url={image_server}/image1.jpg&content_type=photo",
                               json={"note": "Reported by user X"})
    assert add_response.status_code == 200, str(add_response.get_json())
    get_response = client.get(f"/c/bank/TEST_BANK_NOTE/content/{add_response.json['id']}")
    assert get_response.get_json()["note"] == "Reported by user X"


def test_bank_add_content_without_note_omitted(client, image_server):
    create_bank(client, "TEST_BANK_NO_NOTE")
    add_response = client.post(f"/c/bank/TEST_BANK_NO_NOTE/content?url={image_server}/image1.jpg&content_type=photo")
    assert add_response.status_code == 200
    assert "note" not in client.get(f"/c/bank/TEST_BANK_NO_NOTE/content/{add_response.json['id']}").get_json()


def test_bank_update_content_note(client, image_server):
    create_bank(client, "TEST_BANK_NOTE_UPDATE")
    add_response = client.post(f"/c/bank/TEST_BANK_NOTE_UPDATE/content?url={image_server}/image1.jpg&content_type=photo")
    content = f"/c/bank/TEST_BANK_NOTE_UPDATE/content/{add_response.json['id']}"
    assert client.put(content, json={"note": "Initial note"}).status_code == 200
    assert client.get(content).get_json()["note"] == "Initial note"
    assert client.put(content, json={"note": "Updated note"}).status_code == 200
    assert client.get(content).get_json()["note"] == "Updated note"
    assert client.put(content, json={"note": ""}).status_code == 200
    assert "note" not in client.get(content).get_json()


def test_bank_add_note_too_long(client, image_server):
    create_bank(client, "TEST_BANK_NOTE_LONG")
    add_response = client.post(f"/c/bank/TEST_BANK_NOTE_LONG/content?url={image_server}/image1.jpg&content_type=photo",
                               json={"note": "x" * 256})
    assert add_response.status_code == 400


def test_bank_add_hash_with_note(client):
    create_bank(client, "TEST_BANK_HASH_NOTE")
    add_response = client.post("/c/bank/TEST_BANK_HASH_NOTE/signal", json={"pdq": "0" * 64, "note": "Hash from campaign ABC"})
    assert add_response.status_code == 200, str(add_response.get_json())
    get_response = client.get(f"/c/bank/TEST_BANK_HASH_NOTE/content/{add_response.json['id']}")
    assert get_response.get_json()["note"] == "Hash from campaign ABC"


def test_bank_get_content_without_metadata_omitted(client, image_server):
    create_bank(client, "TEST_BANK_NO_META")
    add_response = client.post(f"/c/bank/TEST_BANK_NO_META/content?url={image_server}/aaa-orig.jpg&content_type=photo")
    assert add_response.status_code == 200
    assert "metadata" not in client.get(f"/c/bank/TEST_BANK_NO_META/content/{add_response.json['id']}").get_json()


# crossmatch: issue 18's findings, in HMA's terms
def test_same_content_id_twice_keeps_both_items(client, image_server):
    create_bank(client, "TWO_IMAGES")
    ids = []
    for name in ("image1.jpg", "image2.jpg"):
        added = client.post(f"/c/bank/TWO_IMAGES/content?url={image_server}/{name}&content_type=photo",
                            json={"metadata": {"content_id": "same-id"}})
        assert added.status_code == 200
        ids.append(added.json["id"])
    assert ids[0] != ids[1]
    for name, content_id in zip(("image1.jpg", "image2.jpg"), ids):
        found = client.get(f"/m/raw_lookup?signal_type=pdq&signal={IMAGE_URL_TO_PDQ[f'{image_server}/{name}']}").json
        assert found == {"matches": [content_id]}


def test_metadata_and_note_from_the_form(client):
    create_bank(client, "FORM_BANK")
    added = client.post("/c/bank/FORM_BANK/content", files={"photo": ("p.jpg", to_bytes(make_poster(4)), "image/jpeg")},
                        data={"metadata": json.dumps({"content_id": "form-1"}), "note": "from the form"})
    assert added.status_code == 200, added.json
    shown = client.get(f"/c/bank/FORM_BANK/content/{added.json['id']}").json
    assert shown["metadata"] == {"content_id": "form-1"} and shown["note"] == "from the form"


def test_index_status_built_to_is_a_time(client):
    status = client.get("/m/index/status?signal_type=pdq").json["pdq"]
    assert abs(status["built_to"] - time.time()) < 3600
    index = client.get("/c/signal_type/index?signal_type=pdq").json["pdq"]
    assert set(index) == {"db_size", "index_size", "index_out_of_date", "newest_db_item", "index_built_to"}
    assert {"name": "pdq", "enabled_ratio": 1.0} in client.get("/c/signal_type").json
    assert client.get("/c/content_type").json == [{"name": "photo", "enabled": True}, {"name": "video", "enabled": True}]


def test_errors_have_hma_shape(server):
    anonymous = httpx.get(f"{server['base']}/c/banks")
    assert anonymous.status_code == 401 and set(anonymous.json()) == {"message"}
    client = Client(server["base"], server["tokens"]["curator"])
    missing = client.get("/c/bank/NOPE")
    assert missing.status_code == 404 and set(missing.json) == {"message"}


# == test_match_api.py ===============================================================
@pytest.fixture()
def client_with_sample_data(client, server):
    assert client.post("/c/exchanges", json={"api": "sample", "bank": "SAMPLE", "api_json": {}}).status_code == 201
    # crossmatch: HMA's fetcher task is `crossmatch exchange sync`
    subprocess.run([str(CROSSMATCH), "--home", str(server["home"]), "exchange", "sync", "SAMPLE"], env=server["env"],
                   check=True, capture_output=True)
    assert client.get("/status").status_code == 200
    return client


def _example(signal_type: str) -> str:
    return {"pdq": PdqSignal, "video_md5": VideoMD5Signal}[signal_type].get_examples()[0]


def test_raw_lookups(client_with_sample_data):
    client = client_with_sample_data
    for sig_name in ("pdq", "video_md5"):
        query_str = {"signal": _example(sig_name), "signal_type": sig_name}
        resp = client.get("/m/raw_lookup", query_string=query_str)
        assert resp.status_code == 200
        match_count = len(resp.json["matches"])
        assert match_count >= 1
        query_str["include_distance"] = True
        resp = client.get("/m/raw_lookup", query_string=query_str)
        with_dist_matches = resp.json["matches"]
        assert len(with_dist_matches) == match_count
        for match in with_dist_matches:
            assert "bank_content_id" in match and "distance" in match


def test_lookups(client_with_sample_data):
    client = client_with_sample_data
    for sig_name in ("pdq", "video_md5"):
        resp = client.get("/m/lookup", query_string={"signal": _example(sig_name), "signal_type": sig_name})
        assert resp.status_code == 200
        assert list(resp.json) == ["SAMPLE"]
        for match in resp.json["SAMPLE"]:
            assert "bank_content_id" in match and "distance" in match


@pytest.fixture()
def client_with_multi_bank_data(client):
    for bank in ("BANK_A", "BANK_B", "BANK_C"):
        create_bank(client, bank)
        assert client.post(f"/c/bank/{bank}/signal", json={"pdq": PDQ_EXAMPLES[0]}).status_code == 200
    return client


def test_raw_lookup_with_bank_filter(client_with_multi_bank_data):
    client = client_with_multi_bank_data
    query_str = {"signal": PDQ_EXAMPLES[0], "signal_type": "pdq"}
    assert len(client.get("/m/raw_lookup", query_string=query_str).json["matches"]) == 3
    for banks, n in (("BANK_A", 1), ("BANK_A,BANK_B", 2), ("NON_EXISTENT_BANK", 0)):
        resp = client.get("/m/raw_lookup", query_string={**query_str, "banks": banks})
        assert resp.status_code == 200 and len(resp.json["matches"]) == n


def test_raw_lookup_with_distance_and_bank_filter(client_with_multi_bank_data):
    resp = client_with_multi_bank_data.get("/m/raw_lookup", query_string={
        "signal": PDQ_EXAMPLES[0], "signal_type": "pdq", "include_distance": True, "banks": "BANK_A,BANK_B"})
    assert resp.status_code == 200 and len(resp.json["matches"]) == 2
    for match in resp.json["matches"]:
        assert "bank_content_id" in match and "distance" in match


def test_lookup_with_bank_filter(client_with_multi_bank_data):
    client = client_with_multi_bank_data
    query_str = {"signal": PDQ_EXAMPLES[0], "signal_type": "pdq"}
    assert set(client.get("/m/lookup", query_string=query_str).json) == {"BANK_A", "BANK_B", "BANK_C"}
    resp = client.get("/m/lookup", query_string={**query_str, "banks": "BANK_A"}).json
    assert list(resp) == ["BANK_A"] and len(resp["BANK_A"]) > 0
    assert set(client.get("/m/lookup", query_string={**query_str, "banks": "BANK_A,BANK_C"}).json) == {"BANK_A", "BANK_C"}
    assert client.get("/m/lookup", query_string={**query_str, "banks": "NON_EXISTENT_BANK"}).json == {}


# == test_e2e_workflow.py ============================================================
def test_add_hashes_and_find_match(client):
    create_bank(client, "TEST_BANK")
    hashes = PdqSignal.get_examples()
    ids = []
    for pdq in hashes:
        resp = client.post("/c/bank/TEST_BANK/signal", json={"pdq": pdq})
        assert resp.status_code == 200
        ids.append(resp.json["id"])
    resp = client.get("/m/index/status?signal_type=pdq")
    assert resp.status_code == 200
    assert resp.json["pdq"]["present"] is True
    assert resp.json["pdq"]["size"] == len(hashes)
    resp = client.get(f"/m/lookup?signal_type=pdq&signal={hashes[-1]}")
    assert resp.status_code == 200
    assert resp.json == {"TEST_BANK": [{"bank_content_id": ids[-1], "distance": "0"}]}
    resp = client.get("/m/lookup?signal_type=pdq&signal={}".format("5" * 64))
    assert resp.status_code == 200
    assert resp.json == {}
