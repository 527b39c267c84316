"""Manifests dropped into incoming/{owner}/ (issue 12, part 1): keys, whole-file validation, receipts."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from pydantic import TypeAdapter

from imagegen.logic.manifests import (
    MAX_MANIFEST_BYTES,
    MAX_MANIFEST_ROWS,
    MAX_PROBLEMS,
    BlogManifest,
    Catalogue,
    ManifestKeyError,
    ManifestRefused,
    idempotency_key,
    is_manifest,
    is_test_event,
    object_key,
    owner_of,
    parse_manifest,
    receipt_key,
)
from imagegen.models.manifests import AcceptedReceipt, ManifestProblem, Receipt, RefusedReceipt
from imagegen.models.requests import MAX_BATCH_ITEMS, MAX_CATEGORIES, BlogImageRequest

CSV_KEY, JSON_KEY = "incoming/alice/catalogue.csv", "incoming/alice/post.json"


def refused(key: str, data: bytes) -> list[ManifestProblem]:
    with pytest.raises(ManifestRefused) as refusal:
        parse_manifest(key, data)
    return refusal.value.problems


# --- keys ---------------------------------------------------------------------------------------


def test_the_owner_is_the_decoded_second_segment() -> None:
    # Given a key as an S3 notification spells it (+ for spaces, %xx for the rest)
    key = object_key("incoming/alice%40example.com/spring+catalogue%2B1.csv")
    # Then the real key is decoded once, and its owner is the user id a token would carry
    assert key == "incoming/alice@example.com/spring catalogue+1.csv"
    assert owner_of(key) == "alice@example.com"


@pytest.mark.parametrize(
    "key",
    [
        "outgoing/alice/cat.csv",  # outside incoming/
        "incoming//cat.csv",  # no owner
        "incoming/alice/",  # no name
        "incoming/../cat.csv",  # a step up as the owner
        "incoming/./cat.csv",
        "incoming/alice/..",
        "incoming/alice/sub/cat.csv",  # nested below the owner
        "incoming/cat.csv",  # no owner segment at all
        "Incoming/alice/cat.csv",  # S3 keys are case-sensitive
        "incoming/" + "a" * 257 + "/cat.csv",  # longer than any token's sub may be
    ],
)
def test_keys_that_name_no_owner_are_refused(key: str) -> None:
    with pytest.raises(ManifestKeyError):
        owner_of(key)


def test_an_owner_of_256_characters_is_a_valid_sub() -> None:
    assert owner_of("incoming/" + "a" * 256 + "/cat.csv") == "a" * 256


def test_receipts_sit_beside_their_manifest_and_are_never_manifests() -> None:
    assert receipt_key("incoming/alice/cat.csv") == "incoming/alice/cat_receipt.json"
    assert receipt_key("incoming/alice/post.v2.json") == "incoming/alice/post.v2_receipt.json"
    assert is_manifest("incoming/alice/cat.csv") and is_manifest("incoming/alice/post.JSON")
    assert not is_manifest(receipt_key("incoming/alice/cat.csv"))
    assert not is_manifest("incoming/alice/notes.txt")
    assert not is_manifest("images/alice/cat.csv")


def test_the_s3_test_event_is_told_apart_from_a_notification() -> None:
    test_event = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2026-11-21T10:00:00.000Z"}
    notification = {"Records": [{"eventName": "ObjectCreated:Put", "s3": {"object": {"key": "k"}}}]}
    assert is_test_event(json.dumps(test_event)) and is_test_event(test_event)
    assert not is_test_event(json.dumps(notification))
    assert not is_test_event("not json") and not is_test_event("[1]")


def test_the_same_object_twice_has_one_idempotency_key_and_another_version_another() -> None:
    first = idempotency_key("bucket", "incoming/alice/cat.csv", '"abc123"')
    # Notifications carry the ETag bare, HeadObject quoted: the same object either way
    assert idempotency_key("bucket", "incoming/alice/cat.csv", "abc123") == first
    assert idempotency_key("bucket", "incoming/alice/cat.csv", "abc123", "null") == first
    assert idempotency_key("bucket", "incoming/alice/cat.csv", "def456") != first
    assert idempotency_key("bucket", "incoming/alice/cat.csv", "abc123", "v2") != first
    assert idempotency_key("other", "incoming/alice/cat.csv", "abc123") != first
    assert idempotency_key("bucket", "incoming/bob/cat.csv", "abc123") != first


# --- valid files --------------------------------------------------------------------------------


def test_a_blog_manifest_in_the_cli_format_becomes_one_request_per_section() -> None:
    # Given the `imagegen batch` format: manifest-wide size and model, a section's own size and format
    manifest = {
        "post_id": "53",
        "title": "ignored, as the CLI ignores it",
        "size": "1024x1024",
        "model": "gpt-image-1",
        "sections": [
            {"section_id": "1", "prompt": "A lighthouse", "filename": "hero"},
            {"section_id": "2", "prompt": "A harbour", "size": "1536x1024", "format": "webp"},
        ],
    }
    parsed = parse_manifest(JSON_KEY, json.dumps(manifest).encode())
    assert isinstance(parsed, BlogManifest)
    assert parsed.requests == [
        BlogImageRequest(
            post_id="53",
            section_id="1",
            prompt="A lighthouse",
            filename="hero",
            size="1024x1024",
            model="gpt-image-1",
        ),
        BlogImageRequest(
            post_id="53",
            section_id="2",
            prompt="A harbour",
            size="1536x1024",
            model="gpt-image-1",
            output_format="webp",
        ),
    ]


def test_a_csv_with_bom_crlf_and_quoted_commas_groups_rows_by_their_options() -> None:
    # Given a spreadsheet's export: a BOM, CRLF line ends, a quoted comma, blank cells and a blank line
    data = (
        "\ufeffcategory,style,color_scheme,variations_per_category\r\n"
        '"Pens, pencils",flat,pastel,2\r\n'
        "Staplers,,,\r\n"
        "\r\n"
        "Desk lamps, flat ,pastel, 2\r\n"
        "Chairs\r\n"
    ).encode()
    parsed = parse_manifest(CSV_KEY, data)
    # Then rows with the same options share a batch, blank cells take BatchRequest's defaults
    assert isinstance(parsed, Catalogue)
    assert [(r.categories, r.style, r.color_scheme, r.variations_per_category) for r in parsed.requests] == [
        (["Pens, pencils", "Desk lamps"], "flat", "pastel", 2),
        (["Staplers", "Chairs"], "modern", "colorful", 1),
    ]


def test_a_large_catalogue_is_split_at_the_batch_limits() -> None:
    # Given 250 rows of 1 variation and 120 rows of 10 variations
    rows = [f"c{n},,,1" for n in range(250)] + [f"d{n},,,10" for n in range(120)]
    data = ("category,style,color_scheme,variations_per_category\n" + "\n".join(rows)).encode()
    parsed = parse_manifest(CSV_KEY, data)
    assert isinstance(parsed, Catalogue)
    # Then each batch stays within MAX_CATEGORIES and MAX_BATCH_ITEMS, and no category is lost
    sizes = [(len(r.categories), r.variations_per_category) for r in parsed.requests]
    assert sizes == [(100, 1), (100, 1), (50, 1), (50, 10), (50, 10), (20, 10)]
    assert all(n <= MAX_CATEGORIES and n * v <= MAX_BATCH_ITEMS for n, v in sizes)


def test_a_json_catalogue_as_rows_or_as_a_batch_request() -> None:
    rows = [
        {"category": "Pens", "style": "flat"},
        {"category": "Ink", "style": "flat"},
        {"category": "Desks", "variations_per_category": 3},
    ]
    parsed = parse_manifest("incoming/alice/cat.json", json.dumps(rows).encode())
    assert isinstance(parsed, Catalogue)
    assert [(r.categories, r.style, r.variations_per_category) for r in parsed.requests] == [
        (["Pens", "Ink"], "flat", 1),
        (["Desks"], "modern", 3),
    ]
    batch = {"categories": ["Pens", "Ink"], "style": "vintage", "derivatives": [64]}
    as_batch = parse_manifest("incoming/alice/cat.json", json.dumps(batch).encode())
    assert isinstance(as_batch, Catalogue)
    assert [(r.categories, r.style, r.derivatives) for r in as_batch.requests] == [
        (["Pens", "Ink"], "vintage", [64])
    ]


# --- malformed files: every problem, with its line, and no request --------------------------------

HEADER = "category,style,color_scheme,variations_per_category\n"
BLOG_OK = '{"section_id": "1", "prompt": "p"}'


@pytest.mark.parametrize(
    ("key", "text", "expected"),
    [
        pytest.param(
            CSV_KEY, HEADER + "Pens,wavy,,\n", [(2, "style must be one of 'minimal'")], id="bad style"
        ),
        pytest.param(
            CSV_KEY,
            HEADER + "Pens,,neon,\n",
            [(2, "color_scheme must be one of 'monochrome'")],
            id="bad scheme",
        ),
        pytest.param(
            CSV_KEY,
            HEADER + "Pens,,,11\n",
            [(2, "variations_per_category must be at most 10")],
            id="too many",
        ),
        pytest.param(
            CSV_KEY,
            HEADER + "Pens,,,two\n",
            [(2, "variations_per_category must be a whole number")],
            id="words",
        ),
        pytest.param(
            CSV_KEY, HEADER + "Pens,,,0\n", [(2, "variations_per_category must be at least 1")], id="zero"
        ),
        pytest.param(CSV_KEY, HEADER + ",flat,,\n", [(2, "category must not be empty")], id="empty category"),
        pytest.param(
            CSV_KEY,
            HEADER + "=HYPERLINK(1)\n",
            [(2, "category must start with a letter or digit")],
            id="formula",
        ),
        pytest.param(
            CSV_KEY,
            HEADER + "x" * 101 + "\n",
            [(2, "category may be at most 100 characters long")],
            id="long",
        ),
        pytest.param(
            CSV_KEY, "style\nflat\n", [(1, "the first line must be a header")], id="no category column"
        ),
        pytest.param(
            CSV_KEY,
            "category,variations\nPens,2\n",
            [(1, "unknown column 'variations' (did you mean 'variations_per_category'?)")],
            id="unknown column",
        ),
        pytest.param(
            CSV_KEY,
            HEADER + "Pens,flat,pastel,2,extra\n",
            [(2, "5 cells, but the header names 4")],
            id="cells",
        ),
        pytest.param(CSV_KEY, HEADER + 'Pens,"flat\n', [(2, "not valid CSV")], id="open quote"),
        pytest.param(
            CSV_KEY,
            HEADER + "Pens,,,\nInk,wavy,,\nDesks,,,0\n",
            [(3, "style must be one of"), (4, "variations_per_category must be at least 1")],
            id="every bad row, not the first only",
        ),
        pytest.param(CSV_KEY, HEADER, [(None, "the catalogue has no rows")], id="header only"),
        pytest.param(JSON_KEY, '{"post_id": "53",\n "sections": [}', [(2, "not valid JSON")], id="syntax"),
        pytest.param(
            JSON_KEY, '{"post_id": "53", "sections": []}', [(1, "'sections' must be a non-empty")], id="none"
        ),
        pytest.param(
            JSON_KEY,
            '{"post_id": "5 3",\n "sections": [\n  '
            + BLOG_OK
            + ',\n  {"section_id": "../2",\n "prompt": ""}\n]}',
            [
                (3, "post_id may only hold letters, digits, _ and -"),
                (4, "prompt must not be empty"),
                (4, "post_id may only hold"),
                (4, "section_id may only hold"),
            ],
            id="every section's problems",
        ),
        pytest.param(
            JSON_KEY,
            '{"post_id": "53", "sections": [\n' + BLOG_OK + ',\n"not a section"]}',
            [(1, "sections[1] must be a JSON object")],
            id="section not an object",
        ),
        pytest.param(
            JSON_KEY,
            '{"post_id": "53", "sections": [\n{"section_id": "1", "prompt": "p", "size": "100x100"}]}',
            [(2, "size: each side must be between 256 and 3840 pixels")],
            id="bad size",
        ),
        pytest.param(
            JSON_KEY,
            '{"post_id": "53", "sections": [\n{"section_id": "1", "promt": "p"}]}',
            [(2, "prompt is required"), (2, "unknown field 'promt' (did you mean 'prompt'?)")],
            id="typo",
        ),
        pytest.param(
            "incoming/alice/cat.json",
            '[{"category": "Pens"},\n {"category": "Ink", "size": "1024x1024"}]',
            [(2, "unknown column 'size'")],
            id="json row with a field no catalogue has",
        ),
        pytest.param(
            "incoming/alice/cat.json",
            '[{"category": "Pens"},\n {"category": "Ink", "variations_per_category": "2"}]',
            [(2, "variations_per_category must be a whole number")],
            id="json row with a string count",
        ),
        pytest.param(
            "incoming/alice/cat.json",
            '{"categories": [],\n "style": "flat"}',
            [(1, "categories must hold at least 1 item")],
            id="empty batch",
        ),
        pytest.param(
            "incoming/alice/cat.json",
            '{"categories": ["Pens"],\n "derivatives": [64, 100]}',
            [(1, "derivatives[1] must be one of 512, 256, 128, 64 or 32")],
            id="batch with a bad derivative",
        ),
        pytest.param(JSON_KEY, '"just text"', [(1, "a JSON manifest is a blog post")], id="neither kind"),
    ],
)
def test_a_malformed_file_is_refused_with_its_problems_by_line(
    key: str, text: str, expected: list[tuple[int | None, str]]
) -> None:
    problems = refused(key, text.encode())
    assert [
        (problem.line, problem.message[: len(start)])
        for problem, (_, start) in zip(problems, expected, strict=False)
    ] == expected
    assert len(problems) == len(expected)
    # The receipt's line reads "line N: <field> ..." as the house says it
    assert all(str(problem).startswith(f"line {problem.line}: ") for problem in problems if problem.line)


def test_a_file_that_is_not_utf8_is_refused_at_its_line() -> None:
    problems = refused(CSV_KEY, HEADER.encode() + "Café\n".encode("latin-1"))
    assert [(p.line, p.message) for p in problems] == [(2, "the file is not UTF-8 text: save it as UTF-8")]


def test_files_past_the_size_and_row_caps_are_refused_before_parsing() -> None:
    over = HEADER.encode() + b"x" * MAX_MANIFEST_BYTES
    assert "over 1048576 bytes" in refused(CSV_KEY, over)[0].message
    rows = HEADER + "".join(f"c{n}\n" for n in range(MAX_MANIFEST_ROWS + 1))
    assert refused(CSV_KEY, rows.encode())[0].message == f"a catalogue holds at most {MAX_MANIFEST_ROWS} rows"
    sections = [{"section_id": str(n), "prompt": "p"} for n in range(MAX_MANIFEST_ROWS + 1)]
    manifest = json.dumps({"post_id": "1", "sections": sections}).encode()
    assert refused(JSON_KEY, manifest)[0].message == f"a manifest holds at most {MAX_MANIFEST_ROWS} sections"


def test_a_receipt_lists_at_most_max_problems_and_counts_the_rest() -> None:
    data = (HEADER + "".join(f"c{n},wavy,,\n" for n in range(MAX_PROBLEMS + 5))).encode()
    problems = refused(CSV_KEY, data)
    assert len(problems) == MAX_PROBLEMS + 1
    assert problems[-1].message == "and 5 more problems not listed"


# --- receipts -----------------------------------------------------------------------------------


def test_receipts_read_back_as_the_kind_they_were_written() -> None:
    at = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
    accepted = AcceptedReceipt(batch_ids=["b1", "b2"], key=CSV_KEY, received_at=at)
    problems = refused(CSV_KEY, (HEADER + "Pens,wavy,,\n").encode())
    refusal = RefusedReceipt(errors=problems, key=CSV_KEY, received_at=at)
    adapter: TypeAdapter[AcceptedReceipt | RefusedReceipt] = TypeAdapter(Receipt)
    assert adapter.validate_json(accepted.model_dump_json()) == accepted
    written = json.loads(refusal.model_dump_json())
    assert written["status"] == "refused"
    assert written["errors"][0] == {"line": 2, "field": "style", "message": problems[0].message}
    assert adapter.validate_json(refusal.model_dump_json()) == refusal
