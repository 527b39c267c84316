"""schemathesis over the served OpenAPI document, on a local stack over HTTP: no 5xx, and every answer
(status, headers, content type, body) as the document declares it.

schemathesis' pytest plugin cannot collect lazily-loaded schemas under pytest 9 (it reads a private
node attribute), and the stack's port is known only at run time, so the test drives schemathesis'
engine (the runner behind `schemathesis run`) itself: examples, coverage, fuzzing and stateful phases,
positive and negative data, a fixed seed, deterministic generation and a few examples per operation.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import events, from_schema

from imagegen.local.stack import LocalStack
from tests.e2e.conftest import start_stack
from tests.helpers import token

MAX_EXAMPLES = 10
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
)
# The stateful phase chains operations through the links schemathesis infers from the document and
# from the Location headers the earlier phases saw (a job created, then followed, cancelled...).
PHASES = ("examples", "coverage", "fuzzing", "stateful")


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    # The daily quota bounds what generated batches draw (up to 500 items each): past 30 images the
    # fuzzer's requests get 429 quota_exceeded, which the document declares too. One worker at a
    # time keeps the offline renderer from taking both cores from the rest of the suite.
    stack = start_stack(QUOTA_IMAGES_PER_DAY="30", BATCH_MAX_CONCURRENT="1")
    yield stack
    stack.stop()


def _failures(stack: LocalStack) -> list[str]:
    config = SchemathesisConfig.from_dict(
        {
            "seed": 11,
            "headers": {"Authorization": f"Bearer {token('fuzzer', secret=stack.jwt_secret)}"},
            "generation": {"mode": "all", "deterministic": True, "max-examples": MAX_EXAMPLES},
            "phases": {
                **{name: {"enabled": True} for name in PHASES},
                "stateful": {"enabled": True, "max-steps": 10},
            },
            "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
        }
    )
    schema = schemathesis.openapi.from_url(f"{stack.url}/api/openapi.json", config=config)
    found: list[str] = []
    finished = False
    ran: dict[str, str] = {}
    transitions = 0
    for event in from_schema(schema).execute():
        if isinstance(event, events.PhaseStarted) and event.payload is not None:
            transitions = event.payload.transitions_selected  # the links it will follow
        if isinstance(event, events.PhaseFinished):
            ran[event.phase.name.value] = event.status.value
        if isinstance(event, events.NonFatalError | events.FatalError):
            found.append(f"{type(event).__name__}: {event}")
        if isinstance(event, events.ScenarioFinished):
            for check in (c for checks in event.recorder.checks.values() for c in checks):
                if check.failure_info is not None:
                    failure = check.failure_info.failure
                    found.append(f"{event.label} {check.name}: {failure.title}: {failure.message}")
        if isinstance(event, events.EngineFinished):
            finished = True
    assert finished, "schemathesis did not finish"
    # Nothing vacuous: the generating phases and the chained one ran (the examples phase has no
    # examples to send, as the document carries none).
    assert {ran.get(name) for name in ("coverage", "fuzzing", "stateful")} == {"success"}, ran
    assert transitions >= 10, f"the stateful phase found only {transitions} links to follow"
    return sorted(set(found))


def test_every_answer_is_as_the_document_declares(stack: LocalStack) -> None:
    # Given the document the stack serves, when schemathesis sends what it describes (and what it
    # forbids), then no answer is a 5xx and each matches its declared status, headers and schema.
    found = _failures(stack)
    assert found == [], "\n".join(found)
