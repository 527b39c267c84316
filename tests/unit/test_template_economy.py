"""The economy function's AWS resources (issue 15), as the template declares them, and the local
reading of its EventBridge Scheduler event."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from imagegen.local.template import TEMPLATE_PATH, Template

SENDERS = {"GenerateFunction", "BatchFunction", "HooksFunction", "TriggerFunction", "EconomyFunction"}


def _props(template: Template, name: str) -> dict[str, Any]:
    return dict(template.resources[name]["Properties"])


def _policies(template: Template, function: str) -> list[Any]:
    return list(template.resolve(_props(template, function)["Policies"]))


def _policy_targets(template: Template, function: str, kind: str, key: str) -> set[str]:
    """The resources a function's SAM policy templates of one kind name: {"JobsTable", ...}."""
    targets = set()
    for policy in _props(template, function)["Policies"]:
        if isinstance(policy, dict) and kind in policy:
            reference = policy[kind][key]
            targets.add(reference.get("Ref") or reference["Fn::GetAtt"][0])
    return targets


def test_the_economy_function_runs_long_and_takes_its_queue_one_record_at_a_time() -> None:
    template = Template()
    props = _props(template, "EconomyFunction")
    assert props["CodeUri"] == "../functions/economy" and props["Handler"] == "app.lambda_handler"
    assert (props["MemorySize"], props["Timeout"]) == (1024, 900)
    work = template.sqs_event("EconomyFunction")
    assert work is not None
    assert work["Queue"] == template.resolve({"Fn::GetAtt": ["EconomyQueue", "Arn"]})
    assert work["BatchSize"] == 1
    assert work["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert work["ScalingConfig"] == {"MaximumConcurrency": 2}


def test_the_economy_queue_outlasts_six_invocations_and_has_a_dead_letter_queue() -> None:
    template = Template()
    queue = template.resolve(_props(template, "EconomyQueue"))
    assert queue["VisibilityTimeout"] == 6 * _props(template, "EconomyFunction")["Timeout"]
    assert queue["SqsManagedSseEnabled"] is True
    assert queue["RedrivePolicy"]["maxReceiveCount"] == 5
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == template.resolve(
        {"Fn::GetAtt": ["EconomyDeadLetterQueue", "Arn"]}
    )
    assert _props(template, "EconomyDeadLetterQueue")["SqsManagedSseEnabled"] is True


def test_the_economy_function_may_do_what_its_messages_need_and_no_more() -> None:
    template = Template()
    assert _policy_targets(template, "EconomyFunction", "DynamoDBCrudPolicy", "TableName") == {
        "JobsTable",
        "LimitsTable",
        "CacheTable",
        "IdempotencyTable",
    }
    assert _policy_targets(template, "EconomyFunction", "S3ReadPolicy", "BucketName") == {"ImagesBucket"}
    assert _policy_targets(template, "EconomyFunction", "S3WritePolicy", "BucketName") == {"ImagesBucket"}
    assert _policy_targets(template, "EconomyFunction", "SQSSendMessagePolicy", "QueueName") == {
        "GenerateQueue",
        "EconomyQueue",
    }


@pytest.mark.parametrize("function", sorted(SENDERS))
def test_who_starts_or_continues_economy_work_may_send_to_its_queue(function: str) -> None:
    assert "EconomyQueue" in _policy_targets(Template(), function, "SQSSendMessagePolicy", "QueueName")


def test_no_other_function_may_send_to_the_economy_queue() -> None:
    template = Template()
    senders = {
        name
        for name in template.of_type("AWS::Serverless::Function")
        if "EconomyQueue" in _policy_targets(template, name, "SQSSendMessagePolicy", "QueueName")
    }
    assert senders == SENDERS


def test_the_openai_key_reaches_the_economy_function_as_it_reaches_the_worker() -> None:
    without = Template()
    assert "OPENAI_API_KEY_SECRET_ARN" not in without.environment("EconomyFunction")
    assert not [
        p for p in _policies(without, "EconomyFunction") if "AWSSecretsManagerGetSecretValuePolicy" in p
    ]
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:openai-AbCdEf"
    keyed = Template(parameters={"OpenAIKeySecretArn": arn})
    for function in ("EconomyFunction", "WorkerFunction"):
        assert keyed.environment(function)["OPENAI_API_KEY_SECRET_ARN"] == arn
        assert {"AWSSecretsManagerGetSecretValuePolicy": {"SecretArn": arn}} in _policies(keyed, function)


@pytest.mark.parametrize(("minutes", "expression"), [("5", "rate(5 minutes)"), ("1", "rate(1 minute)")])
def test_the_poll_is_an_eventbridge_schedule_every_economy_poll_minutes(
    minutes: str, expression: str
) -> None:
    template = Template(parameters={"EconomyPollMinutes": minutes})
    (poll,) = [
        event
        for event in _props(template, "EconomyFunction")["Events"].values()
        if event["Type"] == "ScheduleV2"
    ]
    assert template.resolve(poll["Properties"]["ScheduleExpression"]) == expression
    (schedule,) = template.schedule_events("EconomyFunction")
    assert schedule.period_seconds == int(minutes) * 60
    assert schedule.input == {"action": "poll"}


def test_the_economy_parameters_are_bounded_and_reach_every_function() -> None:
    template = Template()
    parameters = template.doc["Parameters"]
    assert (parameters["EconomyPollMinutes"]["MinValue"], parameters["EconomyPollMinutes"]["MaxValue"]) == (
        1,
        60,
    )
    assert parameters["EconomyPollMinutes"]["Default"] == 5
    assert parameters["EconomyOnExpiry"]["AllowedValues"] == ["requeue", "fail"]
    env = template.environment("BatchFunction")
    assert env["ECONOMY_MIN_ITEMS"] == "0"  # never routed to economy unless a request asks
    assert env["ECONOMY_ON_EXPIRY"] == "requeue"
    assert env["ECONOMY_QUEUE_URL"] == template.resolve({"Ref": "EconomyQueue"})


def test_openais_webhook_is_a_public_route_of_the_hooks_function() -> None:
    template = Template()
    (route,) = [route for route in template.routes() if route.path == "/api/openai/webhook"]
    assert (route.method, route.function, route.authorized) == ("POST", "HooksFunction", False)


def test_the_webhook_secret_reaches_the_hooks_function_only_when_given() -> None:
    assert "OPENAI_WEBHOOK_SECRET_ARN" not in Template().environment("HooksFunction")
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:openai-webhook-AbCdEf"
    given = Template(parameters={"OpenAIWebhookSecretArn": arn})
    assert given.environment("HooksFunction")["OPENAI_WEBHOOK_SECRET_ARN"] == arn
    assert {"AWSSecretsManagerGetSecretValuePolicy": {"SecretArn": arn}} in _policies(given, "HooksFunction")
    assert "OPENAI_WEBHOOK_SECRET_ARN" not in given.environment("EconomyFunction")


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [("rate(1 minute)", 60), ("rate(10 minutes)", 600), ("rate(1 hour)", 3600), ("rate(2 hours)", 7200)],
)
def test_the_local_stack_reads_rate_schedules_in_minutes_and_hours(
    tmp_path: Path, expression: str, seconds: int
) -> None:
    (schedule,) = _with_schedule(tmp_path, expression).schedule_events("EconomyFunction")
    assert schedule.period_seconds == seconds


@pytest.mark.parametrize(
    "expression", ["cron(0 12 * * ? *)", "at(2026-12-01T00:00:00)", "rate(30 seconds)", "rate(0 minutes)"]
)
def test_a_schedule_the_local_stack_cannot_run_stops_it_loudly(tmp_path: Path, expression: str) -> None:
    with pytest.raises(NotImplementedError, match="rate\\(N minutes\\|hours\\)"):
        _with_schedule(tmp_path, expression).schedule_events("EconomyFunction")


def _with_schedule(tmp_path: Path, expression: str) -> Template:
    """The template with the economy poll's expression replaced (infra/ kept: CodeUri is relative)."""
    text = TEMPLATE_PATH.read_text()
    old = """            ScheduleExpression: !If
              - PollEveryMinute
              - rate(1 minute)
              - !Sub "rate(${EconomyPollMinutes} minutes)"
"""
    assert old in text
    path = tmp_path / "infra" / "template.yaml"
    path.parent.mkdir()
    path.write_text(text.replace(old, f'            ScheduleExpression: "{expression}"\n'))
    return Template(path)
