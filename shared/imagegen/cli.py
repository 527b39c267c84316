"""The `imagegen` command: run the local stack and mint local tokens."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from imagegen.local import DEFAULT_PORT  # a constant: the stack itself (moto, boto3) loads only in `serve`

if TYPE_CHECKING:  # the stack (moto, boto3) is imported only by the commands that run it
    from imagegen.local.stack import LocalStack

# Stable exit codes, documented in the README: scripts rely on them.
EXIT_OK, EXIT_USAGE, EXIT_KEY, EXIT_PROVIDER, EXIT_FILESYSTEM = 0, 2, 3, 4, 5
DEFAULT_STATE_DIR = ".imagegen"  # in the folder `make serve` runs from; git ignores it


def serve_banner(stack: LocalStack) -> str:
    """What `serve` prints once the stack is ready: where, how fast, the worker's provider, where its
    data is kept, a first call."""
    if stack.state_dir is None:
        state = "in memory: nothing is kept after it stops"
    else:
        state = f"kept in {stack.state_dir} (restored {stack.restored.summary()})"
    bucket = stack.template.physical.get("ImagesBucket", {}).get("Ref")
    upload = (  # the emulated AWS takes any credentials; its port changes at each start
        f"  upload: AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_DEFAULT_REGION=us-east-1 "
        f"aws s3 cp post.json "
        f"s3://{bucket}/incoming/alice/ --endpoint-url {stack.aws.endpoint}\n"
        if bucket
        else ""
    )
    port = stack.websocket.port if stack.websocket else stack.websocket_port
    websocket = f"ws://{stack.host}:{port}"
    return (
        f"imagegen: ready on {stack.url} in {stack.started_seconds:.1f}s (provider: {stack.provider})\n"
        f"  page:   {stack.url}/ (the web page: sign in with its local button)\n"
        f"  data:   {state}\n"
        f"  live:   {websocket} (WebSocket progress: a ticket from POST /api/ws/ticket)\n"
        f"  token:  TOKEN=$(.venv/bin/imagegen token --sub alice)\n"
        f'  try:    curl -s -X POST {stack.url}/api/icons/generate -H "Authorization: Bearer $TOKEN" '
        f"-H 'Content-Type: application/json' -d '{{\"category\": \"office supplies\"}}'\n"
        f"{upload}"
        f"  Ctrl-C stops it."
    )


def _serve(args: argparse.Namespace) -> int:
    from imagegen.local.stack import LocalStack
    from imagegen.local.state import StateInUse

    print("imagegen: starting the local stack (emulated AWS, functions, SQS event source) ...", flush=True)
    state_dir = None if args.in_memory else Path(args.state_dir)
    stack = LocalStack(host=args.host, port=args.port, state_dir=state_dir, websocket_port=args.ws_port)
    try:
        stack.start()
    except OSError as error:
        ports = f"{args.port} or {stack.websocket_port}"
        print(f"imagegen: cannot listen on {args.host}:{ports}: {error.strerror}", file=sys.stderr)
        stack.stop()
        return 1
    except StateInUse as in_use:
        print(f"imagegen: {in_use}; stop it, or give another --state-dir", file=sys.stderr)
        stack.stop()
        return 1
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    print(serve_banner(stack), flush=True)
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

    try:
        fake = FakeOpenAI(
            port=args.port,
            latency=None if args.realistic else args.latency,
            images_per_minute=args.images_per_minute,
            seed=args.seed,
            time_scale=args.time_scale,
            today=args.today,
        )
    except ValueError as error:
        print(f"imagegen: {error}", file=sys.stderr)
        return EXIT_USAGE
    fake.start()
    print(
        f"imagegen: fake OpenAI Images API on {fake.base_url} (loopback only)\n"
        f"  use it:  OPENAI_BASE_URL={fake.base_url} OPENAI_API_KEY=sk-fake make serve\n"
        f'  script:  POST /_fake/script {{"next": ["rate_limit", "moderation", ...]}}, '
        f"POST /_fake/config, GET /_fake/stats (calls, billed calls and USD)\n  Ctrl-C stops it.",
        flush=True,
    )
    with contextlib.suppress(KeyboardInterrupt):
        threading.Event().wait()
    fake.stop()
    return EXIT_OK


NO_KEY_NOTICE = "no OpenAI key: drawing with the offline renderer"


def _blog_provider(args: argparse.Namespace) -> tuple[Any, Any]:
    """Settings and provider for the blog commands: OpenAI when a key is given or set, else offline
    (said on stderr); --provider (or IMAGE_PROVIDER) openai without a key exits 3."""
    from pydantic import ValidationError

    from imagegen.config import Settings, settings_problem
    from imagegen.providers.factory import get_provider, provider_name

    overrides: dict[str, Any] = {}
    if args.api_key is not None:
        if not args.api_key.strip():
            raise _Exit(EXIT_KEY, "--api-key is empty")
        overrides["openai_api_key"] = args.api_key.strip()
    if getattr(args, "model", None):
        overrides["openai_model"] = args.model
    if args.provider:
        overrides["image_provider"] = args.provider
    try:
        settings = Settings(**overrides)
    except ValidationError as invalid:  # a value given here, or a bad one in the environment
        options = {"openai_model": "--model", "image_provider": "--provider", "openai_api_key": "--api-key"}
        given = {field: option for field, option in options.items() if field in overrides}
        raise _Exit(EXIT_USAGE, settings_problem(invalid, given)) from None
    keyless = settings.openai_api_key is None and not settings.openai_api_key_secret_arn
    if settings.image_provider == "openai" and keyless:
        asked = "--provider openai" if args.provider else "IMAGE_PROVIDER=openai"
        raise _Exit(
            EXIT_KEY,
            f"OpenAI API key required: {asked} needs OPENAI_API_KEY (or OPENAI_AUTH_TOKEN) or --api-key",
        )
    if settings.image_provider == "auto" and provider_name(settings) == "offline":
        print(
            f"imagegen: {NO_KEY_NOTICE} (set OPENAI_API_KEY for OpenAI; --provider offline silences this)",
            file=sys.stderr,
            flush=True,
        )
    try:
        return settings, get_provider(settings)
    except RuntimeError as problem:  # IMAGE_PROVIDER=openai without a key
        raise _Exit(EXIT_KEY, str(problem)) from None


class _Exit(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def _generate_one(
    args: argparse.Namespace,
    body: dict[str, Any],
    settings: Any,
    provider: Any,
    *,
    skip_on_disk: bool = False,
) -> Any:
    """Generate one section's image (or find it on disk: skip_on_disk); _Exit with the documented
    code on any failure."""
    from datetime import UTC, datetime

    from pydantic import ValidationError

    from imagegen.errors import ImagegenError, InvalidRequestError, PermanentGenerationError
    from imagegen.logic.blog_files import FilesystemError, generate_section, generate_to_disk
    from imagegen.models.messages import readable
    from imagegen.models.requests import BlogImageRequest
    from imagegen.providers.openai_provider import ProviderKeyError

    try:
        request = BlogImageRequest.model_validate(body)
    except ValidationError as invalid:
        raise _Exit(EXIT_USAGE, readable(invalid.errors())) from None
    out, clock = Path(args.out), lambda: datetime.now(UTC)
    try:
        if skip_on_disk:
            return generate_section(request, out, provider, settings, clock, force=args.force)
        return generate_to_disk(request, out, provider, settings, clock, overwrite=args.force)
    except InvalidRequestError as refused:
        raise _Exit(EXIT_USAGE, str(refused)) from None
    except ProviderKeyError as refused:
        raise _Exit(EXIT_KEY, str(refused)) from None
    except FilesystemError as problem:
        raise _Exit(EXIT_FILESYSTEM, str(problem)) from None
    except (PermanentGenerationError, ImagegenError) as failed:
        raise _Exit(EXIT_PROVIDER, f"generation failed: {failed}") from None


def _generate(args: argparse.Namespace) -> int:
    settings, provider = _blog_provider(args)
    body = {
        "prompt": args.prompt,
        "post_id": args.post_id,
        "section_id": args.section_id,
        "output_format": args.format,
    }
    if args.size:
        body["size"] = args.size
    if args.filename:
        body["filename"] = args.filename
    if args.model:
        body["model"] = args.model
    saved = _generate_one(args, body, settings, provider)
    print(f"image:    {saved.image_path}\nmetadata: {saved.metadata_path}")
    print(f"model:    {saved.model} ({saved.provider})")
    if saved.billed_calls:  # a timed-out call is billed too: say how many the image took
        calls = f"{saved.billed_calls} billed call" + ("s" if saved.billed_calls > 1 else "")
        print(f"cost:     ${saved.cost_usd or 0:.4f} ({calls})")
    return EXIT_OK


def _batch(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from imagegen.logic.manifests import manifest_sections, section_body

    try:
        manifest = json.loads(Path(args.manifest).read_text())
        sections = manifest_sections(manifest)
        for index, section in enumerate(sections):
            if not isinstance(section, dict):
                raise ValueError(f"sections[{index}] must be a JSON object")
    except (OSError, ValueError) as problem:
        raise _Exit(EXIT_USAGE, f"cannot read manifest {args.manifest}: {problem}") from None
    args.model = args.model or manifest.get("model")
    settings, provider = _blog_provider(args)
    failures = skipped = 0
    worst = EXIT_OK
    for section in tqdm(sections, desc=f"post {manifest.get('post_id')}", unit="image", file=sys.stderr):
        body = section_body(manifest, section, size=args.size, model=args.model, output_format=args.format)
        try:
            saved = _generate_one(args, body, settings, provider, skip_on_disk=True)
        except _Exit as failure:
            failures += 1
            worst = max(worst, failure.code)
            tqdm.write(f"FAIL section {section.get('section_id')}: {failure}", file=sys.stderr)
            continue
        if saved.skipped:
            skipped += 1
            tqdm.write(
                f"skip section {section.get('section_id')}: {saved.image_path} and its metadata exist "
                f"(drawn by {saved.model}); --force redraws it",
                file=sys.stderr,
            )
        else:
            tqdm.write(f"ok   section {section.get('section_id')}: {saved.image_path}", file=sys.stderr)
    generated = len(sections) - failures - skipped
    print(
        f"{generated} of {len(sections)} images generated, {skipped} skipped (already on disk), "
        f"{failures} failed"
    )
    return worst


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="imagegen", description="AI images for catalogue icons and blog posts."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve",
        help=f"run the local stack on http://127.0.0.1:{DEFAULT_PORT} (WebSocket: {DEFAULT_PORT + 1})",
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="loopback address to listen on (default 127.0.0.1)"
    )
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    serve.add_argument(
        "--ws-port", type=int, default=None, help="the WebSocket API's port (default: --port + 1)"
    )
    serve.add_argument(
        "--state-dir",
        default=os.environ.get("LOCAL_STATE_DIR") or DEFAULT_STATE_DIR,  # noqa: TID251 - local tooling's option
        help=f"folder that keeps jobs, images and queued work across restarts "
        f"(default $LOCAL_STATE_DIR or {DEFAULT_STATE_DIR})",
    )
    serve.add_argument("--in-memory", action="store_true", help="keep nothing: all is gone when it stops")
    serve.set_defaults(run=_serve)
    token = commands.add_parser("token", help="print a bearer token the local stack accepts")
    token.add_argument("--sub", required=True, help="the user the token names")
    token.add_argument("--scope", action="append", help="a scope to grant (repeatable), e.g. admin")
    token.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds (default 3600)")
    token.set_defaults(run=_token)
    generate = commands.add_parser("generate", help="one blog image for a post section, written to disk")
    generate.add_argument("--prompt", required=True)
    generate.add_argument("--post-id", required=True)
    generate.add_argument("--section-id", required=True)
    generate.add_argument("--filename", help="without extension (default: a timestamp)")
    _blog_options(generate, "1792x1024")
    generate.set_defaults(run=_generate)
    batch = commands.add_parser("batch", help="every section of a post from a manifest (JSON)")
    batch.add_argument(
        "manifest", help='{"post_id": "53", "sections": [{"section_id": "1", "prompt": "..."}]}'
    )
    _blog_options(batch, "the manifest's \"size\", else 1792x1024; a section's own size wins")
    batch.set_defaults(run=_batch)
    fake = commands.add_parser(
        "fake-openai",
        help="run a scriptable fake OpenAI Images API on loopback (dev tool): per-model latency, "
        "rate limits, shutdown dates and a billing ledger",
    )
    fake.add_argument("--port", type=int, default=0, help="port (default: any free one)")
    fake.add_argument("--latency", type=float, default=0.0, help="seconds per image (default 0)")
    fake.add_argument(
        "--realistic",
        action="store_true",
        help="draw each image's latency from its model and quality (log-normal p50/p99; overrides --latency)",
    )
    fake.add_argument("--seed", type=int, default=0, help="seed of the drawn latencies (default 0)")
    fake.add_argument(
        "--time-scale", type=float, default=1.0, help="multiplies every latency, e.g. 0.01 (default 1)"
    )
    fake.add_argument(
        "--today",
        metavar="YYYY-MM-DD",
        help="the day the fake takes as today for shutdown dates (default: the real UTC date)",
    )
    fake.add_argument("--images-per-minute", type=int, default=0, help="rate limit to enforce (default none)")
    fake.set_defaults(run=_fake_openai)
    return parser


def _blog_options(parser: argparse.ArgumentParser, size_help: str) -> None:
    from imagegen.providers.registry import DEFAULT_MODEL

    parser.add_argument("--size", help=f"WIDTHxHEIGHT (default {size_help})")
    parser.add_argument(
        "--api-key", help="OpenAI key (default: OPENAI_API_KEY or OPENAI_AUTH_TOKEN); none = offline"
    )
    parser.add_argument(
        "--provider",
        choices=["auto", "openai", "offline"],
        help="auto: OpenAI with a key, else the offline renderer (said on stderr); openai: exit 3 "
        "without a key; offline: never call OpenAI (default: IMAGE_PROVIDER, else auto)",
    )
    parser.add_argument("--out", default="static/content", help="output folder (default static/content)")
    parser.add_argument("--model", help=f"image model (default OPENAI_MODEL, else {DEFAULT_MODEL})")
    parser.add_argument(
        "--format", choices=["png", "webp", "jpeg"], default="png", help="file format (default png)"
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="overwrite an existing image of the same name; batch: redraw sections already on disk",
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from pydantic import ValidationError

    from imagegen.config import settings_problem

    try:
        return int(args.run(args))
    except _Exit as failure:
        print(f"imagegen: {failure}", file=sys.stderr)
        return failure.code
    except ValidationError as invalid:  # the environment's settings (requests are checked where read)
        print(f"imagegen: configuration: {settings_problem(invalid)}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
