"""Offline render time per icon and per 1792x1024 blog image, next to a round trip through the fake
OpenAI server at zero latency (the SDK, HTTP, base64 and validation: the service's own overhead)."""

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


def timed(action: Callable[[int], object]) -> list[float]:
    action(0)  # warm up
    samples = []
    for n in range(1, RUNS + 1):
        began = time.perf_counter()
        action(n)
        samples.append(time.perf_counter() - began)
    return samples


def icon(n: int, style: str = "modern") -> ImageSpec:
    return ImageSpec(
        kind="icon",
        prompt="office supplies",
        width=1024,
        height=1024,
        key="k.png",
        category="office supplies",
        style=style,
        color_scheme="brand_colors",
        variation=n % 10 + 1,
        model=DEFAULT_MODEL,
    )


def blog(n: int) -> ImageSpec:
    return ImageSpec(
        kind="blog",
        prompt=f"A lighthouse over a stormy sea {n}",
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

        rows = [
            ("offline icon 1024x1024, flat", timed(lambda n: through(offline, icon(n, "flat")))),
            ("offline icon 1024x1024, modern", timed(lambda n: through(offline, icon(n, "modern")))),
            ("offline icon 1024x1024, realistic", timed(lambda n: through(offline, icon(n, "realistic")))),
            ("offline blog 1792x1024", timed(lambda n: through(offline, blog(n)))),
            ("fake OpenAI round trip 1024x1024 (0 latency)", timed(lambda n: through(remote, icon(n)))),
            ("fake OpenAI round trip 1792x1024 (0 latency)", timed(lambda n: through(remote, blog(n)))),
        ]
    finally:
        fake.stop()
    print(f"per image, generate + validate, median of {RUNS} (p95 in brackets)")
    for name, samples in rows:
        ordered = sorted(samples)
        p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
        print(f"  {name:48s} {statistics.median(samples) * 1000:7.1f} ms  [{p95 * 1000:7.1f} ms]")


if __name__ == "__main__":
    main()
