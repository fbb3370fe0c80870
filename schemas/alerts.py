"""Alert rules (``news.alert-rules``, compacted) and the alerts they fire (``news.alerts``)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    HttpUrl,
    SecretStr,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    field_serializer,
    field_validator,
    model_serializer,
    model_validator,
)

RuleId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_\-]{0,63}$")]

MIN_SECRET_BYTES = 32
# What a masked secret looks like (``str(SecretStr(...))``): a client that read a rule and
# sends it back unchanged sends this, and the stored secret is kept.
MASK = str(SecretStr("x"))


def webhook_key(secret: str) -> bytes:
    """The HMAC key of a webhook secret, as Standard Webhooks reads it.

    ``whsec_<base64>`` (the form newsflow generates, and Standard Webhooks libraries
    expect) is the base64-decoded bytes; any other string is its UTF-8 bytes.
    """
    if secret.startswith("whsec_"):
        try:
            return base64.b64decode(secret.removeprefix("whsec_"), validate=True)
        except binascii.Error as e:
            raise ValueError("a whsec_ secret must be base64 after the prefix") from e
    return secret.encode()


def mask_url(url: HttpUrl, *, hide_path: bool = False) -> str:
    """``url`` as it may be shown: user and password, query and (``hide_path``) path masked.

    A Slack webhook's path is its credential; other URLs carry tokens in the query or a
    password before the host.  Scheme, host and port stay, so people see where it goes.
    """
    default_port = {"http": 80, "https": 443}.get(url.scheme)
    host = url.host or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{url.port}" if url.port and url.port != default_port else ""
    user = "***@" if url.username or url.password else ""
    path = url.path or "/"
    if hide_path and path != "/":
        path = "/***"
    query = "?***" if url.query else ""
    return f"{url.scheme}://{user}{host}{port}{path}{query}"


class _HttpChannel(BaseModel):
    """A channel with a URL that may be a credential; subclasses add their own secrets.

    Dumps mask the URL (and subclasses mask their secrets) unless the serialisation
    context says ``reveal_secrets``.  With a ``secret_box`` in the context (an object with
    ``seal(str) -> str`` and ``open(str) -> str``, see ``pipeline.core.secretbox``), a dump
    adds ``sealed``: the clear URL and secrets, encrypted; validating such a dump with
    the same box in the context restores them.  That is the rules topic's format: the
    masked fields stay readable, the secrets are not.
    """

    _hide_path: ClassVar[bool] = False

    url: HttpUrl = Field(repr=False)

    def secret_values(self) -> dict[str, Any]:
        """What ``sealed`` holds: the clear URL (subclasses add their secrets)."""
        return {"url": str(self.url)}

    @model_validator(mode="before")
    @classmethod
    def _open_sealed(cls, data: Any, info: ValidationInfo) -> Any:
        if not isinstance(data, dict) or "sealed" not in data:
            return data
        box = (info.context or {}).get("secret_box")
        if box is None:
            raise ValueError("sealed channel: read it through the rules store, with the key")
        data = dict(data)
        try:
            clear = json.loads(box.open(data.pop("sealed")))
        except Exception as e:  # the box's own error, whatever its class
            raise ValueError(f"sealed channel does not open: {e}") from e
        return {**data, **clear}

    @model_serializer(mode="wrap")
    def _mask(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> Any:
        data = handler(self)
        context = info.context or {}
        if not isinstance(data, dict) or context.get("reveal_secrets"):
            return data
        data["url"] = mask_url(self.url, hide_path=self._hide_path)
        box = context.get("secret_box")
        if box is not None:
            data["sealed"] = box.seal(json.dumps(self.secret_values()))
        return data

    def __repr_args__(self) -> Any:
        yield from super().__repr_args__()
        yield "url", mask_url(self.url, hide_path=self._hide_path)


class WebhookChannel(_HttpChannel):
    """JSON POST signed per Standard Webhooks with every secret in ``secrets``.

    Several secrets are all active at once, for rotation: add the new one, move the
    receiver over, then drop the old one.  Each holds at least 32 bytes of key.  Secrets
    are masked in every dump except with ``context={"reveal_secrets": True}``.
    """

    kind: Literal["webhook"] = "webhook"
    secrets: list[SecretStr] = Field(default_factory=list, max_length=5)

    def secret_values(self) -> dict[str, Any]:
        return {**super().secret_values(), "secrets": [s.get_secret_value() for s in self.secrets]}

    @model_validator(mode="before")
    @classmethod
    def _one_secret(cls, data: Any) -> Any:
        """``"secret": "…"`` (one secret, the older shape) is ``"secrets": ["…"]``."""
        if isinstance(data, dict) and "secret" in data:
            data = dict(data)
            secret = data.pop("secret")
            if secret is not None:
                data.setdefault("secrets", [secret])
        return data

    @field_validator("secrets")
    @classmethod
    def _long_enough(cls, values: list[SecretStr]) -> list[SecretStr]:
        for value in values:
            secret = value.get_secret_value()
            if secret == MASK:
                continue  # sent back masked: the store keeps the stored one
            if len(webhook_key(secret)) < MIN_SECRET_BYTES:
                raise ValueError(
                    f"a webhook secret needs at least {MIN_SECRET_BYTES} bytes of key; "
                    "leave it out and one is generated"
                )
        return values

    @field_serializer("secrets")
    def _secrets(self, values: list[SecretStr], info: SerializationInfo) -> list[str]:
        if (info.context or {}).get("reveal_secrets"):
            return [value.get_secret_value() for value in values]
        return [str(value) for value in values]


class SlackChannel(_HttpChannel):
    """A Slack-compatible incoming webhook; its URL is the credential, shown masked."""

    _hide_path: ClassVar[bool] = True

    kind: Literal["slack"] = "slack"


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
