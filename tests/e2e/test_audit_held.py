"""What the audit found held, kept held over HTTP on one local stack (offline provider):

- the JWT attack set against the authorizer: every forged, mis-signed, mis-claimed or misplaced token
  is refused (401/403) while a valid control token is accepted;
- tenant isolation: another user's probes of a job, its items, images and metadata (plain ids and
  every spelling of them), cursors, cache, stats and Idempotency-Key reuse are 404 or see only
  their own data.

One stack for the module: about 15 s to start, 10 s of probes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from imagegen.local.stack import LocalStack
from tests.e2e.conftest import Client

pytestmark = pytest.mark.e2e

ALICE, BOB = "alice-audit", "bob-audit"
ISSUER = AUDIENCE = "imagegen"  # the local stack's defaults
ATTACKER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ATTACKER_SECRET = "attacker-chosen-secret-that-is-long-enough"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _segment(value: Any) -> str:
    return _b64(json.dumps(value).encode())


def _claims(**changes: Any) -> dict[str, Any]:
    """Valid claims for ALICE; a change of None drops the claim."""
    now = int(time.time())
    claims = {"sub": ALICE, "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 600, **changes}
    return {name: value for name, value in claims.items() if value is not None}


def _hmac_token(
    header: dict[str, Any], claims: dict[str, Any], key: bytes, digest: Any = hashlib.sha256
) -> str:
    """A JWS built by hand, so that header and signature can disagree as an attacker makes them."""
    signing_input = f"{_segment(header)}.{_segment(claims)}"
    return f"{signing_input}.{_b64(hmac.new(key, signing_input.encode(), digest).digest())}"


@dataclass(frozen=True)
class Attempt:
    """How a request presents (or misplaces) a token: its Authorization header, query, cookie."""

    authorization: str | None = None
    query: str = ""
    cookie: str | None = None


# Each builds an attempt from the stack's real secret, which a forger would need and does not have.
ATTACKS: dict[str, Callable[[bytes], Attempt]] = {}


def attack(name: str) -> Callable[[Callable[[bytes], Attempt]], Callable[[bytes], Attempt]]:
    def register(build: Callable[[bytes], Attempt]) -> Callable[[bytes], Attempt]:
        ATTACKS[name] = build
        return build

    return register


def _bearer(token: str) -> Attempt:
    return Attempt(authorization=f"Bearer {token}")


def _valid(secret: bytes, **changes: Any) -> str:
    return _hmac_token({"alg": "HS256", "typ": "JWT"}, _claims(**changes), secret)


# alg none in every spelling, unsigned and with a signature that would verify under HS256.
for _alg in ("none", "None", "NONE", "nOnE"):

    def _unsigned(_s: bytes, alg: str = _alg) -> Attempt:
        return _bearer(f"{_segment({'alg': alg, 'typ': 'JWT'})}.{_segment(_claims())}.")

    def _signed(s: bytes, alg: str = _alg) -> Attempt:
        return _bearer(_hmac_token({"alg": alg}, _claims(), s))

    attack(f"alg-{_alg}-unsigned")(_unsigned)
    attack(f"alg-{_alg}-signed")(_signed)
attack("alg-none-two-segments")(lambda _s: _bearer(f"{_segment({'alg': 'none'})}.{_segment(_claims())}"))
attack("alg-empty")(lambda s: _bearer(_hmac_token({"alg": ""}, _claims(), s)))
attack("alg-missing")(lambda s: _bearer(_hmac_token({"typ": "JWT"}, _claims(), s)))
attack("alg-lowercase-hs256")(lambda s: _bearer(_hmac_token({"alg": "hs256"}, _claims(), s)))
# HMAC family swaps: the right secret, an algorithm the service does not pin.
attack("alg-HS384-swap")(lambda s: _bearer(_hmac_token({"alg": "HS384"}, _claims(), s, hashlib.sha384)))
attack("alg-HS512-swap")(lambda s: _bearer(_hmac_token({"alg": "HS512"}, _claims(), s, hashlib.sha512)))
# Asymmetric headers over an HMAC of the secret (key confusion), or a real signature by another key.
for _alg in ("RS256", "ES256", "PS256", "EdDSA"):

    def _confused(s: bytes, alg: str = _alg) -> Attempt:
        return _bearer(_hmac_token({"alg": alg}, _claims(), s))

    attack(f"{_alg}-header-hmac-over-secret")(_confused)
attack("RS256-signed-by-attacker")(lambda _s: _bearer(jwt.encode(_claims(), ATTACKER_KEY, algorithm="RS256")))
# Injected key headers: the attacker's key or secret, and a header saying where to find it.
attack("jku-attacker-jwks")(
    lambda _s: _bearer(
        jwt.encode(
            _claims(), ATTACKER_KEY, algorithm="RS256", headers={"jku": "http://127.0.0.1:9/jwks.json"}
        )
    )
)
attack("x5u-attacker-cert")(
    lambda _s: _bearer(
        jwt.encode(_claims(), ATTACKER_KEY, algorithm="RS256", headers={"x5u": "http://127.0.0.1:9/cert.pem"})
    )
)
attack("jwk-embedded-rsa")(
    lambda _s: _bearer(
        jwt.encode(
            _claims(),
            ATTACKER_KEY,
            algorithm="RS256",
            headers={"jwk": json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(ATTACKER_KEY.public_key()))},
        )
    )
)
attack("jwk-embedded-oct")(
    lambda _s: _bearer(
        _hmac_token(
            {"alg": "HS256", "jwk": {"kty": "oct", "k": _b64(ATTACKER_SECRET.encode())}},
            _claims(),
            ATTACKER_SECRET.encode(),
        )
    )
)
attack("jku-hs256-attacker-secret")(
    lambda _s: _bearer(
        _hmac_token({"alg": "HS256", "jku": "http://127.0.0.1:9/k"}, _claims(), ATTACKER_SECRET.encode())
    )
)
for _kid, _key in {
    "../../../../../../dev/null": b"",
    "/dev/null": b"",
    "../../../../etc/hostname": b"",
    "' OR '1'='1": ATTACKER_SECRET.encode(),
    "x' UNION SELECT 'attacker' -- ": b"attacker",
    "$(id)": ATTACKER_SECRET.encode(),
}.items():

    def _kid_injected(_s: bytes, kid: str = _kid, key: bytes = _key) -> Attempt:
        return _bearer(_hmac_token({"alg": "HS256", "kid": kid}, _claims(), key))

    attack(f"kid-{_kid.strip()[:24]}")(_kid_injected)
# Wrong or broken signatures.
attack("hs256-attacker-secret")(lambda _s: _bearer(_valid(ATTACKER_SECRET.encode())))
attack("hs256-empty-secret")(lambda _s: _bearer(_valid(b"")))
attack("signature-stripped")(lambda s: _bearer(_valid(s).rsplit(".", 1)[0] + "."))
attack("signature-truncated")(lambda s: _bearer(_valid(s)[:-4]))
attack("claims-swapped-after-signing")(
    lambda s: _bearer(
        ".".join([_valid(s).split(".")[0], _segment(_claims(sub=BOB)), _valid(s).split(".")[2]])
    )
)
# Missing claims, and claims of the wrong type or value (correctly signed: only the claims are wrong).
for _claim in ("sub", "exp", "iat", "iss", "aud"):

    def _missing(s: bytes, claim: str = _claim) -> Attempt:
        return _bearer(_valid(s, **{claim: None}))

    attack(f"missing-{_claim}")(_missing)
_WRONG_CLAIMS: dict[str, dict[str, Any]] = {
    "sub-number": {"sub": 12345},
    "sub-empty": {"sub": ""},
    "sub-list": {"sub": [ALICE]},
    "sub-object": {"sub": {"id": ALICE}},
    "sub-too-long": {"sub": "a" * 300},
    "exp-numeric-string": {"exp": str(int(time.time()) + 600)},
    "exp-bool": {"exp": True},
    "exp-past": {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200},
    "iat-string": {"iat": str(int(time.time()))},
    "iat-list": {"iat": [int(time.time())]},
    "nbf-future": {"nbf": int(time.time()) + 3600},
    "nbf-string": {"nbf": str(int(time.time()))},
    "iss-prefixed": {"iss": "evil-imagegen"},
    "iss-suffixed": {"iss": "imagegen-evil"},
    "iss-uppercase": {"iss": "IMAGEGEN"},
    "iss-trailing-space": {"iss": "imagegen "},
    "iss-list": {"iss": ["imagegen"]},
    "aud-prefixed": {"aud": "evil.imagegen"},
    "aud-suffixed": {"aud": "imagegen.evil"},
    "aud-uppercase": {"aud": "IMAGEGEN"},
    "aud-list-of-wrong": {"aud": ["evil", "imagegen-evil"]},
    "aud-empty": {"aud": ""},
    "aud-number": {"aud": 1},
}
for _name, _changes in _WRONG_CLAIMS.items():

    def _wrong_claims(s: bytes, changes: dict[str, Any] = _changes) -> Attempt:
        return _bearer(_valid(s, **changes))

    attack(_name)(_wrong_claims)
# Tokens where the API does not read them, and headers of the wrong shape.
for _param in ("access_token", "token", "jwt", "id_token", "authorization"):

    def _in_query(s: bytes, param: str = _param) -> Attempt:
        return Attempt(query=f"{param}={quote(_valid(s))}")

    attack(f"query-{_param}")(_in_query)
attack("query-bearer-with-bad-header")(
    lambda s: Attempt(
        authorization=f"Bearer {_valid(ATTACKER_SECRET.encode())}", query=f"access_token={_valid(s)}"
    )
)
attack("cookie-token")(lambda s: Attempt(cookie=f"token={_valid(s)}; access_token={_valid(s)}"))
attack("empty-authorization")(lambda _s: Attempt(authorization=""))
attack("bearer-without-token")(lambda _s: Attempt(authorization="Bearer"))
attack("bearer-space-only")(lambda _s: Attempt(authorization="Bearer  "))
attack("bearer-lowercase")(lambda s: Attempt(authorization=f"bearer {_valid(s)}"))
attack("bearer-uppercase")(lambda s: Attempt(authorization=f"BEARER {_valid(s)}"))
attack("bearer-double-space")(lambda s: Attempt(authorization=f"Bearer  {_valid(s)}"))
attack("bearer-tab")(lambda s: Attempt(authorization=f"Bearer\t{_valid(s)}"))
attack("bearer-trailing-junk")(lambda s: Attempt(authorization=f"Bearer {_valid(s)} junk"))
attack("token-without-scheme")(lambda s: Attempt(authorization=_valid(s)))
attack("basic-scheme")(lambda s: Attempt(authorization=f"Basic {_valid(s)}"))
attack("two-bearers")(lambda s: Attempt(authorization=f"Bearer {_valid(s)}, Bearer {_valid(s)}"))


def _send(client: Client, attempt: Attempt, path: str = "/api/jobs") -> tuple[int, dict[str, Any]]:
    """GET with the attempt's headers sent as they are (httpx refuses some of these spellings)."""
    headers = {"Authorization": attempt.authorization} if attempt.authorization is not None else {}
    if attempt.cookie:
        headers["Cookie"] = attempt.cookie
    target = f"{path}?{attempt.query}" if attempt.query else path
    status, _, body = _request(client, "GET", target, headers)
    return status, json.loads(body)


def _secret(stack: LocalStack) -> bytes:
    return stack.jwt_secret.encode()


def test_the_attack_table_is_the_audits_size() -> None:
    assert len(ATTACKS) >= 59


def test_a_valid_token_built_the_same_way_is_accepted(client: Client) -> None:
    # The control: the hand-built token the attacks vary is one the authorizer takes.
    status, body = _send(client, _bearer(_valid(_secret(client.stack))))
    assert status == 200 and "batches" in body


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_every_attack_is_refused(client: Client, name: str) -> None:
    status, body = _send(client, ATTACKS[name](_secret(client.stack)))
    assert status in (401, 403), (name, status, body)
    assert "batches" not in body


# -- tenant isolation ---------------------------------------------------------------------------


@dataclass
class AlicesWork:
    batch_id: str
    blog_id: str
    keys: list[str]  # images and metadata files of both jobs
    idempotency_key: str
    batch_body: dict[str, Any]


def _request(client: Client, method: str, target: str, headers: dict[str, str]) -> tuple[int, str, str]:
    """A request whose target and headers go out byte for byte (httpx would normalise `..` and `//`,
    and refuse some header spellings); its status, Location and body."""
    parts = urlsplit(client.stack.url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    try:
        connection.putrequest(method, target, skip_accept_encoding=True)
        for name, value in {**headers, "Content-Length": "0"}.items():
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.getheader("Location") or "", response.read().decode(errors="replace")
    finally:
        connection.close()


def _raw(client: Client, method: str, target: str, sub: str, accept: str = "*/*") -> tuple[int, str, str]:
    return _request(client, method, target, {**client.auth(sub), "Accept": accept})


@pytest.fixture(scope="module")
def alices(client: Client) -> AlicesWork:
    batch_body = {"categories": ["audit kites", "audit tents"], "variations_per_category": 1}
    key = "audit-shared-idempotency-key"
    batch = client.post(
        "/api/icons/generate/batch", batch_body, ALICE, Prefer="wait=20", **{"Idempotency-Key": key}
    )
    assert batch.status_code == 200, batch.text
    blog = client.post(
        "/api/images/generate",
        {"prompt": "A lighthouse in fog", "post_id": "audit", "section_id": "1", "filename": "hero"},
        ALICE,
        Prefer="wait=20",
    )
    assert blog.status_code == 200, blog.text
    batch_id, blog_id = batch.json()["batch_id"], blog.json()["batch_id"]
    keys = []
    for job_id in (batch_id, blog_id):
        result = client.get(f"/api/jobs/{job_id}/result", ALICE).json()
        for item in result["items"]:
            assert item["state"] == "completed"
            keys += [item["key"], item["metadata_url"].removeprefix("/api/images/")]
    return AlicesWork(batch_id, blog_id, keys, key, batch_body)


def _job_targets(job_id: str) -> list[tuple[str, str]]:
    """Every route that takes a job id, with the id spelt every way a prober tries."""
    spellings = [
        job_id,
        job_id.upper(),
        "".join(f"%{byte:02X}" for byte in job_id.encode()),
        f"{job_id}%2F",
        f"x/../{job_id}",
        f"x%2F..%2F{job_id}",
        f"/{job_id}",
        f"{job_id}/.",
        f"{job_id}%00",
        f"{job_id}%5C",
    ]
    routes = [
        ("GET", "/api/icons/batch/{}/status"),
        ("GET", "/api/icons/batch/{}/result"),
        ("GET", "/api/jobs/{}"),
        ("GET", "/api/jobs/{}/result"),
        ("POST", "/api/icons/batch/{}/cancel"),
        ("POST", "/api/jobs/{}/cancel"),
    ]
    return [(method, route.format(spelling)) for method, route in routes for spelling in spellings]


def _image_targets(key: str, origin: str) -> list[str]:
    """The image route with a key spelt every way a prober tries (encoded, dotted, doubled, absolute)."""
    first, rest = key.split("/", 1)
    return [
        f"/api/images/{key}",
        f"/api/images/{key.upper()}",
        f"/api/images/{quote(key, safe='')}",
        "/api/images/" + "".join(f"%{byte:02X}" for byte in key.encode()),
        f"/api/images//{key}",
        f"/api/images/{first}//{rest}",
        f"/api/images/./{key}",
        f"/api/images/x/../{key}",
        f"/api/images/{first}/%2E%2E/{first}/{rest}",
        f"/api/images/{key.replace('/', '%5C')}",
        f"/api/images/%2F{key}",
        f"/api/images/s3://imagegen-images/{key}",
        f"/api/images/{origin}/api/images/{key}",
        f"{origin}/api/images/{key}",  # an absolute-form request target
    ]


def test_alice_herself_reaches_what_bob_probes(client: Client, alices: AlicesWork) -> None:
    # The control: the plain forms of the probes below answer Alice, so a leak to Bob would show.
    for job_id in (alices.batch_id, alices.blog_id):
        for path in (
            f"/api/jobs/{job_id}",
            f"/api/jobs/{job_id}/result",
            f"/api/icons/batch/{job_id}/status",
        ):
            assert _raw(client, "GET", path, ALICE)[0] == 200, path
    for key in alices.keys:
        status, location, _ = _raw(client, "GET", f"/api/images/{key}", ALICE)
        assert status == 302 and key in location
        assert _raw(client, "GET", f"{client.stack.url}/api/images/{key}", ALICE)[0] == 302


def test_bob_gets_404_for_every_spelling_of_alices_jobs(client: Client, alices: AlicesWork) -> None:
    targets = _job_targets(alices.batch_id) + _job_targets(alices.blog_id)
    answers = {(method, path): _raw(client, method, path, BOB) for method, path in targets}
    # A 404, from the API (naming the id Bob sent) or from the front (no such route), and nothing
    # of the job: no state, counts or items
    leaks = {
        target: answer
        for target, answer in answers.items()
        if answer[0] != 404 or not set(json.loads(answer[2])) <= {"error", "message"}
    }
    assert leaks == {}
    assert {json.loads(answer[2]).get("error", "no route") for answer in answers.values()} == {
        "not_found",
        "no route",
    }
    # And nothing was cancelled by Bob's POSTs
    assert client.get(f"/api/jobs/{alices.batch_id}", ALICE).json()["state"] == "completed"


def test_bob_gets_404_for_every_spelling_of_alices_images_and_metadata(
    client: Client, alices: AlicesWork
) -> None:
    leaks = {}
    for key in alices.keys:
        for target in _image_targets(key, client.stack.url):
            for accept in ("*/*", "application/json"):
                status, location, body = _raw(client, "GET", target, BOB, accept)
                if (
                    status not in (400, 404)
                    or location
                    or "X-Amz-Signature" in body
                    or "download_url" in body
                ):
                    leaks[(target, accept)] = (status, location, body[:200])
    assert leaks == {}


def test_bob_cannot_page_with_alices_cursor(client: Client, alices: AlicesWork) -> None:
    for path, listed in (("/api/jobs", "batches"), ("/api/icons/batches", "batches")):
        first = client.get(path, ALICE, limit="1").json()
        cursor = first["next_cursor"]
        assert cursor and len(first[listed]) == 1  # Alice has two jobs: there is a next page
        # Alice's cursor as is, and re-signed with Bob's name: refused, or Bob's own (empty) page
        decoded = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        renamed = _b64(json.dumps({**decoded, "owner": BOB}).encode())
        for probe in (cursor, renamed):
            answer = client.get(path, BOB, limit="1", cursor=probe)
            assert answer.status_code in (200, 400), answer.text
            assert alices.batch_id not in answer.text and alices.blog_id not in answer.text
    cached = client.get("/api/icons/cached", ALICE, limit="1").json()
    assert cached["next_cursor"]  # two icons remembered: a second page
    answer = client.get("/api/icons/cached", BOB, limit="1", cursor=cached["next_cursor"])
    assert answer.status_code == 400 and not any(key in answer.text for key in alices.keys)


def test_cache_and_stats_are_bobs_own(client: Client, alices: AlicesWork) -> None:
    alices_cache = client.get("/api/icons/cached", ALICE).json()["entries"]
    assert alices_cache  # Alice's icons were remembered
    # Bob sees none of Alice's cache entries or figures
    bobs_cache = client.get("/api/icons/cached", BOB)
    assert bobs_cache.status_code == 200 and bobs_cache.json()["entries"] == []
    stats = client.get("/api/icons/stats", BOB)
    assert stats.status_code == 200
    assert not any(key in stats.text for key in alices.keys)
    assert stats.json()["billed_calls"] == 0
    # Bob clearing "the" cache clears only his
    assert client.post("/api/icons/cache/clear", sub=BOB).status_code == 200
    assert client.get("/api/icons/cached", ALICE).json()["entries"] == alices_cache
    # Bob asking for Alice's very icons draws his own, not Alice's cached images
    mine = client.post("/api/icons/generate/batch", alices.batch_body, BOB, Prefer="wait=20")
    assert mine.status_code == 200, mine.text
    items = mine.json()["items"]
    assert items and not any(item["key"] in alices.keys for item in items)


def test_bob_reusing_alices_idempotency_key_gets_a_new_job_of_his_own(
    client: Client, alices: AlicesWork
) -> None:
    answer = client.post(
        "/api/icons/generate/batch", alices.batch_body, BOB, **{"Idempotency-Key": alices.idempotency_key}
    )
    assert answer.status_code in (200, 202), answer.text
    bobs_id = answer.json()["batch_id"]
    assert bobs_id != alices.batch_id
    assert client.get(f"/api/jobs/{bobs_id}", ALICE).status_code == 404
    assert client.wait_until_done(f"/api/jobs/{bobs_id}", BOB)["state"] == "completed"
    bobs_items = client.get(f"/api/jobs/{bobs_id}/result", BOB).json()["items"]
    assert bobs_items and not any(item["key"] in alices.keys for item in bobs_items)
    # Alice's key still answers Alice with her own job
    again = client.post(
        "/api/icons/generate/batch",
        alices.batch_body,
        ALICE,
        Prefer="wait=20",
        **{"Idempotency-Key": alices.idempotency_key},
    )
    assert again.json()["batch_id"] == alices.batch_id


def test_bob_cannot_overwrite_alices_blog_image_by_naming_its_key(client: Client, alices: AlicesWork) -> None:
    (key,) = [key for key in alices.keys if key.startswith("posts/audit/sections/1/raw/hero.")]
    before = client.aws("s3").get_object(Bucket=client.stack.resource("ImagesBucket"), Key=key)["ETag"]
    body = {"prompt": "Something else", "post_id": "audit", "section_id": "1", "filename": "hero"}
    answer = client.post("/api/images/generate", body, BOB, Prefer="wait=20")
    # The key is taken (blog keys follow the post's layout, not the owner): Bob is told so at once
    assert answer.status_code == 409 and answer.json()["error"] == "image_exists", answer.text
    after = client.aws("s3").get_object(Bucket=client.stack.resource("ImagesBucket"), Key=key)["ETag"]
    assert after == before
    assert _raw(client, "GET", f"/api/images/{key}", BOB)[0] == 404
