"""Read infra/template.yaml: the routes, resources and environment the local stack reproduces.

CloudFormation's short tags (!Ref, !Sub ...) and a few intrinsics are resolved by hand because no
maintained library resolves a template offline without an AWS account; only what the template
uses is supported, and anything else fails loudly.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[3]
TEMPLATE_PATH = PROJECT_ROOT / "infra" / "template.yaml"


class _CfnLoader(yaml.SafeLoader):
    pass


def _construct_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix in ("Ref", "Condition"):
        return {suffix: value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # as in the template: /api/icons/batch/{batch_id}/status
    function: str  # logical id
    pattern: re.Pattern[str]
    authorized: bool = True  # False for `Auth: {Authorizer: NONE}`: no authorizer runs

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"


def _path_pattern(path: str) -> re.Pattern[str]:
    regex = ""
    for part in re.split(r"(\{[A-Za-z_][A-Za-z0-9_]*\+?\})", path):
        if part.startswith("{") and part.endswith("+}"):
            regex += f"(?P<{part[1:-2]}>.+)"
        elif part.startswith("{"):
            regex += f"(?P<{part[1:-1]}>[^/]+)"
        else:
            regex += re.escape(part)
    return re.compile(f"^{regex}$")


@dataclass(frozen=True)
class WebSocketRoute:
    key: str  # $connect, $disconnect, $default or the action a message names
    function: str  # logical id of the integration's function
    answers: bool  # the route has a route response: the function's body goes back to the client


@dataclass(frozen=True)
class WebSocketApiSpec:
    routes: dict[str, WebSocketRoute]
    authorizer: str | None  # the $connect authorizer's function
    identity: tuple[str, ...]  # its identity sources: route.request.querystring.ticket
    stage: str


@dataclass(frozen=True)
class Schedule:
    """A function's EventBridge Scheduler event, as the local stack's timer runs it."""

    function: str  # logical id
    event: str  # the event's name under Events
    period_seconds: float
    input: Any  # the Input, parsed: what each invocation receives


_RATE = re.compile(r"rate\((?P<value>[1-9][0-9]*) (?P<unit>minute|minutes|hour|hours)\)")
_UNIT_SECONDS = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600}


def _schedule(function: str, event: str, props: dict[str, Any]) -> Schedule:
    """A ScheduleV2 event's resolved properties as a Schedule. Only rate() in minutes or hours is
    emulated; a cron() or at() expression, or another unit, stops the stack here rather than never firing."""
    expression = str(props.get("ScheduleExpression", ""))
    rate = _RATE.fullmatch(expression)
    if rate is None:
        raise NotImplementedError(
            f"{function}.{event}: the local stack runs `rate(N minutes|hours)` schedules only,"
            f" not {expression!r}"
        )
    period = int(rate.group("value")) * _UNIT_SECONDS[rate.group("unit")]
    return Schedule(function, event, float(period), json.loads(props["Input"]) if "Input" in props else {})


def _function_in(uri: Any) -> str:
    """The function a Lambda integration's or authorizer's URI (an Fn::Sub) names: ${Name.Arn}."""
    match = re.search(r"\$\{([A-Za-z0-9]+)\.Arn\}", str(uri.get("Fn::Sub") if isinstance(uri, dict) else uri))
    if match is None:
        raise NotImplementedError(f"the local stack cannot find the function of {uri}")
    return match.group(1)


class Template:
    """A parsed template with the names the local stack gives its resources."""

    def __init__(
        self,
        path: Path = TEMPLATE_PATH,
        stack_name: str = "imagegen",
        region: str = "us-east-1",
        account_id: str = "123456789012",
        parameters: dict[str, str] | None = None,
    ) -> None:
        self.path = path
        self.parameters = dict(parameters or {})  # values given at deploy time; others take their Default
        self.doc: dict[str, Any] = yaml.load(path.read_text(), Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
        self.stack_name, self.region, self.account_id = stack_name, region, account_id
        self.resources: dict[str, dict[str, Any]] = self.doc["Resources"]
        self.physical: dict[str, dict[str, str]] = {}  # logical id -> {"Ref": ..., "Arn": ..., ...}

    # -- what the template declares ---------------------------------------------------------
    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {name: res for name, res in self.resources.items() if res["Type"] == resource_type}

    def routes(self) -> list[Route]:
        routes = []
        for name, res in self.of_type("AWS::Serverless::Function").items():
            for event in res["Properties"].get("Events", {}).values():
                if event["Type"] == "HttpApi":
                    props = event["Properties"]
                    public = props.get("Auth", {}).get("Authorizer") == "NONE"
                    path = props["Path"]
                    routes.append(Route(props["Method"].upper(), path, name, _path_pattern(path), not public))
        # Like API Gateway, the most specific route wins: greedy {proxy+} routes are tried last.
        return sorted(routes, key=lambda route: ("+}" in route.path, -len(route.path)))

    def authorizer_function(self) -> str:
        (api,) = self.of_type("AWS::Serverless::HttpApi").values()
        auth = api["Properties"]["Auth"]
        authorizer = auth["Authorizers"][auth["DefaultAuthorizer"]]
        return str(authorizer["FunctionArn"]["Fn::GetAtt"][0])

    def authorizer_settings(self) -> dict[str, Any]:
        (api,) = self.of_type("AWS::Serverless::HttpApi").values()
        auth = api["Properties"]["Auth"]
        return dict(auth["Authorizers"][auth["DefaultAuthorizer"]])

    def cors_configuration(self) -> dict[str, Any] | None:
        """The HTTP API's CorsConfiguration, resolved; None when it allows no origin."""
        (api,) = self.of_type("AWS::Serverless::HttpApi").values()
        cors = self.resolve(api["Properties"].get("CorsConfiguration"))
        return cors if cors and cors.get("AllowOrigins") else None

    def websocket_api(self) -> WebSocketApiSpec | None:
        """The WebSocket API's routes, each with its function, and its $connect authorizer."""
        apis = [
            name
            for name, res in self.of_type("AWS::ApiGatewayV2::Api").items()
            if res["Properties"].get("ProtocolType") == "WEBSOCKET"
        ]
        if not apis:
            return None
        (api,) = apis

        def of_api(resource_type: str) -> dict[str, dict[str, Any]]:
            found = self.of_type(resource_type).items()
            return {
                name: res["Properties"] for name, res in found if res["Properties"]["ApiId"] == {"Ref": api}
            }

        integrations = {
            name: _function_in(props["IntegrationUri"])
            for name, props in of_api("AWS::ApiGatewayV2::Integration").items()
        }
        answered = {props["RouteId"]["Ref"] for props in of_api("AWS::ApiGatewayV2::RouteResponse").values()}
        routes, authorizer, identity = {}, None, ()
        for name, props in of_api("AWS::ApiGatewayV2::Route").items():
            target = re.fullmatch(r"integrations/\$\{([A-Za-z0-9]+)\}", props["Target"]["Fn::Sub"])
            if target is None:
                raise NotImplementedError(f"the local stack cannot follow {name}'s Target")
            key = props["RouteKey"]
            routes[key] = WebSocketRoute(key, integrations[target.group(1)], name in answered)
            if key == "$connect" and props.get("AuthorizerId"):
                auth = self.resources[props["AuthorizerId"]["Ref"]]["Properties"]
                authorizer, identity = (
                    _function_in(auth["AuthorizerUri"]),
                    tuple(auth.get("IdentitySource", [])),
                )
        (stage,) = of_api("AWS::ApiGatewayV2::Stage").values()
        return WebSocketApiSpec(routes, authorizer, identity, str(stage["StageName"]))

    def code_dir(self, function: str) -> Path:
        code_uri = str(self.resources[function]["Properties"]["CodeUri"])
        return (self.path.parent / code_uri).resolve()

    def function_property(self, function: str, name: str) -> Any:
        props = self.resources[function]["Properties"]
        globals_ = self.doc.get("Globals", {}).get("Function", {})
        return self.resolve(props.get(name, globals_.get(name)))

    def environment(self, function: str) -> dict[str, str]:
        """Globals' variables, then the function's own, resolved to local names."""
        merged: dict[str, Any] = {}
        merged.update(
            self.doc.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
        )
        merged.update(self.resources[function]["Properties"].get("Environment", {}).get("Variables", {}))
        resolved = {name: self.resolve(value) for name, value in merged.items()}
        return {name: str(value) for name, value in resolved.items() if value is not _NO_VALUE}

    def sqs_event(self, function: str) -> dict[str, Any] | None:
        for event in self.resources[function]["Properties"].get("Events", {}).values():
            if event["Type"] == "SQS":
                return {name: self.resolve(value) for name, value in event["Properties"].items()}
        return None

    def dynamodb_event(self, function: str) -> dict[str, Any] | None:
        """The function's `Type: DynamoDB` (stream) event's properties, resolved; None without one."""
        for event in self.resources[function]["Properties"].get("Events", {}).values():
            if event["Type"] == "DynamoDB":
                return {name: self.resolve(value) for name, value in event["Properties"].items()}
        return None

    def schedule_events(self, function: str) -> list[Schedule]:
        """The function's `Type: ScheduleV2` (EventBridge Scheduler) events: rate and input."""
        return [
            _schedule(function, name, self.resolve(event["Properties"]))
            for name, event in self.resources[function]["Properties"].get("Events", {}).items()
            if event["Type"] == "ScheduleV2"
        ]

    # -- intrinsic functions ----------------------------------------------------------------
    def parameter(self, name: str) -> Any:
        if name in self.parameters:
            return self.parameters[name]
        return self.doc["Parameters"][name].get("Default")

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.doc["Conditions"][name]))

    def _pseudo(self, name: str) -> Any:
        return {
            "AWS::StackName": self.stack_name,
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": _NO_VALUE,
        }[name]

    def _ref(self, name: str) -> Any:
        if name.startswith("AWS::"):
            return self._pseudo(name)
        if name in self.doc.get("Parameters", {}):
            return self.parameter(name)
        if name in self.physical:
            return self.physical[name]["Ref"]
        return f"{self.stack_name}-{name}"  # resources the local stack does not create (functions, APIs)

    def _get_att(self, name: str, attribute: str) -> Any:
        if name in self.physical and attribute in self.physical[name]:
            return self.physical[name][attribute]
        return f"arn:aws:local:{self.region}:{self.account_id}:{self.stack_name}-{name}"

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [resolved for resolved in map(self.resolve, value) if resolved is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) != 1:  # a property resolved to AWS::NoValue is left out, as CloudFormation does
            resolved = {k: self.resolve(v) for k, v in value.items()}
            return {k: v for k, v in resolved.items() if v is not _NO_VALUE}
        ((fn, arg),) = value.items()
        intrinsic = self._intrinsics.get(fn)
        if intrinsic is not None:
            return intrinsic(arg)
        if fn.startswith("Fn::"):
            raise NotImplementedError(f"the local stack cannot resolve {fn}")
        resolved = self.resolve(arg)  # a one-key mapping, not an intrinsic: its key may be NoValue too
        return {} if resolved is _NO_VALUE else {fn: resolved}

    @functools.cached_property
    def _intrinsics(self) -> dict[str, Callable[[Any], Any]]:
        """The intrinsic functions the template uses, by name, each given its argument."""
        return {
            "Ref": self._ref,
            "Fn::GetAtt": lambda arg: self._get_att(arg[0], arg[1]),
            "Fn::Sub": lambda arg: re.sub(r"\$\{([^}]+)\}", lambda m: str(self._sub_var(m.group(1))), arg),
            "Fn::Split": lambda arg: str(self.resolve(arg[1])).split(arg[0]),
            "Fn::If": lambda arg: self.resolve(arg[1] if self.condition(arg[0]) else arg[2]),
            "Fn::Not": lambda arg: not self.resolve(arg[0]),
            # CloudFormation compares the values as strings (a Number parameter's too).
            "Fn::Equals": lambda arg: str(self.resolve(arg[0])) == str(self.resolve(arg[1])),
            "Fn::FindInMap": self._find_in_map,
            "Condition": self.condition,
        }

    def _find_in_map(self, arg: list[Any]) -> Any:
        keys = [self.resolve(k) for k in arg]
        return self.doc["Mappings"][keys[0]][str(keys[1])][keys[2]]

    def _sub_var(self, name: str) -> Any:
        if "." in name:
            resource, attribute = name.split(".", 1)
            return self._get_att(resource, attribute)
        return self._ref(name)


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


_NO_VALUE = _NoValue()
