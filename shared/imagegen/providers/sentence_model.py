"""all-MiniLM-L6-v2 sentence embeddings in numpy: how close a category's words are to each icon's name.

The model (BERT, 6 layers, 384 wide) runs as a numpy forward pass, so the worker needs no torch. Its
files live in data/sentence_model/, made by tools/sentence_model.py (not in git: it downloads the
weights, checks their hashes and converts them). numpy and tokenizers are imported on first use, so
importing this module costs nothing and the API functions never load them.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from imagegen.providers import icon_set

if TYPE_CHECKING:
    from numpy.typing import NDArray

# One BLAS thread: the products here are small (a few tokens by 384), and OpenBLAS's extra threads spin
# on the other core for a while after each one, which cost the renderer that runs next ~100 ms of CPU per
# image in bench/render.py for ~1.5 ms less wall time. Set before numpy's first import (in this module's
# functions); nothing else in the worker uses numpy. An operator's own setting wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # noqa: TID251 (a library setting, not our configuration)

MODEL_DIR = Path(__file__).resolve().parents[1] / "data" / "sentence_model"
WEIGHTS_FILE = "weights.npz"
TOKENIZER_FILE = "tokenizer.json"
ICONS_FILE = "icons.npz"
FILES = (WEIGHTS_FILE, TOKENIZER_FILE, ICONS_FILE)
MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model
WIDTH, LAYERS, HEADS = 384, 6, 12
_LAYER_NORM_EPS = 1e-12
_LINEARS = (
    "attention.self.query",
    "attention.self.key",
    "attention.self.value",
    "attention.output.dense",
    "intermediate.dense",
    "output.dense",
)


@dataclass(frozen=True)
class _Encoder:
    tokenizer: Any  # tokenizers.Tokenizer
    weights: dict[
        str, NDArray[Any]
    ]  # float32, linear weights transposed (x @ w); word embeddings int8 or f16
    word_scale: NDArray[Any] | None  # (rows, 1) scale of int8 word embeddings; None when they are float


def available(model_dir: Path = MODEL_DIR) -> bool:
    """The model files are present (tools/sentence_model.py made them)."""
    return all((model_dir / name).is_file() for name in FILES)


def icon_text(name: str) -> str:
    """What an icon's name says, as the model reads it: "guitar-pick" -> "guitar pick"."""
    return name.replace("-", " ")


def icon_names() -> list[str]:
    """The icons scored: every MDI name but an -outline whose plain form is also a name (drawn alike)."""
    names = icon_set._icons()
    return [n for n in names if not (n.endswith("-outline") and n.removesuffix("-outline") in names)]


def encode(texts: Sequence[str], model_dir: Path = MODEL_DIR) -> NDArray[Any]:
    """(len(texts), 384) float32 unit rows: mean pooling over the tokens, then L2 norm, as
    sentence-transformers does; texts longer than 256 tokens are truncated."""
    return _encode(_loaded(_encoder, model_dir), texts)


def icon_scores(text: str, model_dir: Path = MODEL_DIR) -> dict[str, float]:
    """Cosine of the text with every icon's name (icon_names()); {} when the model is not built."""
    if not available(model_dir):
        return {}
    names, vectors = _loaded(_icon_vectors, model_dir)
    cosines = vectors @ encode([text], model_dir)[0]
    return dict(zip(names, cosines.tolist(), strict=True))


_lock = threading.Lock()
T = TypeVar("T")


def _loaded(load: Callable[[Path], T], model_dir: Path) -> T:
    # One load per process, even when the worker's threads ask at once.
    with _lock:
        return load(model_dir)


@cache
def _encoder(model_dir: Path) -> _Encoder:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_dir / TOKENIZER_FILE))
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # noqa: S106 (a token of the vocabulary)
    tokenizer.enable_truncation(max_length=MAX_TOKENS)
    weights, word_scale = load_weights(model_dir / WEIGHTS_FILE)
    return _Encoder(tokenizer, weights, word_scale)


@cache
def _icon_vectors(model_dir: Path) -> tuple[tuple[str, ...], NDArray[Any]]:
    """The icons' names and their embeddings, made at build time by this encoder."""
    import numpy as np

    with np.load(model_dir / ICONS_FILE) as icons:
        names, vectors = tuple(icons["names"].tolist()), icons["vectors"].astype(np.float32)
    if list(names) != icon_names():
        raise RuntimeError(f"{model_dir} was made for another icon set: run `python -m tools.sentence_model`")
    return names, vectors


def load_weights(path: Path) -> tuple[dict[str, NDArray[Any]], NDArray[Any] | None]:
    """The weights as the forward pass wants them: a stored matrix (int8 with a `.scale` per row or per
    group of a row, or float16) back to float32, transposed; the word embeddings stay int8 (a text reads
    few rows) with a scale per row."""
    import numpy as np

    weights: dict[str, NDArray[Any]] = {}
    with np.load(path) as stored:
        for name in stored.files:
            if name.endswith(".scale"):
                continue
            value = stored[name]
            if name == "embeddings.word_embeddings.weight":
                weights[name] = value
                continue
            value = value.astype(np.float32)
            if name + ".scale" in stored.files:  # int8: a scale per row, or per group of a row's weights
                scale = stored[name + ".scale"]
                rows, columns = value.shape
                value = (value.reshape(rows, scale.shape[1], -1) * scale[:, :, None]).reshape(rows, columns)
            weights[name] = (
                np.ascontiguousarray(value.T) if name.endswith("dense.weight") or _is_qkv(name) else value
            )
        word_scale_name = "embeddings.word_embeddings.weight.scale"
        word_scale = stored[word_scale_name] if word_scale_name in stored.files else None
    return weights, word_scale


def _is_qkv(name: str) -> bool:
    return name.endswith(("query.weight", "key.weight", "value.weight"))


def _encode(model: _Encoder, texts: Sequence[str]) -> NDArray[Any]:
    import numpy as np

    if not texts:
        return np.zeros((0, WIDTH), dtype=np.float32)
    encodings = model.tokenizer.encode_batch(list(texts))
    ids = np.array([e.ids for e in encodings], dtype=np.int64)
    mask = np.array([e.attention_mask for e in encodings], dtype=np.float32)
    hidden = forward(model.weights, model.word_scale, ids, mask)
    pooled = (hidden * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
    norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
    embeddings: NDArray[Any] = (pooled / norms).astype(np.float32)
    return embeddings


def forward(
    weights: dict[str, NDArray[Any]], word_scale: NDArray[Any] | None, ids: NDArray[Any], mask: NDArray[Any]
) -> NDArray[Any]:
    """BERT's last hidden states, (n, tokens, 384), for token ids and their attention mask."""
    import numpy as np

    w = weights
    n, tokens = ids.shape
    words = w["embeddings.word_embeddings.weight"][ids].astype(np.float32)
    if word_scale is not None:
        words *= word_scale[ids]  # (n, tokens, 1): one scale per row
    x = (
        words
        + w["embeddings.position_embeddings.weight"][:tokens]
        + w["embeddings.token_type_embeddings.weight"][0]
    )
    x = _layer_norm(x, w, "embeddings.LayerNorm")
    # Padding gets no attention: a large negative logit before the softmax.
    bias = ((1.0 - mask) * -1e9)[:, None, None, :].astype(np.float32)
    head = WIDTH // HEADS
    for i in range(LAYERS):
        p = f"encoder.layer.{i}."
        q, k, v = (
            _dense(x, w, p + name).reshape(n, tokens, HEADS, head).transpose(0, 2, 1, 3)
            for name in _LINEARS[:3]
        )
        logits = q @ k.transpose(0, 1, 3, 2) * np.float32(1.0 / math.sqrt(head)) + bias
        logits = np.exp(logits - logits.max(-1, keepdims=True))
        attention = logits / logits.sum(-1, keepdims=True)
        context = (attention @ v).transpose(0, 2, 1, 3).reshape(n, tokens, WIDTH)
        x = _layer_norm(x + _dense(context, w, p + _LINEARS[3]), w, p + "attention.output.LayerNorm")
        inner = _gelu(_dense(x, w, p + _LINEARS[4]))
        x = _layer_norm(x + _dense(inner, w, p + _LINEARS[5]), w, p + "output.LayerNorm")
    return x


def _dense(x: NDArray[Any], w: dict[str, NDArray[Any]], name: str) -> NDArray[Any]:
    # One matrix product over every token of every text: numpy runs a stack of small ones far slower.
    weight = w[name + ".weight"]
    flat = x.reshape(-1, x.shape[-1]) @ weight + w[name + ".bias"]
    out: NDArray[Any] = flat.reshape(*x.shape[:-1], weight.shape[1])
    return out


def _layer_norm(x: NDArray[Any], w: dict[str, NDArray[Any]], name: str) -> NDArray[Any]:
    import numpy as np

    centred = x - x.mean(-1, keepdims=True)
    variance = (centred * centred).mean(-1, keepdims=True)
    normed: NDArray[Any] = (
        centred / np.sqrt(variance + _LAYER_NORM_EPS) * w[name + ".weight"] + w[name + ".bias"]
    )
    return normed


def _gelu(x: NDArray[Any]) -> NDArray[Any]:
    """BERT's exact GELU, x * Phi(x), with erf by Abramowitz and Stegun 7.1.26 (error < 1.5e-7): numpy
    has no erf, and math.erf element by element is a hundred times slower. In place: x is large."""
    import numpy as np

    z = np.abs(x) * np.float32(1.0 / math.sqrt(2.0))
    t = np.multiply(z, np.float32(0.3275911))
    t += 1.0
    np.reciprocal(t, out=t)
    poly = t * np.float32(1.061405429)
    for coefficient in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):
        poly += np.float32(coefficient)
        poly *= t
    np.square(z, out=z)
    np.negative(z, out=z)
    np.exp(z, out=z)
    poly *= z  # 1 - erf(|x|)
    np.subtract(1.0, poly, out=poly)  # erf(|x|)
    np.copysign(poly, x, out=poly)
    poly += 1.0
    poly *= x
    poly *= np.float32(0.5)
    gelu: NDArray[Any] = poly
    return gelu
