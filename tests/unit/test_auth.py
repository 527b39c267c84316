"""The authorizer accepts only well-formed, correctly signed, current tokens for this API."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from imagegen.config import settings_from
from imagegen.logic.auth import TokenRejected, authorize, verify_token
from tests.helpers import AUDIENCE, ISSUER, SECRET, token

SETTINGS = settings_from({"JWT_SECRET": SECRET, "JWT_ISSUER": ISSUER, "JWT_AUDIENCE": AUDIENCE})


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def test_valid_token_gives_the_caller_and_scopes() -> None:
    caller = verify_token(f"Bearer {token('alice', scope='read admin')}", SETTINGS)
    assert caller.sub == "alice" and caller.is_admin


def test_ordinary_token_is_not_admin() -> None:
    assert not verify_token(f"Bearer {token('bob')}", SETTINGS).is_admin


def test_alg_none_is_refused() -> None:
    now = int(time.time())
    claims = {"sub": "mallory", "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 600}
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    with pytest.raises(TokenRejected):
        verify_token(f"Bearer {unsigned}", SETTINGS)


def test_wrong_key_is_refused() -> None:
    with pytest.raises(TokenRejected):
        verify_token(f"Bearer {token('alice', secret='another-secret-that-is-long-enough-too!')}", SETTINGS)


def test_rs256_token_is_refused_when_hs256_is_configured() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    claims = {"sub": "alice", "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 600}
    with pytest.raises(TokenRejected):
        verify_token(f"Bearer {jwt.encode(claims, key, algorithm='RS256')}", SETTINGS)


def test_expired_token_is_refused() -> None:
    past = int(time.time()) - 3600
    with pytest.raises(TokenRejected):
        verify_token(f"Bearer {token('alice', iat=past - 60, exp=past)}", SETTINGS)


def test_wrong_audience_is_refused() -> None:
    with pytest.raises(TokenRejected):
        verify_token(f"Bearer {token('alice', aud='someone-else')}", SETTINGS)


def test_wrong_issuer_is_refused() -> None:
    with pytest.raises(TokenRejected):
        verify_token(f"Bearer {token('alice', iss='evil')}", SETTINGS)


@pytest.mark.parametrize("claim", ["exp", "iat", "sub", "iss", "aud"])
def test_each_missing_claim_is_refused(claim: str) -> None:
    missing: dict[str, Any] = {claim: None}  # token() leaves out a claim whose value is None
    with pytest.raises(TokenRejected):
        verify_token(f"Bearer {token('alice', **missing)}", SETTINGS)


@pytest.mark.parametrize("header", [None, "", "Basic abc", "Bearer", "Bearer not-a-jwt"])
def test_malformed_headers_are_refused(header: str | None) -> None:
    with pytest.raises(TokenRejected):
        verify_token(header, SETTINGS)


@pytest.mark.parametrize(
    "spelling",
    [
        "bearer {}",
        "BEARER {}",
        "Bearer  {}",
        "Bearer\t{}",
        "Bearer {} ",
        " Bearer {}",
        "Bearer {} junk",
        "{}",
    ],
    ids=[
        "lower",
        "upper",
        "two-spaces",
        "tab",
        "trailing-space",
        "leading-space",
        "trailing-text",
        "no-scheme",
    ],
)
def test_a_valid_token_is_read_in_one_spelling_only(spelling: str) -> None:
    assert verify_token(f"Bearer {token('alice')}", SETTINGS).sub == "alice"
    with pytest.raises(TokenRejected):
        verify_token(spelling.format(token("alice")), SETTINGS)


def test_authorize_answers_simple_responses_and_never_echoes_the_token(
    capsys: pytest.CaptureFixture[str],
) -> None:
    bad = token("alice", secret="another-secret-that-is-long-enough-too!")
    assert authorize(f"Bearer {bad}", SETTINGS) == {"isAuthorized": False}
    good = authorize(f"Bearer {token('alice')}", SETTINGS)
    assert good == {"isAuthorized": True, "context": {"sub": "alice", "scope": ""}}
    logged = capsys.readouterr()
    assert bad not in logged.out + logged.err
    assert SECRET not in logged.out + logged.err


@pytest.mark.parametrize(
    ("claim", "value"),
    [
        ("exp", str(int(time.time()) + 600)),  # a far-future expiry, as a numeric string
        ("iat", str(int(time.time()))),
        ("nbf", str(int(time.time()))),
        ("exp", True),  # a bool is not a NumericDate either (pyjwt would read it as 1)
        ("iat", True),
        ("exp", None),  # explicit null: the claim is present but not a number
        ("exp", [int(time.time()) + 600]),
    ],
    ids=["exp-string", "iat-string", "nbf-string", "exp-bool", "iat-bool", "exp-null", "exp-list"],
)
def test_time_claims_of_the_wrong_type_are_refused(claim: str, value: object) -> None:
    now = int(time.time())
    claims = {"sub": "alice", "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 600, claim: value}
    with pytest.raises(TokenRejected):
        verify_token(f"Bearer {jwt.encode(claims, SECRET, algorithm='HS256')}", SETTINGS)


def test_fractional_time_claims_are_numbers_and_accepted() -> None:
    now = time.time()
    caller = verify_token(
        f"Bearer {token('alice', iat=now - 0.5, exp=now + 600.25, nbf=now - 1.5)}", SETTINGS
    )
    assert caller.sub == "alice"
