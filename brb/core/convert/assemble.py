"""Anthropic stream events assembled into the whole Message they describe.

Owns one job: brb always streams from a provider (so it can see the first
token arrive, or not, whatever the client asked for), and a client that asked
for a whole answer gets the Message these events add up to: ``message_start``
gives the envelope and the prompt's usage, ``content_block_start`` /
``_delta`` build each block by ``index`` (text, thinking with its signature,
tool_use with its ``input_json_delta`` pieces parsed at the end),
``message_delta`` the stop reason and the output usage. ``ping`` and unknown
events are ignored; an ``error`` event is the caller's (the renderer raises
it). Must not do I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .reply import tool_input
from .request import JSON


@dataclass(slots=True)
class MessageAssembler:
    message: JSON = field(default_factory=dict)
    _blocks: dict[int, JSON] = field(default_factory=dict)
    _json: dict[int, list[str]] = field(default_factory=dict)
    is_finished: bool = False

    def feed(self, event: JSON) -> None:
        kind = event.get("type")
        if kind == "message_start":
            self.message = dict(event.get("message") or {})
            self.message["content"] = []
        elif kind == "content_block_start":
            index = int(event.get("index", 0))
            self._blocks[index] = dict(event.get("content_block") or {})
        elif kind == "content_block_delta":
            self._delta(int(event.get("index", 0)), event.get("delta") or {})
        elif kind == "message_delta":
            delta = event.get("delta") or {}
            for key in ("stop_reason", "stop_sequence"):
                if key in delta:
                    self.message[key] = delta[key]
            usage = {**(self.message.get("usage") or {}), **(event.get("usage") or {})}
            self.message["usage"] = {k: v for k, v in usage.items() if v is not None}
        elif kind == "message_stop":
            self.is_finished = True

    def _delta(self, index: int, delta: JSON) -> None:
        block = self._blocks.setdefault(index, {"type": "text", "text": ""})
        kind = delta.get("type")
        if kind == "text_delta":
            block["text"] = str(block.get("text", "")) + str(delta.get("text", ""))
        elif kind == "thinking_delta":
            block["thinking"] = str(block.get("thinking", "")) + str(delta.get("thinking", ""))
        elif kind == "signature_delta":
            block["signature"] = str(delta.get("signature", ""))
        elif kind == "input_json_delta":
            self._json.setdefault(index, []).append(str(delta.get("partial_json", "")))

    def result(self) -> JSON:
        """The whole Message (call once the stream has ended)."""
        content = []
        for index in sorted(self._blocks):
            block = dict(self._blocks[index])
            if block.get("type") == "tool_use" and index in self._json:
                block["input"] = tool_input("".join(self._json[index]))
            content.append(block)
        return {**self.message, "content": content}
