"""Render the web page's style and colour-scheme samples (shared/imagegen/web/samples/*.png) with the
offline provider: small PNGs committed beside the page, so its pickers show every choice at once,
before sign-in, without spending quota or a provider call on each visit. Run again when a style or
colour scheme is added (tests/unit/test_web_page.py fails until then)."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from imagegen import templates
from imagegen.models.domain import ImageSpec
from imagegen.providers.offline import OfflineProvider
from imagegen.providers.registry import DEFAULT_MODEL

SAMPLES = Path(__file__).resolve().parents[1] / "shared" / "imagegen" / "web" / "samples"
SIDE = 72  # shown at 48 CSS px: sharp on a 1.5x screen, about 5 KB each
CATEGORY = "office supplies"  # one subject for every sample, so only the style or the colours change


def _render(provider: OfflineProvider, style: str, color_scheme: str) -> bytes:
    spec = ImageSpec(
        kind="icon",
        model=DEFAULT_MODEL,
        prompt=CATEGORY,
        width=256,
        height=256,
        key="sample.png",
        category=CATEGORY,
        style=style,
        color_scheme=color_scheme,
    )
    image = Image.open(io.BytesIO(provider.generate(spec).data)).convert("RGB")
    out = io.BytesIO()
    image.resize((SIDE, SIDE), Image.Resampling.LANCZOS).save(out, "PNG", optimize=True)
    return out.getvalue()


def main() -> None:
    provider = OfflineProvider()
    SAMPLES.mkdir(parents=True, exist_ok=True)
    for style in templates.styles():
        (SAMPLES / f"style-{style}.png").write_bytes(_render(provider, style, "colorful"))
    for scheme in templates.color_schemes():
        (SAMPLES / f"color-{scheme}.png").write_bytes(_render(provider, "modern", scheme))
    print(f"wrote {len(list(SAMPLES.glob('*.png')))} samples into {SAMPLES}")


if __name__ == "__main__":
    main()
