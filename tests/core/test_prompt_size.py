"""brb.core.prompt_size: a request's prompt-token estimate and output cap from its body."""

from __future__ import annotations

import base64
import io
from typing import Any

import pytest
from PIL import Image as PILImage

from brb.core.convert.images import IMAGE_TOKENS_CEILING, image_token_bound
from brb.core.prompt_size import image_tokens, output_cap, request_shape


def png(width: int, height: int) -> str:
    out = io.BytesIO()
    PILImage.new("RGB", (width, height)).save(out, format="PNG")
    return base64.b64encode(out.getvalue()).decode()


@pytest.mark.parametrize(
    ("body", "tokens", "cap"),
    [
        ({"model": "m", "prompt": "x" * 400}, 100, None),
        ({"model": "m", "prompt": "abcd", "system": "abcd", "options": {"num_predict": 64}}, 2, 64),
        ({"model": "m", "messages": [{"role": "user", "content": "x" * 8}], "max_tokens": 9}, 2, 9),
        (
            {
                "model": "m",
                "messages": [{"role": "user", "content": [{"type": "text", "text": "y" * 12}]}],
                "max_completion_tokens": 5,
                "max_tokens": 7,
            },
            3,
            5,
        ),
        ({"model": "m", "messages": "oops", "options": {"num_predict": -1}}, 0, None),
        ({"model": "m", "prompt": "", "max_tokens": True}, 0, None),
    ],
)
def test_shape(body: dict[str, Any], tokens: int, cap: int | None) -> None:
    shape = request_shape(body)
    assert (shape.prompt_tokens, shape.max_output_tokens) == (tokens, cap)


def test_a_document_is_larger_than_a_chat() -> None:
    chat = request_shape({"messages": [{"role": "user", "content": "hello"}]})
    doc = request_shape({"messages": [{"role": "user", "content": "word " * 4000}]})
    assert doc.prompt_tokens == 5000
    assert chat.prompt_tokens < 5


def test_images_count_by_the_budget_rule() -> None:
    img = png(280, 140)
    expected = image_token_bound(280, 140)
    assert image_tokens(img) == expected
    assert image_tokens("data:image/png;base64," + img) == expected
    ollama = request_shape({"messages": [{"role": "user", "content": "", "images": [img]}]})
    openai = request_shape(
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "image_url", "image_url": {"url": "data:image/png;base64," + img}}
                    ],
                }
            ]
        }
    )
    anthropic = request_shape(
        {
            "messages": [
                {
                    "role": "user",
                    "content": [{"type": "image", "source": {"type": "base64", "data": img}}],
                }
            ]
        }
    )
    assert ollama.prompt_tokens == openai.prompt_tokens == anthropic.prompt_tokens == expected


def test_an_unreadable_image_counts_the_ceiling() -> None:
    assert image_tokens("not base64 at all!") == IMAGE_TOKENS_CEILING
    assert image_tokens(42) == IMAGE_TOKENS_CEILING
    assert output_cap({}) is None
