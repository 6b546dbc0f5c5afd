"""Property-based requests generated from the OpenAPI schema never get a server error (5xx)."""

from __future__ import annotations

import hypothesis
import schemathesis
from hypothesis import HealthCheck, Phase

from test_api_support import BACKENDS, running_api

EXAMPLES_PER_OPERATION = 8


def test_openapi_schema_finds_no_server_errors(tmp_path):
    with running_api(tmp_path, BACKENDS[0]) as api:
        schema = schemathesis.openapi.from_asgi("/openapi.json", api.app)
        auth = {"Authorization": f"Bearer {api.tokens['admin']}"}  # admin passes every role check, so handlers run
        failures: list[str] = []
        operations = 0
        codes: dict[int, int] = {}
        for result in schema.get_all_operations():
            operation = result.ok()
            operations += 1

            @hypothesis.settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, derandomize=True,
                                 phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
            @hypothesis.given(case=operation.as_strategy())
            def run(case) -> None:
                response = case.call(headers=auth)
                codes[response.status_code] = codes.get(response.status_code, 0) + 1
                if response.status_code == 401:  # the fuzzer revoked our token: take a new one
                    auth["Authorization"] = f"Bearer {api.state.tokens.create('admin', 'fuzz')[0]}"
                if response.status_code >= 500:
                    failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}")

            run()
        assert operations >= 20
        assert sum(n for code, n in codes.items() if code < 300) > 50  # handlers really ran, not only validation
        assert not failures, "\n".join(failures[:10])
