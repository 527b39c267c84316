"""The web page's files and headers, and the local-only sign-in route."""

from __future__ import annotations

import json

import jwt

from imagegen import templates
from imagegen.config import settings_from
from imagegen.local.stack import LOCAL_TOKEN_PATH, LocalStack
from imagegen.local.template import Template
from imagegen.logic.web_page import asset, security_headers


def test_every_style_and_colour_scheme_has_a_sample_and_nothing_leaves_the_folder() -> None:
    for style in templates.styles():
        assert asset(f"samples/style-{style}.png") is not None, style
    for scheme in templates.color_schemes():
        assert asset(f"samples/color-{scheme}.png") is not None, scheme
    assert asset("../config.py") is None and asset("../web/../logic/web_page.py") is None


def test_the_policy_allows_this_origin_the_images_and_the_websocket_only() -> None:
    headers = security_headers("http://127.0.0.1:5000/bucket/k.png?X-Amz=1", "ws://127.0.0.1:3561")
    policy = headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    assert "img-src 'self' data: http://127.0.0.1:5000" in policy
    assert "connect-src 'self' http://127.0.0.1:5000 ws://127.0.0.1:3561" in policy
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_the_token_route_is_not_in_the_template() -> None:
    assert not [route for route in Template().routes() if route.path.startswith("/local")]
    # Nor does the status function (which serves the page in AWS) know it.
    from imagegen.api import status_routes, web_routes
    from imagegen.api.http import build_resolver
    from imagegen.local.lambdas import LocalContext
    from tests.helpers import http_event

    app = build_resolver(status_routes.router, web_routes.router)
    context = LocalContext("Status", 5)  # the local stack's stand-in for Lambda's context object
    answer = app.resolve(http_event("POST", LOCAL_TOKEN_PATH, body={"sub": "x"}), context)  # type: ignore[arg-type]
    assert answer["statusCode"] == 404


def test_the_local_stack_mints_a_token_its_authorizer_accepts() -> None:
    stack = LocalStack(port=0, environ={})
    status, body = stack.local_token(json.dumps({"sub": "ann"}).encode())
    assert status == 200 and body["sub"] == "ann"
    settings = settings_from(stack.function_env(stack.template.authorizer_function()))
    claims = jwt.decode(
        body["token"],
        stack.jwt_secret,
        algorithms=["HS256"],
        audience=settings.jwt_audience,
        issuer=settings.jwt_issuer,
    )
    assert claims["sub"] == "ann"
    status, body = stack.local_token(b'{"sub": "no spaces please"}')
    assert status == 400 and body["error"] == "invalid_request"
    assert LOCAL_TOKEN_PATH == "/local/token"
