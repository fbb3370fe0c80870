"""Alert rules (``news.alert-rules``, compacted) and the alerts they fire (``news.alerts``)."""

from __future__ import annotations

import hashlib
from typing import Annotated, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    HttpUrl,
    SecretStr,
    SerializationInfo,
    field_serializer,
)

RuleId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_\-]{0,63}$")]


class WebhookChannel(BaseModel):
    """JSON POST signed with HMAC-SHA256 over the body when ``secret`` is set.

    The secret is masked in every dump except with ``context={"reveal_secrets": True}``,
    which only the rules topic writer uses: listings and logs never show it.
    """

    kind: Literal["webhook"] = "webhook"
    url: HttpUrl
    secret: SecretStr | None = None

    @field_serializer("secret")
    def _secret(self, value: SecretStr | None, info: SerializationInfo) -> str | None:
        if value is None:
            return None
        if (info.context or {}).get("reveal_secrets"):
            return value.get_secret_value()
        return str(value)


class SlackChannel(BaseModel):
    """A Slack-compatible incoming webhook."""

    kind: Literal["slack"] = "slack"
    url: HttpUrl


class EmailChannel(BaseModel):
    kind: Literal["email"] = "email"
    to: list[EmailStr] = Field(min_length=1)


DeliveryMode = Literal["instant", "hourly", "daily"]
Channel = Annotated[WebhookChannel | SlackChannel | EmailChannel, Field(discriminator="kind")]


class AlertRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: RuleId
    name: str = Field(min_length=1, max_length=200)
    query: str = Field(
        min_length=1, max_length=4_000, description="The query, as typed in Kibana's search bar."
    )
    language: Literal["lucene", "kql"] = Field(
        default="lucene",
        description="Query language of ``query``: Lucene query string, or Kibana Query Language.",
    )
    enabled: bool = True
    disabled_reason: str | None = Field(
        default=None,
        max_length=500,
        description="Why the pipeline switched the rule off (e.g. it ran past its time "
        "budget on an article); cleared when the rule is enabled or replaced.",
    )
    channels: list[Channel] = Field(default_factory=list)
    mode: DeliveryMode = "instant"
    throttle_seconds: int = Field(default=0, ge=0, description="Minimum gap between messages.")
    created_at: AwareDatetime
    updated_at: AwareDatetime


class Alert(BaseModel):
    """One rule matched one story. ``id`` is deterministic, so replays cannot fire twice."""

    model_config = ConfigDict(extra="forbid")

    id: str
    rule_id: RuleId
    rule_name: str
    query: str
    story_id: str
    article_id: str
    title: str | None = None
    url: HttpUrl | None = None
    source: str | None = None
    published_at: AwareDatetime
    matched_at: AwareDatetime
    tags: list[str] = Field(default_factory=list)

    @staticmethod
    def make_id(rule_id: str, story_id: str) -> str:
        return hashlib.sha256(f"{rule_id}\x00{story_id}".encode()).hexdigest()[:32]
