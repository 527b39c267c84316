"""Verify bearer tokens for the authorizer: pinned algorithms, required claims, no secrets in errors."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import jwt
from aws_lambda_powertools import Logger

from imagegen.config import Settings
from imagegen.models.domain import Caller, is_valid_sub

logger = Logger(child=True)
REQUIRED_CLAIMS = ["exp", "iat", "sub", "iss", "aud"]
TIME_CLAIMS = ("exp", "iat", "nbf")
HMAC_ALGORITHMS = ["HS256"]
ASYMMETRIC_ALGORITHMS = ["RS256", "ES256"]
LEEWAY_SECONDS = 30
# One spelling only: the scheme as written, one space, a compact JWS (three base64url segments).
# Variants (lower case, two spaces, trailing text) would be other identity-source values, each
# cached apart by API Gateway, and a parser that tolerates them is one more thing to audit.
BEARER = re.compile(r"Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)")


class TokenRejected(Exception):
    """The token is not acceptable; the message is safe to log (it never holds the token)."""


@cache
def _jwks_client(url: str) -> jwt.PyJWKClient:
    return jwt.PyJWKClient(url, cache_keys=True, lifespan=300, timeout=5)


def _hmac_secret(settings: Settings) -> str:
    if settings.jwt_secret is not None:
        return settings.jwt_secret.get_secret_value()
    if settings.jwt_secret_arn:
        from imagegen.dal.secrets import get_secret

        return get_secret(settings.jwt_secret_arn)
    raise TokenRejected("no JWT_SECRET, JWT_SECRET_ARN or JWT_JWKS_URL is configured")


def _check_time_claims(claims: dict[str, Any]) -> None:
    """Refuse time claims that are not JSON numbers (RFC 7519's NumericDate).

    By hand because pyjwt (2.x) has no option for it: it coerces them with int(), so "exp": "9999999999"
    or "iat": true would pass its checks.
    """
    for name in TIME_CLAIMS:
        value = claims.get(name)
        if name in claims and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise TokenRejected(f"invalid token ({name} is not a number)")


def verify_token(authorization: str | None, settings: Settings) -> Caller:
    """The caller a `Bearer <jwt>` header proves, or TokenRejected."""
    bearer = BEARER.fullmatch(authorization or "")
    if bearer is None:
        raise TokenRejected("missing bearer token")
    token = bearer.group(1)
    key: Any
    if settings.jwt_jwks_url:
        try:
            signing_key = _jwks_client(settings.jwt_jwks_url).get_signing_key_from_jwt(token)
        except jwt.PyJWTError as error:
            raise TokenRejected(f"no signing key for token ({type(error).__name__})") from None
        # The key's own algorithm, not the token's header: an ES256 token naming an RSA key's kid
        # would otherwise reach pyjwt's RSA verifier with an EC signature, and raise a TypeError.
        algorithms = [name for name in ASYMMETRIC_ALGORITHMS if name == signing_key.algorithm_name]
        key = signing_key.key
    else:
        algorithms, key = HMAC_ALGORITHMS, _hmac_secret(settings)
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=algorithms,
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": REQUIRED_CLAIMS},
        )
    except jwt.PyJWTError as error:
        raise TokenRejected(f"invalid token ({type(error).__name__})") from None
    _check_time_claims(claims)
    sub = claims["sub"]
    if not is_valid_sub(sub):
        raise TokenRejected("invalid token (sub)")
    scope = claims.get("scope", "")
    scopes = frozenset(scope.split()) if isinstance(scope, str) else frozenset()
    return Caller(sub=sub, scopes=scopes)


def authorize(authorization: str | None, settings: Settings) -> dict[str, Any]:
    """The HTTP API simple-response for a Lambda authorizer (payload format 2.0)."""
    try:
        caller = verify_token(authorization, settings)
    except TokenRejected as rejection:
        logger.info("token rejected", reason=str(rejection))
        return {"isAuthorized": False}
    return {"isAuthorized": True, "context": {"sub": caller.sub, "scope": " ".join(sorted(caller.scopes))}}


def mint_token(
    settings: Settings, sub: str, secret: str, scopes: list[str] | None = None, ttl_seconds: int = 3600
) -> str:
    """An HS256 token the local stack accepts (for `imagegen token` and tests)."""
    import time

    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": sub,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    if scopes:
        claims["scope"] = " ".join(scopes)
    return jwt.encode(claims, secret, algorithm="HS256")
