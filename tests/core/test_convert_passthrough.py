"""brb.core.convert.passthrough: a /v1/messages body becomes provider params from an
allow-list, with an honest input bound, or stays local when no bound exists."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from brb.core.capabilities import capabilities_for
from brb.core.convert.images import IMAGE_TOKENS_CEILING
from brb.core.convert.passthrough import (
    ALLOWED_FIELDS,
    check_fields,
    has_1h_cache_writes,
    input_bound_tokens,
    is_cost_bounded,
    passthrough_request,
)
from brb.core.convert.token_bound import TOOL_USE_SYSTEM_PROMPT_TOKENS
from brb.errors import BadRequest, ConversionError, UnboundedCost

NEW_SDK = "2026-10-21"
OLD_API = "2023-06-01"
MODEL = "claude-sonnet-4-5"  # takes sampling under the old API version
USER = [{"role": "user", "content": "hi"}]


def body(**extra: Any) -> dict[str, Any]:
    return {"model": "llama3", "max_tokens": 64, "messages": USER, **extra}


def convert(b: dict[str, Any], version: str = NEW_SDK, model: str = MODEL) -> Any:
    return passthrough_request(b, cloud_model=model, caps=capabilities_for(model, version))


@pytest.mark.parametrize(
    "field", ["extra_body", "extra_headers", "extra_query", "timeout", "betas", "options"]
)
def test_sdk_options_and_unknown_keys_are_a_400_naming_the_field(field: str) -> None:
    with pytest.raises(BadRequest) as caught:
        convert(body(**{field: {"model": "claude-opus-4-1", "max_tokens": 99999}}))
    assert not isinstance(caught.value, UnboundedCost)
    assert repr(field) in str(caught.value)
    with pytest.raises(BadRequest):
        check_fields(body(**{field: 1}))


def test_the_model_is_the_configured_one_and_only_allowed_fields_go_out() -> None:
    b = body(system="be brief", stop_sequences=["END"], metadata={"user_id": "u"}, stream=True)
    req = convert(b)
    assert req.params["model"] == MODEL and req.is_stream
    assert set(req.params) <= ALLOWED_FIELDS and "stream" not in req.params
    assert req.params["system"] == "be brief" and req.params["stop_sequences"] == ["END"]


@pytest.mark.parametrize(
    ("version", "model", "sent"),
    [
        # an old client's temperature under the SDK's API version: left out, not a TypeError
        (NEW_SDK, MODEL, {}),
        # the old API version on a model that takes one of temperature/top_p
        (OLD_API, MODEL, {"temperature": 1.0, "top_k": 5}),
        # the 5.x generation takes none
        (OLD_API, "claude-sonnet-5-5", {}),
    ],
)
def test_sampling_fields_follow_the_model_rules(
    version: str, model: str, sent: dict[str, Any]
) -> None:
    req = convert(body(temperature=1.7, top_p=0.9, top_k=5), version, model)
    assert {k: req.params[k] for k in ("temperature", "top_p", "top_k") if k in req.params} == sent


def test_max_tokens_is_required_and_capped_at_the_model_ceiling() -> None:
    with pytest.raises(ConversionError, match="max_tokens"):
        convert({"model": "x", "messages": USER})
    req = convert(body(max_tokens=10_000_000))
    assert req.max_tokens == req.params["max_tokens"] == capabilities_for(MODEL).max_output_tokens


URL_IMAGE = {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}
FILE_DOC = {"type": "document", "source": {"type": "file", "file_id": "file_011"}}
PDF = {"type": "document", "source": {"type": "base64", "media_type": "application/pdf",
                                      "data": "JVBERi0="}}  # fmt: skip
TEXT_DOC = {"type": "document", "source": {"type": "text", "media_type": "text/plain",
                                           "data": "plain words"}}  # fmt: skip


def with_block(block: dict[str, Any]) -> dict[str, Any]:
    return body(messages=[{"role": "user", "content": [block, {"type": "text", "text": "?"}]}])


@pytest.mark.parametrize(
    "b",
    [
        with_block(URL_IMAGE),
        with_block(FILE_DOC),
        with_block(PDF),
        with_block({"type": "image", "source": {"type": "file", "file_id": "file_1"}}),
        body(tools=[{"type": "web_search_20250305", "name": "web_search", "max_uses": 5}]),
        body(tools=[{"type": "web_fetch_20250910", "name": "web_fetch"}]),
        body(mcp_servers=[{"type": "url", "url": "https://mcp.example", "name": "m"}]),
        body(container="container_1"),
        body(speed="fast"),
        body(inference_geo="us"),
    ],
    ids=[
        "url-image",
        "file-doc",
        "pdf",
        "file-image",
        "web-search",
        "web-fetch",
        "mcp",
        "container",
        "fast",
        "geo",
    ],  # fmt: skip
)
def test_no_honest_bound_means_unbounded_cost(b: dict[str, Any]) -> None:
    assert not is_cost_bounded(b)
    with pytest.raises(UnboundedCost) as caught:
        convert(b)
    assert caught.value.reason == "unbounded_cost"


def test_bounded_content_is_diverted_with_its_bound() -> None:
    tool = {"name": "get", "description": "d", "input_schema": {"type": "object"}}
    for b in (with_block(TEXT_DOC), body(tools=[tool]), body(tools=[{**tool, "type": "custom"}]),
              body(speed="standard")):  # fmt: skip
        assert is_cost_bounded(b), b
        convert(b)
    plain = convert(body()).input_tokens_upper_bound
    tooled = convert(body(tools=[tool])).input_tokens_upper_bound
    assert tooled >= plain + TOOL_USE_SYSTEM_PROMPT_TOKENS  # the tool-use system prompt


def test_a_tiny_base64_image_is_bounded_by_the_image_ceiling_not_its_bytes() -> None:
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 16).decode()
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                         "data": png}}  # fmt: skip
    with_image = convert(with_block(image))
    assert with_image.input_tokens_upper_bound >= IMAGE_TOKENS_CEILING
    assert input_bound_tokens(with_image.params) == with_image.input_tokens_upper_bound


def test_the_bound_covers_every_byte_of_what_is_sent() -> None:
    long = "word " * 5_000
    req = convert(body(system=long, messages=[{"role": "user", "content": long}]))
    assert req.input_tokens_upper_bound >= 2 * len(long.encode())


@pytest.mark.parametrize(
    ("b", "expected"),
    [
        (body(), False),
        (body(cache_control={"type": "ephemeral"}), False),
        (body(cache_control={"type": "ephemeral", "ttl": "1h"}), True),
        (
            body(
                system=[
                    {
                        "type": "text",
                        "text": "s",
                        "cache_control": {"type": "ephemeral", "ttl": "1h"},
                    }
                ]
            ),
            True,
        ),  # fmt: skip
        (
            body(
                messages=[
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "text",
                                "text": "x",
                                "cache_control": {"type": "ephemeral", "ttl": "1h"},
                            }
                        ],
                    }
                ]
            ),
            True,
        ),  # fmt: skip
    ],
)
def test_one_hour_cache_writes_are_seen_anywhere(b: dict[str, Any], expected: bool) -> None:
    assert has_1h_cache_writes(b) is expected
    assert convert(b).has_1h_cache_writes is expected


def test_the_client_body_is_not_changed_and_a_non_object_is_a_400() -> None:
    b = body(stream=True)
    convert(b)
    assert b["model"] == "llama3" and b["stream"] is True
    with pytest.raises(BadRequest):
        passthrough_request([], cloud_model=MODEL, caps=capabilities_for(MODEL))
