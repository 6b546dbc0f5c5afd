"""Issue 15 finding 20: the OpenAPI schema says what the server answers (the full check is tests/test_schemathesis.py).

Found by schemathesis: 422 answers were documented with FastAPI's list-shaped
``detail`` but are ``{"error", "detail": "..."}``; the HMA routes' own ``{"message"}``
answers (400/404/415) were undocumented; multipart ``source`` / ``idempotency_key``
were documented with maxLength 200 but longer values were accepted by /lookup and /hash.
"""

from __future__ import annotations

from typing import Iterator

import pytest

from test_api_support import BACKENDS, Api, running_api


@pytest.fixture(scope="module", params=BACKENDS)
def api(request, tmp_path_factory) -> Iterator[Api]:
    with running_api(tmp_path_factory.mktemp("home"), request.param) as running:
        yield running


def test_422_and_hma_answers_are_documented_as_sent(api: Api) -> None:
    schema = api.client.get("/openapi.json").json()
    validation = schema["components"]["schemas"]["HTTPValidationError"]
    assert validation["properties"]["detail"]["type"] == "string" and set(validation["required"]) == {"error", "detail"}
    bad = api.client.get("/api/v1/cases/0", headers=api.h("reviewer"))  # ids start at 1
    assert bad.status_code == 422 and isinstance(bad.json()["detail"], str) and bad.json()["error"] == "InvalidInput"
    # HMA routes answer malformed input as HMA does: 400 with {"message"} (issue 18), and say so.
    bad_hma = api.client.get("/c/bank/x/content/0", headers=api.h("curator"))  # content ids start at 1
    assert bad_hma.status_code == 400 and set(bad_hma.json()) == {"message"}
    responses = schema["paths"]["/c/bank/{bank_name}/content/{content_id}"]["get"]["responses"]
    assert {"400", "404"} <= set(responses)
    missing = api.client.get("/c/bank/no-such-bank/content/1", headers=api.h("curator"))
    assert missing.status_code == 404 and set(missing.json()) == {"message"}
    assert "415" in schema["paths"]["/c/banks"]["post"]["responses"]


@pytest.mark.parametrize("route", ["/api/v1/lookup", "/api/v1/hash"])
def test_multipart_fields_over_their_documented_max_length_are_refused(api: Api, route: str) -> None:
    schema = api.client.get("/openapi.json").json()
    fields = schema["paths"][route]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]["properties"]
    assert fields["idempotency_key"]["maxLength"] == 200
    assert {"type": "string", "maxLength": 200} in fields["source"]["anyOf"]  # or a JSON object (who posted it)
    role = "matcher" if route.endswith("lookup") else "hasher"
    upload = {"file": ("note.txt", b"a benign sentence", "text/plain")}
    too_long = api.client.post(route, files=upload, data={"source": "s" * 201}, headers=api.h(role))
    assert too_long.status_code == 422 and "source" in too_long.json()["detail"]
    assert api.client.post(route, files=upload, data={"source": "s" * 200}, headers=api.h(role)).status_code == 200
