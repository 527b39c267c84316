"""Offline render time per icon (each of the seven styles, and one whose subject the sentence model
decides) and per 1792x1024 blog image (four kinds of scene), next to a round trip through the fake OpenAI
server at zero latency (the SDK, HTTP, base64 and validation: the service's own overhead).

To compare with an older renderer, run this file with that commit's package first on the path:
`OLD=$(mktemp -d); git archive REV shared | tar -x -C "$OLD"`, then
`PYTHONPATH="$OLD/shared" .venv/bin/python bench/render.py`."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from imagegen.config import Settings
from imagegen.local.fake_openai import FakeOpenAI
from imagegen.models.domain import ImageSpec
from imagegen.providers.offline import OfflineProvider
from imagegen.providers.openai_provider import OpenAIProvider
from imagegen.providers.registry import DEFAULT_MODEL
from imagegen.providers.validation import validate_image

RUNS = 15
STYLES = ["minimal", "flat", "modern", "detailed", "vintage", "abstract", "realistic"]
BLOG_PROMPTS = [
    "A lighthouse over a stormy sea",
    "Fresh vegetables on a wooden table",
    "A team meeting in a modern office",
    "A rocket launching at dawn",
]


def timed(action: Callable[[int], object]) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU seconds per call. On a shared machine the CPU time is the steadier figure:
    other processes stretch the wall clock, not this process's own work."""
    action(0)  # warm up
    wall, cpu = [], []
    for n in range(1, RUNS + 1):
        began, began_cpu = time.perf_counter(), time.process_time()
        action(n)
        wall.append(time.perf_counter() - began)
        cpu.append(time.process_time() - began_cpu)
    return wall, cpu


def icon(n: int, style: str = "modern", category: str = "office supplies") -> ImageSpec:
    return ImageSpec(
        kind="icon",
        prompt=category,
        width=1024,
        height=1024,
        key="k.png",
        category=category,
        style=style,
        color_scheme="brand_colors",
        variation=n % 10 + 1,
        model=DEFAULT_MODEL,
    )


def blog(n: int, prompt: str = BLOG_PROMPTS[0]) -> ImageSpec:
    return ImageSpec(
        kind="blog",
        prompt=f"{prompt} {n}",
        width=1792,
        height=1024,
        key="k.png",
        model=DEFAULT_MODEL,
    )


def main() -> None:
    offline = OfflineProvider()
    fake = FakeOpenAI().start()
    try:
        remote = OpenAIProvider(Settings(openai_base_url=fake.base_url), "sk-bench")

        def through(provider: object, spec: ImageSpec) -> None:
            image = provider.generate(spec)  # type: ignore[attr-defined]
            validate_image(image.data, "png", spec.width, spec.height, 20_000_000)

        def icon_row(style: str) -> tuple[str, tuple[list[float], list[float]]]:
            return f"offline icon 1024x1024, {style}", timed(lambda n: through(offline, icon(n, style)))

        def blog_row(prompt: str) -> tuple[str, tuple[list[float], list[float]]]:
            return f"offline blog 1792x1024, {prompt[:28]}", timed(
                lambda n: through(offline, blog(n, prompt))
            )

        # A category the grammar names less surely, so the sentence model is consulted (its first load is
        # in the warm-up call: a worker pays it once per process).
        unsure = "toy blocks"
        rows = [
            *(icon_row(style) for style in STYLES),
            (
                f"offline icon 1024x1024, modern, {unsure!r} (model)",
                timed(lambda n: through(offline, icon(n, "modern", unsure))),
            ),
            *(blog_row(prompt) for prompt in BLOG_PROMPTS),
            ("fake OpenAI round trip 1024x1024 (0 latency)", timed(lambda n: through(remote, icon(n)))),
            ("fake OpenAI round trip 1792x1024 (0 latency)", timed(lambda n: through(remote, blog(n)))),
        ]
    finally:
        fake.stop()
    print(f"per image, generate + validate, median of {RUNS} wall clock (p95 in brackets), and CPU time")
    for name, (samples, cpu) in rows:
        ordered = sorted(samples)
        p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
        print(
            f"  {name:52s} {statistics.median(samples) * 1000:7.1f} ms  [{p95 * 1000:7.1f} ms]"
            f"  cpu {statistics.median(cpu) * 1000:7.1f} ms"
        )


if __name__ == "__main__":
    main()
