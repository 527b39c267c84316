"""A blog post's images: one per section, drawn by the service and saved where the site reads them,
static/content/posts/{post_id}/sections/{section_id}/raw/{filename}.png with its _metadata.json
(the layout `imagegen generate` writes locally).

    IMAGEGEN_URL=http://127.0.0.1:3560 IMAGEGEN_TOKEN=$(.venv/bin/imagegen token --sub you) \
        .venv/bin/python examples/blog_workflow.py [OUT_DIR [POST_ID]]
"""

from __future__ import annotations

import sys
from pathlib import Path

from imagegen_client import BlogImageRequest, Client, SavedImage

POST_ID = "53"
SECTIONS = {
    "1": ("hero", "A lighthouse over a stormy sea at dusk"),
    "2": ("keepers", "An old lighthouse keeper's desk with a logbook and an oil lamp"),
    "3": ("today", "A modern automated lighthouse under a clear morning sky"),
}


def publish_post_images(client: Client, out_dir: Path, post_id: str = POST_ID) -> list[SavedImage]:
    """Start every section at once, then wait for each and download it."""
    jobs = [
        client.create_blog_image(
            BlogImageRequest(
                prompt=prompt, post_id=post_id, section_id=section, filename=name, size="1536x1024"
            )
        )
        for section, (name, prompt) in SECTIONS.items()
    ]
    saved: list[SavedImage] = []
    for job in jobs:
        status = client.wait(job.batch_id)
        if status.state != "completed":
            print(f"section job {job.batch_id} ended {status.state}", file=sys.stderr)
        saved.extend(client.download(job.batch_id, out_dir))
    return saved


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    out_dir = Path(args[0] if args else "static/content")
    post_id = args[1] if len(args) > 1 else POST_ID
    with Client() as client:
        for image in publish_post_images(client, out_dir, post_id):
            print(("kept " if image.skipped else "saved ") + str(image.image_path))


if __name__ == "__main__":
    main()
