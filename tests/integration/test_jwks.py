"""RS256/ES256 tokens verified against a JWKS served on loopback, as with an identity provider."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from imagegen.config import Settings
from imagegen.logic.auth import TokenRejected, verify_token

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
ATTACKER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ATTACKER_JWKS_PATH = "/attacker/jwks.json"  # served beside the real one: reachable, never trusted


def _jwk(public_key: Any, kid: str, alg: str) -> dict[str, Any]:
    algorithm = RSAAlgorithm if alg == "RS256" else ECAlgorithm
    return {**json.loads(algorithm.to_jwk(public_key)), "kid": kid, "alg": alg, "use": "sig"}


@pytest.fixture(scope="module")
def jwks_url() -> Iterator[str]:
    body = json.dumps(
        {"keys": [_jwk(RSA_KEY.public_key(), "rsa-1", "RS256"), _jwk(EC_KEY.public_key(), "ec-1", "ES256")]}
    ).encode()
    attackers = json.dumps({"keys": [_jwk(ATTACKER_KEY.public_key(), "rsa-1", "RS256")]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            answer = attackers if self.path == ATTACKER_JWKS_PATH else body
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *_: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    server.shutdown()


def _claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"sub": "carol", "iss": "imagegen", "aud": "imagegen", "iat": now, "exp": now + 600, **changes}


def _settings(url: str) -> Settings:
    return Settings(jwt_jwks_url=url, jwt_issuer="imagegen", jwt_audience="imagegen")


@pytest.mark.parametrize(("key", "kid", "alg"), [(RSA_KEY, "rsa-1", "RS256"), (EC_KEY, "ec-1", "ES256")])
def test_tokens_signed_by_a_published_key_are_accepted(jwks_url: str, key: Any, kid: str, alg: str) -> None:
    signed = jwt.encode(_claims(), key, algorithm=alg, headers={"kid": kid})
    assert verify_token(f"Bearer {signed}", _settings(jwks_url)).sub == "carol"


def test_hs256_signed_with_the_public_key_is_refused(jwks_url: str) -> None:
    public_pem = RSA_KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )

    # The classic algorithm-confusion attack: HMAC keyed with the public key the server trusts
    # (built by hand: pyjwt itself refuses to sign HS256 with a PEM key).
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}).encode())
    signing_input = f"{header}.{b64(json.dumps(_claims()).encode())}"
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    forged = f"{signing_input}.{b64(signature)}"
    with pytest.raises(TokenRejected):
        verify_token(f"Bearer {forged}", _settings(jwks_url))


def test_unknown_key_id_and_expired_tokens_are_refused(jwks_url: str) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    unknown = jwt.encode(_claims(), other, algorithm="RS256", headers={"kid": "rotated-away"})
    expired = jwt.encode(
        _claims(exp=int(time.time()) - 600), RSA_KEY, algorithm="RS256", headers={"kid": "rsa-1"}
    )
    for token in (unknown, expired):
        with pytest.raises(TokenRejected):
            verify_token(f"Bearer {token}", _settings(jwks_url))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _hmac_signed(header: dict[str, Any], key: bytes) -> str:
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(_claims()).encode())}"
    return f"{signing_input}.{_b64(hmac.new(key, signing_input.encode(), hashlib.sha256).digest())}"


def _attacks(jwks_url: str) -> dict[str, str]:
    """Tokens an attacker can make against a JWKS-configured authorizer, none signed by its keys."""
    origin = jwks_url.rsplit("/.well-known", 1)[0]
    attacker_jwks = origin + ATTACKER_JWKS_PATH
    public_jwk = json.loads(RSAAlgorithm.to_jwk(ATTACKER_KEY.public_key()))
    real_jwk_text = RSAAlgorithm.to_jwk(RSA_KEY.public_key()).encode()
    modulus = json.loads(real_jwk_text)["n"].encode()

    def attacker(**headers: Any) -> str:
        return jwt.encode(_claims(), ATTACKER_KEY, algorithm="RS256", headers=headers)

    return {
        "alg-none": f"{_b64(json.dumps({'alg': 'none', 'kid': 'rsa-1'}).encode())}."
        f"{_b64(json.dumps(_claims()).encode())}.",
        "hs256-keyed-with-the-jwk": _hmac_signed({"alg": "HS256", "kid": "rsa-1"}, real_jwk_text),
        "hs256-keyed-with-the-modulus": _hmac_signed({"alg": "HS256", "kid": "rsa-1"}, modulus),
        "attacker-key-real-kid": attacker(kid="rsa-1"),
        "attacker-key-no-kid": attacker(),
        "jku-to-attacker-jwks": attacker(kid="rsa-1", jku=attacker_jwks),
        "x5u-to-attacker": attacker(kid="rsa-1", x5u=attacker_jwks),
        "jwk-embedded": attacker(kid="rsa-1", jwk=public_jwk),
        "kid-path-traversal": _hmac_signed({"alg": "HS256", "kid": "../../../../dev/null"}, b""),
        "kid-sql": attacker(kid="' OR '1'='1"),
        "RS512-by-the-real-key": jwt.encode(_claims(), RSA_KEY, algorithm="RS512", headers={"kid": "rsa-1"}),
        "PS256-by-the-real-key": jwt.encode(_claims(), RSA_KEY, algorithm="PS256", headers={"kid": "rsa-1"}),
        "ES256-under-the-rsa-kid": jwt.encode(_claims(), EC_KEY, algorithm="ES256", headers={"kid": "rsa-1"}),
        "RS256-under-the-ec-kid": jwt.encode(_claims(), RSA_KEY, algorithm="RS256", headers={"kid": "ec-1"}),
    }


ATTACK_NAMES = sorted(_attacks("http://127.0.0.1:1/.well-known/jwks.json"))


@pytest.mark.parametrize("name", ATTACK_NAMES)
def test_jwks_attacks_are_refused(jwks_url: str, name: str) -> None:
    # The control: the same server's own key and kid are accepted (see the first test)
    with pytest.raises(TokenRejected):
        verify_token(f"Bearer {_attacks(jwks_url)[name]}", _settings(jwks_url))
