"""The `imagegen` command: run the local stack and mint local tokens."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from collections.abc import Sequence

EXIT_OK, EXIT_USAGE = 0, 2


def _serve(args: argparse.Namespace) -> int:
    from imagegen.local.stack import DEFAULT_PORT, LocalStack

    print("imagegen: starting the local stack (emulated AWS, functions, queue pollers) ...", flush=True)
    stack = LocalStack(host=args.host, port=args.port or DEFAULT_PORT)
    try:
        stack.start()
    except OSError as error:
        print(f"imagegen: cannot listen on {args.host}:{args.port}: {error.strerror}", file=sys.stderr)
        stack.stop()
        return 1
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    print(
        f"imagegen: ready on {stack.url} in {stack.started_seconds:.1f}s (provider: offline)\n"
        f"  token:  TOKEN=$(.venv/bin/imagegen token --sub alice)\n"
        f'  try:    curl -s -X POST {stack.url}/api/icons/generate -H "Authorization: Bearer $TOKEN" '
        f"-H 'Content-Type: application/json' -d '{{\"category\": \"office supplies\"}}'\n"
        f"  Ctrl-C stops it.",
        flush=True,
    )
    with contextlib.suppress(KeyboardInterrupt):
        stopped.wait()
    print("\nimagegen: stopping ...", flush=True)
    stack.stop()
    print("imagegen: stopped.", flush=True)
    return EXIT_OK


def _token(args: argparse.Namespace) -> int:
    from imagegen.config import get_settings
    from imagegen.local.stack import LOCAL_JWT_SECRET
    from imagegen.logic.auth import mint_token

    settings = get_settings()
    secret = settings.jwt_secret.get_secret_value() if settings.jwt_secret else LOCAL_JWT_SECRET
    print(mint_token(settings, args.sub, secret, args.scope, args.ttl))
    return EXIT_OK


def _fake_openai(args: argparse.Namespace) -> int:
    from imagegen.local.fake_openai import FakeOpenAI

    fake = FakeOpenAI(port=args.port)
    fake.configure(latency=args.latency, images_per_minute=args.images_per_minute)
    fake.start()
    print(
        f"imagegen: fake OpenAI Images API on {fake.base_url} (loopback only)\n"
        f"  use it:  OPENAI_BASE_URL={fake.base_url} OPENAI_API_KEY=sk-fake make serve\n"
        f'  script:  POST /_fake/script {{"next": ["rate_limit", "moderation", ...]}}, '
        f"POST /_fake/config, GET /_fake/stats\n  Ctrl-C stops it.",
        flush=True,
    )
    with contextlib.suppress(KeyboardInterrupt):
        threading.Event().wait()
    fake.stop()
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="imagegen", description="AI images for catalogue icons and blog posts."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the local stack on http://127.0.0.1:3560")
    serve.add_argument(
        "--host", default="127.0.0.1", help="loopback address to listen on (default 127.0.0.1)"
    )
    serve.add_argument("--port", type=int, default=3560, help="port (default 3560)")
    serve.set_defaults(run=_serve)
    token = commands.add_parser("token", help="print a bearer token the local stack accepts")
    token.add_argument("--sub", required=True, help="the user the token names")
    token.add_argument("--scope", action="append", help="a scope to grant (repeatable), e.g. admin")
    token.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds (default 3600)")
    token.set_defaults(run=_token)
    fake = commands.add_parser(
        "fake-openai", help="run a scriptable fake OpenAI Images API on loopback (dev tool)"
    )
    fake.add_argument("--port", type=int, default=0, help="port (default: any free one)")
    fake.add_argument("--latency", type=float, default=0.0, help="seconds per image (default 0)")
    fake.add_argument("--images-per-minute", type=int, default=0, help="rate limit to enforce (default none)")
    fake.set_defaults(run=_fake_openai)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
