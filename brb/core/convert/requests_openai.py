"""OpenAI ``/v1/chat/completions`` bodies read into a ClientRequest.

Owns what OpenAI's chat fields mean: roles system/developer/user/assistant/
tool, content as a string or a list of parts (``text``, ``image_url`` with a
base64 ``data:`` URL; assistants may also carry ``refusal`` parts), assistant
``tool_calls`` (``arguments`` a JSON string) answered by ``tool`` messages
carrying ``tool_call_id``; ``tools``, ``tool_choice``, ``parallel_tool_calls``;
``response_format`` json_object / json_schema; ``stream`` (default false) and
``stream_options.include_usage``. What the cloud can't reproduce (``n`` > 1,
audio, files, remote image URLs, the deprecated ``function`` role) keeps the
request local. Must not merge turns or fit anything to a model.
"""

from __future__ import annotations

from brb.errors import BadRequest, ConversionError

from .images import image_from_data_url
from .messages import text_block, tool_result_block
from .request import JSON, ClientRequest, Turn
from .sampling import openai_sampling
from .tools import ToolCallLedger, openai_tool_choice, tool_definitions, tool_use_block
from .wire import opt_bool, opt_int, opt_list, opt_object, require_object, required_model

_ANY_OBJECT: JSON = {"type": "object", "additionalProperties": True}


def parse_openai_chat(body: JSON) -> ClientRequest:
    model = required_model(body)
    messages = opt_list(body, "messages", "body")
    if messages is None:
        raise BadRequest("messages is required")
    if opt_int(body, "n", "body") not in (None, 1):
        raise ConversionError("n > 1 (several choices) can't be served by the cloud")
    if "audio" in (opt_list(body, "modalities", "body") or []):
        raise ConversionError("audio output can't be served by the cloud")
    system: list[str] = []
    turns: list[Turn] = []
    ledger = ToolCallLedger()
    previous: str | None = None
    for index, raw in enumerate(messages):
        where = f"messages[{index}]"
        message = require_object(raw, where)
        role = message.get("role")
        if role in ("system", "developer"):
            system.append(_plain_text(message.get("content"), where))
            continue
        if role == "user":
            turns.append(_user_turn(message.get("content"), where))
        elif role == "assistant":
            if previous != "assistant":
                ledger.start_assistant_turn()
            turns.append(_assistant_turn(message, ledger, where))
        elif role == "tool":
            call_id = ledger.answer(client_id=message.get("tool_call_id") or "")
            text = _plain_text(message.get("content"), where)
            turns.append(Turn("user", [tool_result_block(call_id, text, [])]))
        else:
            raise ConversionError(f"{where}: role {role!r} can't be converted")
        previous = role
    tools = tool_definitions(opt_list(body, "tools", "body"), "tools")
    stream_options = opt_object(body, "stream_options", "body") or {}
    return ClientRequest(
        local_model=model,
        is_stream=bool(opt_bool(body, "stream", "body")),
        system=tuple(system),
        turns=tuple(turns),
        sampling=openai_sampling(body),
        tools=tuple(tools),
        tool_choice=openai_tool_choice(
            body.get("tool_choice"),
            tools,
            parallel=opt_bool(body, "parallel_tool_calls", "body"),
        ),
        json_schema=_response_format_schema(opt_object(body, "response_format", "body")),
        include_usage=bool(opt_bool(stream_options, "include_usage", "stream_options")),
    )


def _parts(content: object, where: str) -> list[JSON]:
    """Content as a list of parts; a string is one text part, null is none."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if isinstance(content, list):
        return [require_object(part, f"{where}.content[{i}]") for i, part in enumerate(content)]
    raise BadRequest(f"{where}.content must be a string or a list of parts")


def _part_text(part: JSON, where: str) -> str:
    text = part.get("text") if part.get("type") == "text" else part.get("refusal")
    if not isinstance(text, str):
        raise BadRequest(f"{where}: a {part.get('type')} part needs a string")
    return text


def _plain_text(content: object, where: str) -> str:
    """System, developer and tool content: text parts only."""
    pieces = []
    for part in _parts(content, where):
        if part.get("type") != "text":
            raise ConversionError(f"{where}: {part.get('type')!r} parts can't be converted here")
        pieces.append(_part_text(part, where))
    return "".join(pieces)


def _user_turn(content: object, where: str) -> Turn:
    turn = Turn("user", [])
    for position, part in enumerate(_parts(content, where)):
        here = f"{where}.content[{position}]"
        kind = part.get("type")
        if kind == "text":
            block = text_block(_part_text(part, here))
            if block is not None:
                turn.blocks.append(block)
        elif kind == "image_url":
            image_url = part.get("image_url")
            url = image_url.get("url") if isinstance(image_url, dict) else image_url
            image = image_from_data_url(url, here)
            turn.blocks.append(image.block)
            turn.image_count += 1
            turn.image_tokens += image.token_bound
            turn.image_max_side_px = max(turn.image_max_side_px, image.width_px, image.height_px)
        else:
            raise ConversionError(f"{here}: {kind!r} parts can't go to the cloud")
    return turn


def _assistant_turn(message: JSON, ledger: ToolCallLedger, where: str) -> Turn:
    if message.get("function_call") is not None:
        raise ConversionError(f"{where}: the deprecated function_call can't be converted")
    turn = Turn("assistant", [])
    for position, part in enumerate(_parts(message.get("content"), where)):
        here = f"{where}.content[{position}]"
        if part.get("type") not in ("text", "refusal"):
            raise ConversionError(f"{here}: {part.get('type')!r} parts can't be converted")
        block = text_block(_part_text(part, here))
        if block is not None:
            turn.blocks.append(block)
    for position, raw in enumerate(opt_list(message, "tool_calls", where) or []):
        here = f"{where}.tool_calls[{position}]"
        call = require_object(raw, here)
        if call.get("type", "function") != "function":
            raise ConversionError(f"{here}: only function tool calls can be converted")
        turn.blocks.append(tool_use_block(call, here, ledger))
    return turn


def _response_format_schema(response_format: JSON | None) -> JSON | None:
    kind = (response_format or {}).get("type", "text")
    if kind == "text":
        return None
    if kind == "json_object":
        return dict(_ANY_OBJECT)
    if kind == "json_schema":
        spec = (response_format or {}).get("json_schema")
        schema = spec.get("schema") if isinstance(spec, dict) else None
        if schema is None:
            return dict(_ANY_OBJECT)
        if not isinstance(schema, dict):
            raise BadRequest("response_format.json_schema.schema must be a JSON object")
        return schema
    raise ConversionError(f"response_format {kind!r} can't be converted")
