"""A model for the OpenAI Agents SDK that answers from a queue (no network): the SDK's own tests
use one like it (`tests/fake_model.py`, not shipped in its wheel)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from agents.items import ModelResponse, TResponseInputItem, TResponseOutputItem
from agents.models.interface import Model
from agents.usage import Usage
from openai.types.responses import (
    ResponseFunctionToolCall,
    ResponseOutputMessage,
    ResponseOutputText,
)


def text_message(text: str) -> ResponseOutputMessage:
    return ResponseOutputMessage(
        id=f"msg-{abs(hash(text))}", type="message", role="assistant", status="completed",
        content=[ResponseOutputText(type="output_text", text=text, annotations=[])])


def function_call(name: str, arguments: str, call_id: str) -> ResponseFunctionToolCall:
    return ResponseFunctionToolCall(id=f"fc-{call_id}", call_id=call_id, type="function_call",
                                    name=name, arguments=arguments)


class FakeModel(Model):
    def __init__(self) -> None:
        self.turns: list[list[TResponseOutputItem]] = []
        self.last_turn_args: dict[str, Any] = {}

    def add_turns(self, *turns: list[TResponseOutputItem]) -> None:
        self.turns.extend(turns)

    async def get_response(self, system_instructions: str | None,
                           input: str | list[TResponseInputItem], *args: Any,
                           **kwargs: Any) -> ModelResponse:
        self.last_turn_args = {"system_instructions": system_instructions, "input": input}
        return ModelResponse(output=self.turns.pop(0), usage=Usage(), response_id=None)

    def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        raise NotImplementedError("these tests run Runner.run")
