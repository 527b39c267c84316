"""CORS_ALLOWED_ORIGINS and the template's CorsConfiguration that carries it to API Gateway."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from imagegen.config import settings_from
from imagegen.local.front import CorsRules
from imagegen.local.template import Template


def test_allowed_origins_are_a_comma_separated_setting_empty_by_default() -> None:
    assert settings_from({}).cors_allowed_origins == ()
    origins = settings_from({"CORS_ALLOWED_ORIGINS": " https://cms.example.com, http://localhost:5173 ,"})
    assert origins.cors_allowed_origins == ("https://cms.example.com", "http://localhost:5173")
    assert settings_from({"CORS_ALLOWED_ORIGINS": "*"}).cors_allowed_origins == ("*",)


@pytest.mark.parametrize(
    "bad", ["cms.example.com", "https://cms.example.com/", "https://x.example/page", "ftp://x"]
)
def test_a_value_that_is_not_an_origin_is_refused_naming_the_setting(bad: str) -> None:
    with pytest.raises(ValidationError, match=f"CORS_ALLOWED_ORIGINS: '{bad}' is not an origin"):
        settings_from({"CORS_ALLOWED_ORIGINS": bad})


def test_the_templates_cors_configuration_takes_its_origins_from_the_parameter() -> None:
    assert Template().cors_configuration() is None  # the default: no origin, no CORS
    cors = Template(parameters={"CorsAllowedOrigins": "https://a.example,http://localhost:5173"})
    config = cors.cors_configuration()
    assert config is not None
    assert config["AllowOrigins"] == ["https://a.example", "http://localhost:5173"]
    assert {"Authorization", "Content-Type", "Idempotency-Key", "Prefer"} <= set(config["AllowHeaders"])
    assert "Location" in config["ExposeHeaders"]


def test_a_wildcard_allows_every_origin_without_echoing_it() -> None:
    rules = CorsRules({"AllowOrigins": ["*"], "AllowHeaders": ["Authorization"], "AllowMethods": ["GET"]})
    assert rules.response_headers("https://any.example") == {"access-control-allow-origin": "*"}
    assert rules.preflight_headers(None) == {}  # no Origin: not a browser's cross-origin request
