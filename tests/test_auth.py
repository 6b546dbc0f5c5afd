"""Tokens (hash only), users (argon2), roles, rate limits."""

from __future__ import annotations

from sqlalchemy import select

from crossmatch.auth.models import ApiToken, User
from crossmatch.auth.ratelimit import RateLimiter
from crossmatch.auth.tokens import TokenService, hash_token
from crossmatch.auth.users import UserService
from crossmatch.errors import Conflict, InvalidInput, NotFound
from test_api_support import BACKENDS, running_api, service_ctx, unique  # noqa: F401  (fixture)

import pytest


def test_tokens_are_stored_only_as_hashes(service_ctx):
    tokens = TokenService(service_ctx.sessions)
    secret, info = tokens.create("matcher", unique("platform"), created_by="tester")
    assert secret.startswith("cm_") and len(secret) > 40 and info.prefix == secret[:10]
    with service_ctx.sessions() as session:
        row = session.scalar(select(ApiToken).where(ApiToken.id == info.id))
        stored = [str(getattr(row, c.key)) for c in ApiToken.__table__.columns]
    assert secret not in " ".join(stored) and row.token_hash == hash_token(secret)
    principal = tokens.authenticate(secret)
    assert principal.role == "matcher" and principal.via == "token" and principal.token_id == info.id
    assert tokens.authenticate(secret + "x") is None
    tokens.revoke(info.id)
    assert tokens.authenticate(secret) is None
    assert TokenService(service_ctx.sessions).authenticate(secret) is None  # a fresh process agrees
    with pytest.raises(InvalidInput, match="unknown role"):
        tokens.create("superuser")
    with pytest.raises(NotFound):
        tokens.revoke(10**9)


def test_users_argon2_verify_and_disable(service_ctx):
    users = UserService(service_ctx.sessions)
    name = unique("rev")
    users.create(name, "a long enough password", "reviewer")
    with service_ctx.sessions() as session:
        stored = session.scalar(select(User.password_hash).where(User.username == name))
    assert stored.startswith("$argon2") and "a long enough password" not in stored
    who = users.verify(name, "a long enough password")
    assert who.name == name and who.role == "reviewer" and who.via == "session"
    assert users.verify(name, "wrong password!!") is None
    assert users.verify(unique("ghost"), "a long enough password") is None
    with pytest.raises(Conflict):
        users.create(name, "another long password", "admin")
    with pytest.raises(InvalidInput, match="too short"):
        users.create(unique("u"), "short", "reviewer")
    with pytest.raises(InvalidInput, match="role"):
        users.create(unique("u"), "a long enough password", "boss")
    assert users.disable(name).enabled is False
    assert users.verify(name, "a long enough password") is None
    assert name in [u.username for u in users.list()]


def test_token_bucket():
    limiter = RateLimiter(rate_per_second=2, burst=3)
    assert [limiter.take("a", now=0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limiter.take("a", now=0.0)
    assert wait == pytest.approx(0.5)
    assert limiter.take("b", now=0.0) == 0.0  # buckets are per token
    assert limiter.take("a", now=0.5) == 0.0  # refilled one token
    assert limiter.take("a", now=0.5) > 0
    assert RateLimiter(0, 1).take("a") == 0.0  # 0 switches limits off


def test_rate_limited_requests_get_429_with_retry_after(tmp_path):
    with running_api(tmp_path, BACKENDS[0], rate_per_second=0.5, rate_burst=2) as live:
        c, h = live.client, live.h("reviewer")
        codes = [c.get("/api/v1/banks", headers=h).status_code for _ in range(3)]
        assert codes[:2] == [200, 200] and codes[2] == 429
        limited = c.get("/api/v1/banks", headers=h)
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
        assert "retry after" in limited.json()["detail"] and limited.json()["error"] == "RateLimited"
        assert c.get("/api/v1/banks", headers=live.h("curator")).status_code == 200  # other tokens unaffected
