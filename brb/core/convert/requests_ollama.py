"""Ollama ``/api/chat`` and ``/api/generate`` bodies read into a ClientRequest.

Owns what Ollama's fields mean (ollama/ollama docs/api.md; ollama-python
``_types.py``): ``messages`` with roles system/user/assistant/tool, ``images``
as base64 on messages (chat) or top level (generate), assistant
``tool_calls`` without ids (``arguments`` an object) and ``tool`` messages
that may name their tool in ``tool_name``; ``format`` ("json" or a JSON
schema); ``options`` (num_predict, stop, temperature, top_p, top_k; the rest
dropped); ``stream`` defaulting to true; ``think``. Fields that change what
the local model would see in ways the cloud can't reproduce (``raw``,
``template``, ``suffix``, ``context``) keep the request local.
Must not merge turns or fit anything to a model.
"""

from __future__ import annotations

from brb.errors import BadRequest, ConversionError

from .images import image_block
from .messages import text_block, tool_result_block
from .request import JSON, ClientRequest, Role, Turn
from .sampling import ollama_sampling
from .tools import ToolCallLedger, tool_definitions, tool_use_block
from .wire import opt_bool, opt_list, opt_object, opt_str, require_object, required_model

_ANY_OBJECT: JSON = {"type": "object", "additionalProperties": True}


def parse_ollama_chat(body: JSON) -> ClientRequest:
    model = required_model(body)
    messages = opt_list(body, "messages", "body")
    if not messages:
        raise ConversionError("no messages (a model load or unload stays local)")
    system: list[str] = []
    turns: list[Turn] = []
    ledger = ToolCallLedger()
    previous: str | None = None
    for index, raw in enumerate(messages):
        where = f"messages[{index}]"
        message = require_object(raw, where)
        role = opt_str(message, "role", where)
        content = opt_str(message, "content", where) or ""
        images = opt_list(message, "images", where) or []
        if role in ("assistant", "system") and images:
            raise ConversionError(f"{where}: the cloud takes images only from the user")
        if role == "system":
            system.append(content)
            continue
        if role == "user":
            turns.append(user_turn(content, images, where))
        elif role == "assistant":
            if previous != "assistant":
                ledger.start_assistant_turn()
            turns.append(_assistant_turn(message, content, ledger, where))
        elif role == "tool":
            call_id = ledger.answer(
                client_id=message.get("tool_call_id"),
                tool_name=message.get("tool_name"),
                strict_id=False,
            )
            turn = _with_images("user", [], images, where)
            turn.blocks = [tool_result_block(call_id, content, turn.blocks)]
            turns.append(turn)
        else:
            raise ConversionError(f"{where}: role {role!r} can't be converted")
        previous = role
    return ClientRequest(
        local_model=model,
        is_stream=_is_stream(body),
        system=tuple(system),
        turns=tuple(turns),
        sampling=ollama_sampling(opt_object(body, "options", "body")),
        tools=tuple(tool_definitions(opt_list(body, "tools", "body"), "tools")),
        json_schema=_format_schema(body),
        expose_thinking=_wants_thinking(body),
    )


def parse_ollama_generate(body: JSON) -> ClientRequest:
    model = required_model(body)
    if opt_bool(body, "raw", "body"):
        raise ConversionError("raw prompts are written for the local model's template")
    for key in ("template", "suffix"):
        if (opt_str(body, key, "body") or "").strip():
            raise ConversionError(f"{key} can't be converted for the cloud")
    if opt_list(body, "context", "body"):
        raise ConversionError("context holds local token ids the cloud can't read")
    prompt = opt_str(body, "prompt", "body") or ""
    images = opt_list(body, "images", "body") or []
    if not prompt.strip() and not images:
        raise ConversionError("empty prompt (a model load or unload stays local)")
    system = opt_str(body, "system", "body")
    return ClientRequest(
        local_model=model,
        is_stream=_is_stream(body),
        system=(system,) if system else (),
        turns=(user_turn(prompt, images, "body"),),
        sampling=ollama_sampling(opt_object(body, "options", "body")),
        json_schema=_format_schema(body),
        expose_thinking=_wants_thinking(body),
    )


def user_turn(text: str, images: list[object], where: str) -> Turn:
    """Images first, then text: the order Anthropic's vision guide recommends."""
    turn = _with_images("user", [], images, where)
    block = text_block(text)
    if block is not None:
        turn.blocks.append(block)
    return turn


def _with_images(role: Role, blocks: list[JSON], images: list[object], where: str) -> Turn:
    turn = Turn(role, list(blocks))
    for position, encoded in enumerate(images):
        image = image_block(encoded, f"{where}.images[{position}]")
        turn.blocks.append(image.block)
        turn.image_count += 1
        turn.image_tokens += image.token_bound
        turn.image_max_side_px = max(turn.image_max_side_px, image.width_px, image.height_px)
    return turn


def _assistant_turn(message: JSON, content: str, ledger: ToolCallLedger, where: str) -> Turn:
    turn = Turn("assistant", [])
    block = text_block(content)
    if block is not None:
        turn.blocks.append(block)
    for position, raw in enumerate(opt_list(message, "tool_calls", where) or []):
        here = f"{where}.tool_calls[{position}]"
        call = require_object(raw, here)
        turn.blocks.append(tool_use_block(call, here, ledger))
    return turn


def _is_stream(body: JSON) -> bool:
    stream = opt_bool(body, "stream", "body")
    return True if stream is None else stream


def _format_schema(body: JSON) -> JSON | None:
    value = body.get("format")
    if value is None or value == "":
        return None
    if value == "json":
        return dict(_ANY_OBJECT)
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        raise ConversionError(f"format {value!r} can't be converted")
    raise BadRequest('format must be "json" or a JSON schema object')


def _wants_thinking(body: JSON) -> bool:
    think = body.get("think")
    return think is True or (isinstance(think, str) and think.lower() not in ("", "false"))
