"""The blog CLI end to end, as scripts run it: files, metadata, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from imagegen.local.fake_openai import FakeOpenAI
from tests.helpers import clean_environ, png_size

pytestmark = pytest.mark.e2e
IMAGEGEN = str(Path(sys.executable).parent / "imagegen")


def run(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [IMAGEGEN, *args],
        cwd=cwd,
        env=clean_environ(env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI().start()
    yield server
    server.stop()


def test_generate_writes_the_original_layout_and_metadata(tmp_path: Path) -> None:
    result = run(
        "generate",
        "--prompt",
        "A harbour at dawn",
        "--post-id",
        "53",
        "--section-id",
        "1",
        "--filename",
        "hero",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    raw = tmp_path / "static/content/posts/53/sections/1/raw"
    assert png_size((raw / "hero.png").read_bytes()) == (1792, 1024)
    metadata = json.loads((raw / "hero_metadata.json").read_text())
    assert (metadata["post_id"], metadata["section_id"], metadata["prompt"]) == (
        "53",
        "1",
        "A harbour at dawn",
    )
    assert metadata["image_path"] == str((raw / "hero.png").resolve())
    assert (
        metadata["size"] == "1792x1024"
        and metadata["model"] == "offline-renderer-1"
        and metadata["generated_at"]
    )


def test_default_filename_is_a_timestamp_and_formats_and_out_are_honoured(tmp_path: Path) -> None:
    result = run(
        "generate",
        "--prompt",
        "p",
        "--post-id",
        "7",
        "--section-id",
        "2",
        "--format",
        "webp",
        "--size",
        "1024x1024",
        "--out",
        "site",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    (image,) = (tmp_path / "site/posts/7/sections/2/raw").glob("image_*.webp")
    assert image.read_bytes()[8:12] == b"WEBP"
    assert image.with_name(image.stem + "_metadata.json").exists()


@pytest.mark.parametrize(
    "args",
    [
        ("--post-id", "../53", "--section-id", "1"),
        ("--post-id", "53", "--section-id", "../../etc"),
        ("--post-id", "53", "--section-id", "1", "--filename", "../x"),
        ("--post-id", "53", "--section-id", "1", "--size", "1000x1000"),
        ("--post-id", "53", "--section-id", "1", "--model", "dall-e-9"),
        ("--post-id", "53", "--section-id", "1", "--format", "gif"),
        ("--post-id", "53"),
    ],
)
def test_bad_arguments_exit_2_and_write_nothing(tmp_path: Path, args: tuple[str, ...]) -> None:
    result = run("generate", "--prompt", "p", *args, cwd=tmp_path)
    assert result.returncode == 2
    assert not (tmp_path / "static").exists()


def test_bad_arguments_are_explained_in_the_callers_terms(tmp_path: Path) -> None:
    result = run("generate", "--prompt", "p", "--post-id", "../53", "--section-id", "1", cwd=tmp_path)
    assert result.returncode == 2
    assert "post_id may only hold letters, digits, _ and -" in result.stderr
    assert "pattern" not in result.stderr


def test_a_bad_setting_exits_2_naming_the_variable_or_the_option_that_set_it(tmp_path: Path) -> None:
    section = ("--prompt", "p", "--post-id", "53", "--section-id", "1")
    from_environment = run("generate", *section, cwd=tmp_path, OPENAI_MODEL="dall-e-9")
    from_option = run("generate", *section, "--model", "dall-e-9", cwd=tmp_path)
    token = run("token", "--sub", "alice", cwd=tmp_path, IMAGE_PROVIDER="dalle")
    assert from_environment.returncode == from_option.returncode == token.returncode == 2
    assert "imagegen: OPENAI_MODEL: unknown model 'dall-e-9'; known models: " in from_environment.stderr
    assert "imagegen: --model: unknown model 'dall-e-9'" in from_option.stderr
    said = "imagegen: configuration: IMAGE_PROVIDER must be one of 'auto', 'offline' or 'openai'\n"
    assert token.stderr == said
    assert "Traceback" not in from_environment.stderr + from_option.stderr + token.stderr
    assert not (tmp_path / "static").exists()


def test_an_invalid_key_exits_3_without_echoing_it(tmp_path: Path, fake: FakeOpenAI) -> None:
    key = "invalid-sk-please-never-print-me"
    result = run(
        "generate",
        "--prompt",
        "p",
        "--post-id",
        "1",
        "--section-id",
        "1",
        "--api-key",
        key,
        cwd=tmp_path,
        OPENAI_BASE_URL=fake.base_url,
    )
    assert result.returncode == 3
    assert key not in result.stdout + result.stderr
    assert (
        run(
            "generate", "--prompt", "p", "--post-id", "1", "--section-id", "1", "--api-key", " ", cwd=tmp_path
        ).returncode
        == 3
    )


def test_a_provider_refusal_exits_4_and_a_key_uses_openai(tmp_path: Path, fake: FakeOpenAI) -> None:
    fake.push("moderation")
    env = {"OPENAI_BASE_URL": fake.base_url, "OPENAI_AUTH_TOKEN": "sk-from-the-original-variable"}
    refused = run("generate", "--prompt", "p", "--post-id", "1", "--section-id", "1", cwd=tmp_path, **env)
    assert refused.returncode == 4 and "safety system" in refused.stderr
    ok = run(
        "generate",
        "--prompt",
        "p",
        "--post-id",
        "1",
        "--section-id",
        "1",
        "--filename",
        "a",
        cwd=tmp_path,
        **env,
    )
    assert ok.returncode == 0, ok.stderr
    metadata = json.loads((tmp_path / "static/content/posts/1/sections/1/raw/a_metadata.json").read_text())
    assert (metadata["provider"], metadata["model"]) == ("openai", "gpt-image-2")


def test_filesystem_problems_exit_5(tmp_path: Path) -> None:
    (tmp_path / "blocked").write_text("a file where the output folder should be")
    result = run(
        "generate", "--prompt", "p", "--post-id", "1", "--section-id", "1", "--out", "blocked", cwd=tmp_path
    )
    assert result.returncode == 5 and "could not write" in result.stderr
    first = run(
        "generate", "--prompt", "p", "--post-id", "1", "--section-id", "1", "--filename", "x", cwd=tmp_path
    )
    again = run(
        "generate", "--prompt", "p", "--post-id", "1", "--section-id", "1", "--filename", "x", cwd=tmp_path
    )
    assert (first.returncode, again.returncode) == (0, 5) and "--force" in again.stderr
    forced = run(
        "generate",
        "--prompt",
        "p",
        "--post-id",
        "1",
        "--section-id",
        "1",
        "--filename",
        "x",
        "--force",
        cwd=tmp_path,
    )
    assert forced.returncode == 0


def test_partial_success_is_said_clearly(tmp_path: Path) -> None:
    raw = tmp_path / "static/content/posts/1/sections/1/raw"
    (raw / "x_metadata.json").mkdir(parents=True)  # the metadata cannot be written there
    result = run(
        "generate", "--prompt", "p", "--post-id", "1", "--section-id", "1", "--filename", "x", cwd=tmp_path
    )
    assert result.returncode == 5
    assert "image saved at" in result.stderr and "metadata could not be written" in result.stderr
    assert (raw / "x.png").exists()


def test_batch_generates_a_whole_post_and_reports_failures(tmp_path: Path) -> None:
    manifest = {
        "post_id": "53",
        "size": "1024x1024",
        "sections": [
            {"section_id": "1", "prompt": "coffee on a desk", "filename": "intro"},
            {"section_id": "2", "prompt": "a laptop", "format": "jpeg"},
            {"section_id": "../3", "prompt": "bad id"},
        ],
    }
    (tmp_path / "post.json").write_text(json.dumps(manifest))
    result = run("batch", "post.json", cwd=tmp_path)
    assert result.returncode == 2  # one section had a bad id; the others were generated
    assert "2 of 3 images generated" in result.stdout
    assert "post 53" in result.stderr  # the progress bar
    assert (tmp_path / "static/content/posts/53/sections/1/raw/intro.png").exists()
    assert list((tmp_path / "static/content/posts/53/sections/2/raw").glob("*.jpeg"))
    assert run("batch", "missing.json", cwd=tmp_path).returncode == 2


def test_keyless_runs_say_offline_and_provider_openai_demands_a_key(tmp_path: Path, fake: FakeOpenAI) -> None:
    args = ("generate", "--prompt", "p", "--post-id", "1", "--section-id", "1")
    keyless = run(*args, cwd=tmp_path)
    assert keyless.returncode == 0, keyless.stderr
    assert "no OpenAI key: drawing with the offline renderer" in keyless.stderr
    # Given --provider openai (or IMAGE_PROVIDER=openai) and no key: exit 3, naming the variable
    for demanded in (
        run(*args, "--provider", "openai", cwd=tmp_path),
        run(*args, cwd=tmp_path, IMAGE_PROVIDER="openai"),
    ):
        assert demanded.returncode == 3
        assert "OpenAI API key required" in demanded.stderr and "OPENAI_API_KEY" in demanded.stderr
    assert len(list((tmp_path / "static/content/posts/1/sections/1/raw").glob("*.png"))) == 1
    offline = run(*args, "--provider", "offline", cwd=tmp_path)
    assert offline.returncode == 0 and "offline renderer" not in offline.stderr  # asked for: no notice
    keyed = run(
        *args, "--provider", "openai", cwd=tmp_path, OPENAI_BASE_URL=fake.base_url, OPENAI_API_KEY="sk-x"
    )
    assert keyed.returncode == 0, keyed.stderr
    assert "offline renderer" not in keyed.stderr and "(openai)" in keyed.stdout


@pytest.mark.parametrize(
    ("manifest", "said"),
    [
        ({"post_id": "7", "sections": ["oops"]}, "sections[0] must be a JSON object"),
        ({"post_id": "7", "sections": []}, "'sections' must be a non-empty list"),
        (["not", "an", "object"], "'sections' must be a non-empty list"),
    ],
)
def test_batch_refuses_a_manifest_of_the_wrong_shape_with_exit_2(
    tmp_path: Path, manifest: object, said: str
) -> None:
    (tmp_path / "post.json").write_text(json.dumps(manifest))
    result = run("batch", "post.json", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert f"cannot read manifest post.json: {said}" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "static").exists()


def test_batch_size_the_flag_over_the_manifest_and_a_section_over_both(tmp_path: Path) -> None:
    manifest = {
        "post_id": "8",
        "size": "1024x1024",
        "sections": [
            {"section_id": "1", "prompt": "a tall lighthouse", "filename": "a"},
            {"section_id": "2", "prompt": "a wide bay", "filename": "b", "size": "1536x1024"},
        ],
    }
    (tmp_path / "post.json").write_text(json.dumps(manifest))
    result = run("batch", "post.json", "--size", "1024x1536", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    posts = tmp_path / "static/content/posts/8/sections"
    assert png_size((posts / "1/raw/a.png").read_bytes()) == (1024, 1536)
    assert png_size((posts / "2/raw/b.png").read_bytes()) == (1536, 1024)
    assert json.loads((posts / "1/raw/a_metadata.json").read_text())["size"] == "1024x1536"


def test_a_rerun_skips_sections_on_disk_and_force_redraws_them(tmp_path: Path) -> None:
    sections = [
        {"section_id": "1", "prompt": "coffee", "filename": "intro"},
        {"section_id": "2", "prompt": "tea"},
    ]
    (tmp_path / "post.json").write_text(
        json.dumps({"post_id": "9", "size": "1024x1024", "sections": sections})
    )
    posts = tmp_path / "static/content/posts/9/sections"

    def files() -> dict[str, bytes]:
        return {str(path.relative_to(posts)): path.read_bytes() for path in sorted(posts.rglob("*.*"))}

    first = run("batch", "post.json", cwd=tmp_path)
    assert first.returncode == 0 and "2 of 2 images generated, 0 skipped" in first.stdout
    drawn = files()
    assert len(drawn) == 4  # two images, two metadata files
    # When the manifest runs again: nothing is drawn, each skip is said, and the run succeeds
    again = run("batch", "post.json", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "0 of 2 images generated, 2 skipped (already on disk), 0 failed" in again.stdout
    assert "skip section 1:" in again.stderr and "skip section 2:" in again.stderr
    assert files() == drawn
    # When a prompt changes, only that section is drawn (beside the old one, which is never deleted)
    sections[1]["prompt"] = "green tea"
    (tmp_path / "post.json").write_text(
        json.dumps({"post_id": "9", "size": "1024x1024", "sections": sections})
    )
    changed = run("batch", "post.json", cwd=tmp_path)
    assert changed.returncode == 0 and "1 of 2 images generated, 1 skipped" in changed.stdout
    assert len(files()) == 6
    # --force redraws every section in place: new metadata, no new files
    before = files()
    forced = run("batch", "post.json", "--force", cwd=tmp_path)
    assert forced.returncode == 0 and "2 of 2 images generated, 0 skipped" in forced.stdout
    after = files()
    assert after.keys() == before.keys()
    assert after["1/raw/intro_metadata.json"] != before["1/raw/intro_metadata.json"]


def test_a_rerun_with_a_named_file_of_another_size_exits_5_without_drawing(tmp_path: Path) -> None:
    manifest = {"post_id": "4", "sections": [{"section_id": "1", "prompt": "p", "filename": "hero"}]}
    (tmp_path / "post.json").write_text(json.dumps(manifest))
    assert run("batch", "post.json", cwd=tmp_path).returncode == 0
    image = tmp_path / "static/content/posts/4/sections/1/raw/hero.png"
    drawn = image.read_bytes()
    resized = run("batch", "post.json", "--size", "1024x1024", cwd=tmp_path)
    assert resized.returncode == 5
    assert (
        "another prompt or size" in resized.stderr and "0 of 1 images generated, 0 skipped" in resized.stdout
    )
    assert image.read_bytes() == drawn
