"""A message that could not be processed, kept whole on ``news.deadletter``."""

from __future__ import annotations

import base64
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field

Stage = Literal["publish", "validate", "enrich", "index", "alert", "deliver"]


class DeadLetter(BaseModel):
    stage: Stage
    reason: str = Field(description="Short machine-readable cause, e.g. invalid_json.")
    error: str = Field(description="Human-readable detail, one line.")
    key: str | None = None
    payload_b64: str = Field(description="The original message bytes, base64.")
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    first_seen: AwareDatetime
    attempts: int = Field(default=1, ge=1)

    @staticmethod
    def encode(payload: bytes | None) -> str:
        return base64.b64encode(payload or b"").decode("ascii")

    def payload(self) -> bytes:
        return base64.b64decode(self.payload_b64)
