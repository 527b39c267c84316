"""Manifests a CMS drops into `incoming/{owner}/...`: their keys, and their whole-file validation
into the requests the API takes (issue 12, part 1: upload triggers). Pure: bytes in, models out.

logic.intake, behind the trigger function (S3 -> IncomingQueue), reads the object, makes the jobs
and writes the receipt (models.manifests).

Two kinds, told apart by the key's extension and the JSON's shape:
- a blog manifest (JSON object with `sections`): the `imagegen batch` format; each section becomes one
  BlogImageRequest, as `POST /api/images/generate` takes it (section_body is the one merge rule);
- a catalogue (CSV with a header, a JSON list of rows, or a BatchRequest-shaped JSON object): rows with
  the same style, colour scheme and variations are grouped into as few BatchRequests as the batch
  limits allow, in the order they first appear, so a catalogue makes few jobs and few batch ids.
Every row is checked before any request is returned; problems are listed per line.
"""

from __future__ import annotations

import bisect
import csv
import difflib
import hashlib
import io
import json
import json.decoder
import json.scanner
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, NoReturn
from urllib.parse import unquote_plus

from pydantic import ValidationError

from imagegen.errors import InvalidRequestError
from imagegen.models.domain import is_valid_sub
from imagegen.models.manifests import ManifestProblem
from imagegen.models.messages import describe
from imagegen.models.requests import MAX_BATCH_ITEMS, MAX_CATEGORIES, BatchRequest, BlogImageRequest

INCOMING_PREFIX = "incoming/"
RECEIPT_SUFFIX = "_receipt.json"  # reserved: a key ending so is a receipt, never a manifest
MANIFEST_EXTENSIONS = (".json", ".csv")
MAX_MANIFEST_BYTES = 1024 * 1024  # read whole into a Lambda's memory: bounded before parsing
MAX_MANIFEST_ROWS = 1000  # sections or catalogue rows (x at most 10 variations each)
MAX_PROBLEMS = 100  # a receipt lists this many problems at most, then says how many more
CATALOGUE_COLUMNS = ("category", "style", "color_scheme", "variations_per_category")
_UTF8_BOM = b"\xef\xbb\xbf"
TEST_EVENT = "s3:TestEvent"


class ManifestKeyError(InvalidRequestError):
    """The key is not `incoming/{owner}/{name}` with a valid owner: no job can be made for it."""


class ManifestRefused(InvalidRequestError):
    """The file is not a valid manifest; `problems` lists every one found (bounded)."""

    code = "manifest_refused"

    def __init__(self, problems: list[ManifestProblem]) -> None:
        super().__init__("; ".join(str(problem) for problem in problems[:3]))
        self.problems = problems


@dataclass(frozen=True)
class BlogManifest:
    requests: list[BlogImageRequest]  # one per section, in the manifest's order
    kind: Literal["blog"] = "blog"


@dataclass(frozen=True)
class Catalogue:
    requests: list[BatchRequest]  # rows grouped by their options, split at the batch limits
    kind: Literal["catalogue"] = "catalogue"


# --- keys ---------------------------------------------------------------------------------------


def object_key(notification_key: str) -> str:
    """The object's key from an S3 notification, which URL-encodes it with + for spaces (decode once)."""
    return unquote_plus(notification_key)


def owner_of(key: str) -> str:
    """The owner in `incoming/{owner}/{name}` (a decoded key), held to the rule a token's `sub` is."""
    parts = key.split("/")
    if len(parts) != 3 or f"{parts[0]}/" != INCOMING_PREFIX:
        raise ManifestKeyError(f"a manifest's key is {INCOMING_PREFIX}{{owner}}/{{name}}, not {key[:200]!r}")
    owner, name = parts[1], parts[2]
    if owner in (".", "..") or name in ("", ".", ".."):
        raise ManifestKeyError("a manifest's owner and name must be plain names, not . or .. or empty")
    if not is_valid_sub(owner):
        raise ManifestKeyError("a manifest's owner must be a user id of 1-256 characters")
    return owner


def is_manifest(key: str) -> bool:
    """Whether a (decoded) key under incoming/ is one to process: .json or .csv, and not a receipt."""
    return (
        key.startswith(INCOMING_PREFIX)
        and key.lower().endswith(MANIFEST_EXTENSIONS)
        and not key.endswith(RECEIPT_SUFFIX)
    )


def receipt_key(key: str) -> str:
    """Where a manifest's outcome is written: incoming/alice/cat.csv -> incoming/alice/cat_receipt.json."""
    folder, _, name = key.rpartition("/")
    stem = name.rsplit(".", 1)[0] if "." in name.lstrip(".") else name
    return f"{folder}/{stem}{RECEIPT_SUFFIX}" if folder else f"{stem}{RECEIPT_SUFFIX}"


def is_test_event(body: str | Mapping[str, Any]) -> bool:
    """Whether an SQS message body is the s3:TestEvent S3 sends once a notification is configured."""
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            return False
    return isinstance(body, Mapping) and body.get("Event") == TEST_EVENT


def idempotency_key(bucket: str, key: str, etag: str, version_id: str | None = None) -> str:
    """One id per stored object version: a redelivered notification maps to the same job.

    The ETag's quotes are dropped (notifications omit them, HeadObject keeps them). Without
    versioning, the same bytes uploaded again under the same key are the same object: one job."""
    version = "" if version_id in (None, "", "null") else version_id
    material = "\n".join((bucket, key, etag.strip('"'), version or ""))
    return hashlib.sha256(material.encode()).hexdigest()


# --- reading ------------------------------------------------------------------------------------


def _text(data: bytes) -> str:
    if len(data) > MAX_MANIFEST_BYTES:
        raise ManifestRefused([_problem(None, "", f"the file is over {MAX_MANIFEST_BYTES} bytes")])
    try:
        return data.removeprefix(_UTF8_BOM).decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        _refuse(line, "the file is not UTF-8 text: save it as UTF-8")


def _problem(line: int | None, field: str, message: str) -> ManifestProblem:
    return ManifestProblem(line=line, field=field, message=message)


def _refuse(line: int | None, message: str) -> NoReturn:
    raise ManifestRefused([_problem(line, "", message)])


class _Lines:
    """Line numbers of character offsets in a document."""

    def __init__(self, text: str) -> None:
        self.starts = [0] + [index + 1 for index, char in enumerate(text) if char == "\n"]

    def of(self, offset: int) -> int:
        return bisect.bisect_right(self.starts, offset)


def _load_json(text: str) -> tuple[Any, dict[int, int]]:
    """The document, and the line each JSON object starts on (by id; the objects stay alive in it).

    The stdlib's pure-Python scanner with its object parser wrapped: the C scanner has no hook, and
    no well-kept library keeps positions in plain dicts and lists. 1 MiB parses in well under a second."""
    lines, starts = _Lines(text), {}
    decoder = json.JSONDecoder()

    def parse_object(s_and_end: tuple[str, int], *args: Any) -> tuple[Any, int]:
        value, end = json.decoder.JSONObject(s_and_end, *args)  # type: ignore[attr-defined]
        starts[id(value)] = lines.of(s_and_end[1] - 1)
        return value, end

    # Undocumented in typeshed, stable since Python 2.6 (the C scanner reads the same attributes).
    decoder.parse_object = parse_object  # type: ignore[attr-defined]
    decoder.scan_once = json.scanner.py_make_scanner(decoder)  # type: ignore[attr-defined]
    try:
        return decoder.decode(text), starts
    except json.JSONDecodeError as error:
        _refuse(error.lineno, f"not valid JSON: {error.msg} (column {error.colno})")
    except RecursionError:
        _refuse(None, "the JSON nests too deeply")


def _problems(invalid: ValidationError, line: int | None, rename: Mapping[str, str]) -> list[ManifestProblem]:
    """pydantic's errors in the house's words (models.messages), fields named as the file names them."""
    found = []
    for error in invalid.errors():
        field = _field(error["loc"], rename)
        message = describe({**error, "loc": (field,) if field else ()})
        found.append(_problem(line, field, message))
    return found


def _field(loc: tuple[Any, ...], rename: Mapping[str, str]) -> str:
    if not loc:
        return ""
    head = str(loc[0])
    if head in rename:  # a row's one category is `categories[0]` to the model, `category` to the file
        return rename[head]
    return head + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc[1:])


def _bounded(problems: list[ManifestProblem]) -> list[ManifestProblem]:
    """In line order (the file's own problems first), at most MAX_PROBLEMS and a line saying the rest."""
    problems = sorted(problems, key=lambda problem: problem.line or 0)
    if len(problems) <= MAX_PROBLEMS:
        return problems
    more = _problem(None, "", f"and {len(problems) - MAX_PROBLEMS} more problems not listed")
    return [*problems[:MAX_PROBLEMS], more]


# --- blog manifests -----------------------------------------------------------------------------


def section_body(
    manifest: Mapping[str, Any],
    section: Mapping[str, Any],
    *,
    size: str | None = None,
    model: str | None = None,
    output_format: str | None = None,
) -> dict[str, Any]:
    """One section's BlogImageRequest fields (the `imagegen batch` rule): the section's own fields
    win over the caller's defaults (size, model, format), which win over the manifest's; a section's
    `format` is its output_format."""
    body: dict[str, Any] = {"post_id": manifest["post_id"]} if "post_id" in manifest else {}
    size, model = size or manifest.get("size"), model or manifest.get("model")
    if size:
        body["size"] = size
    if model:
        body["model"] = model
    chosen_format = section.get("format", output_format)
    if chosen_format is not None:
        body["output_format"] = chosen_format
    body.update({name: value for name, value in section.items() if name != "format"})
    return body


def manifest_sections(manifest: Any) -> list[Any]:
    """The sections of a blog manifest, or ValueError saying what its shape lacks."""
    sections = manifest.get("sections") if isinstance(manifest, dict) else None
    if not isinstance(sections, list) or not sections:
        raise ValueError("'sections' must be a non-empty list")
    return sections


def _blog(manifest: Any, starts: Mapping[int, int]) -> BlogManifest:
    try:
        sections = manifest_sections(manifest)
    except ValueError as problem:
        _refuse(starts.get(id(manifest)), str(problem))
    if len(sections) > MAX_MANIFEST_ROWS:
        _refuse(starts.get(id(manifest)), f"a manifest holds at most {MAX_MANIFEST_ROWS} sections")
    requests, problems = [], []
    for index, section in enumerate(sections):
        line = starts.get(id(section), starts.get(id(manifest)))
        if not isinstance(section, dict):
            problems.append(_problem(line, f"sections[{index}]", f"sections[{index}] must be a JSON object"))
            continue
        try:
            requests.append(BlogImageRequest.model_validate(section_body(manifest, section)))
        except ValidationError as invalid:
            problems.extend(_problems(invalid, line, {}))
    if problems:
        raise ManifestRefused(_bounded(problems))
    return BlogManifest(requests)


# --- catalogues ---------------------------------------------------------------------------------

_ROW_FIELDS = {"categories": "category"}  # a row is validated as a one-category BatchRequest


def _unknown_columns(names: list[str], line: int | None) -> list[ManifestProblem]:
    """A problem per name that is not a catalogue column, with the column it most resembles."""
    problems = []
    for name in names:
        if name not in CATALOGUE_COLUMNS:
            close = difflib.get_close_matches(name.lower(), CATALOGUE_COLUMNS, n=1, cutoff=0.6)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            message = f"unknown column '{name[:40]}'{hint}: the columns are {', '.join(CATALOGUE_COLUMNS)}"
            problems.append(_problem(line, name[:40], message))
    return problems


def _row_request(row: Mapping[str, Any], line: int | None) -> BatchRequest:
    """A row as a BatchRequest of its one category, or ManifestRefused with its problems."""
    unknown = _unknown_columns(list(row), line)
    if unknown:
        raise ManifestRefused(unknown)
    body = {("categories" if name == "category" else name): value for name, value in row.items()}
    if "categories" in body:
        body["categories"] = [body["categories"]]
    try:
        return BatchRequest.model_validate(body)
    except ValidationError as invalid:
        raise ManifestRefused(_problems(invalid, line, _ROW_FIELDS)) from None


def _grouped(rows: list[BatchRequest]) -> list[BatchRequest]:
    """Rows of the same options as few BatchRequests as the limits allow, in first-seen order."""
    groups: dict[tuple[str, str, int], list[str]] = {}
    for row in rows:
        options = (row.style, row.color_scheme, row.variations_per_category)
        groups.setdefault(options, []).extend(row.categories)
    requests = []
    for (style, color_scheme, variations), categories in groups.items():
        per_batch = min(MAX_CATEGORIES, MAX_BATCH_ITEMS // variations)
        for first in range(0, len(categories), per_batch):
            requests.append(
                BatchRequest(
                    categories=categories[first : first + per_batch],
                    style=style,
                    color_scheme=color_scheme,
                    variations_per_category=variations,
                )
            )
    return requests


def _catalogue(
    rows: list[tuple[int | None, Mapping[str, Any]]], problems: list[ManifestProblem] | None = None
) -> Catalogue:
    """Every row checked (after the file's own `problems`), then grouped; ManifestRefused if any fails."""
    problems = list(problems or [])
    if not rows and not problems:
        _refuse(None, "the catalogue has no rows")
    if len(rows) > MAX_MANIFEST_ROWS:
        _refuse(None, f"a catalogue holds at most {MAX_MANIFEST_ROWS} rows")
    valid = []
    for line, row in rows:
        try:
            valid.append(_row_request(row, line))
        except ManifestRefused as refused:
            problems.extend(refused.problems)
    if problems:
        raise ManifestRefused(_bounded(problems))
    return Catalogue(_grouped(valid))


def _csv_cell(name: str, value: str) -> Any:
    """A cell as the JSON value it stands for: variations a whole number when written as one."""
    value = value.strip()
    return int(value) if name == "variations_per_category" and value.isdigit() else value


def _csv_catalogue(text: str) -> Catalogue:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[tuple[int | None, Mapping[str, Any]]] = []
    problems: list[ManifestProblem] = []
    try:
        header = [name.strip() for name in next(reader, [])]
        if "category" not in header:
            _refuse(1, f"the first line must be a header naming the columns: {', '.join(CATALOGUE_COLUMNS)}")
        problems.extend(_unknown_columns(header, 1))
        start = reader.line_num + 1
        for cells in reader:
            if len(cells) > len(header):
                problems.append(
                    _problem(start, "", f"{len(cells)} cells, but the header names {len(header)}")
                )
            elif any(cell.strip() for cell in cells):  # blank lines are spacing, not rows
                rows.append((start, _csv_row(header, cells)))
            start = reader.line_num + 1
            if len(rows) > MAX_MANIFEST_ROWS:
                break
    except csv.Error as error:
        _refuse(reader.line_num, f"not valid CSV: {error}")
    return _catalogue(rows, problems)


def _csv_row(header: list[str], cells: list[str]) -> dict[str, Any]:
    """The row's filled cells by known column (an unknown one is said once, on the header's line);
    a blank category cell is kept, to be said as "must not be empty"."""
    row = {
        name: _csv_cell(name, cell)
        for name, cell in zip(header, cells, strict=False)
        if cell.strip() and name in CATALOGUE_COLUMNS
    }
    if "category" not in row and len(cells) > header.index("category"):
        row["category"] = ""
    return row


def _json_catalogue(document: Any, starts: Mapping[int, int]) -> Catalogue:
    if isinstance(document, dict):  # BatchRequest-shaped: it is one, limits and all
        try:
            return Catalogue([BatchRequest.model_validate(document)])
        except ValidationError as invalid:
            raise ManifestRefused(_bounded(_problems(invalid, starts.get(id(document)), {}))) from None
    rows: list[tuple[int | None, Mapping[str, Any]]] = []
    problems = []
    for index, row in enumerate(document):
        if isinstance(row, dict):
            rows.append((starts.get(id(row)), row))
        else:
            problems.append(_problem(None, f"[{index}]", f"row {index + 1} must be a JSON object"))
    if problems:
        raise ManifestRefused(_bounded(problems))
    return _catalogue(rows)


# --- the entry point ----------------------------------------------------------------------------


def parse_manifest(key: str, data: bytes) -> BlogManifest | Catalogue:
    """Every request a manifest asks for, or ManifestRefused listing every problem (nothing half-made)."""
    text = _text(data)
    if key.lower().endswith(".csv"):
        return _csv_catalogue(text)
    document, starts = _load_json(text)
    if isinstance(document, dict) and "sections" in document:
        return _blog(document, starts)
    if isinstance(document, list) or (isinstance(document, dict) and "categories" in document):
        return _json_catalogue(document, starts)
    _refuse(
        1,
        'a JSON manifest is a blog post {"post_id", "sections": [...]} or a catalogue (a list of rows or '
        '{"categories": [...]})',
    )
