"""The local stack gives each queue-triggered function its own concurrency, as its template says."""

from __future__ import annotations

from pathlib import Path

from imagegen.local.stack import LocalStack
from imagegen.local.template import TEMPLATE_PATH


def test_the_trigger_takes_its_scaling_config_and_the_worker_keeps_its_own_rule(tmp_path: Path) -> None:
    # Given the template with the trigger's MaximumConcurrency changed to 3
    text = TEMPLATE_PATH.read_text()
    assert "MaximumConcurrency: 2  # manifests" in text
    template = tmp_path / "infra" / "template.yaml"
    template.parent.mkdir()
    template.write_text(
        text.replace("MaximumConcurrency: 2  # manifests", "MaximumConcurrency: 3  # manifests")
    )
    stack = LocalStack(
        port=0, template_path=template, environ={"PATH": "/usr/bin", "BATCH_MAX_CONCURRENT": "7"}
    )
    # Then the trigger gets 3 invocations at once, and the worker what BATCH_MAX_CONCURRENT says
    assert stack.event_source_concurrency("TriggerFunction", stack.function_env("TriggerFunction")) == 3
    assert stack.event_source_concurrency("WorkerFunction", stack.function_env("WorkerFunction")) == 7


def test_a_queue_triggered_function_without_a_scaling_config_gets_two(tmp_path: Path) -> None:
    text = TEMPLATE_PATH.read_text()
    template = tmp_path / "infra" / "template.yaml"
    template.parent.mkdir()
    template.write_text(
        text.replace(
            "MaximumConcurrency: 2  # manifests", "MaximumConcurrency: !Ref AWS::NoValue  # manifests"
        )
    )
    stack = LocalStack(
        port=0, template_path=template, environ={"PATH": "/usr/bin", "BATCH_MAX_CONCURRENT": "7"}
    )
    assert stack.event_source_concurrency("TriggerFunction", stack.function_env("TriggerFunction")) == 2
