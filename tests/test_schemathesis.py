"""Property-based requests generated from the OpenAPI schema: no server error, and answers match the schema.

Runs on SQLite, and on PostgreSQL when CROSSMATCH_TEST_POSTGRES_URL is set (where
over-long fields once gave 500s).  Besides "no 5xx", every answer must use a
documented status code, content type and body shape (issue 15, finding 20: the
HMA routes' and the 422 answers' shapes were undocumented).
"""

from __future__ import annotations

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis.checks import content_type_conformance, not_a_server_error, response_schema_conformance, status_code_conformance

from test_api_support import PG_URL, running_api

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# PostgreSQL runs fewer examples per operation: the suite's time budget (each answer is a real round trip).
BACKENDS = [pytest.param("sqlite", 8, id="sqlite")] + (
    [pytest.param("postgres", 4, id="postgres", marks=pytest.mark.postgres)] if PG_URL else [])


@pytest.mark.parametrize(("backend", "examples"), BACKENDS)
def test_openapi_schema_finds_no_server_errors_and_matches_behaviour(tmp_path, backend: str, examples: int):
    with running_api(tmp_path, backend) as api:
        schema = schemathesis.openapi.from_asgi("/openapi.json", api.app)
        auth = {"Authorization": f"Bearer {api.tokens['admin']}"}  # admin passes every role check, so handlers run
        failures: list[str] = []
        operations = 0
        codes: dict[int, int] = {}
        for result in schema.get_all_operations():
            operation = result.ok()
            operations += 1

            @hypothesis.settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                                 phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
            @hypothesis.given(case=operation.as_strategy())
            def run(case) -> None:
                response = case.call(headers=auth)
                codes[response.status_code] = codes.get(response.status_code, 0) + 1
                if response.status_code == 401:  # the fuzzer revoked our token: take a new one
                    auth["Authorization"] = f"Bearer {api.state.tokens.create('admin')[0]}"
                try:
                    case.validate_response(response, checks=CHECKS)
                except BaseException as exc:  # schemathesis raises a group of failures
                    problem = next((line.strip() for line in str(exc).splitlines() if line.strip().startswith("- ")), str(exc)[:200])
                    failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}: {problem}: {response.text[:200]}")

            run()
        assert operations >= 20
        assert sum(n for code, n in codes.items() if code < 300) > 30  # handlers really ran, not only validation
        assert not failures, "\n".join(failures[:10])
