"""Contracts on the wire and in the index. Depends on pydantic only."""

from schemas.alerts import Alert, AlertRule, EmailChannel, SlackChannel, WebhookChannel
from schemas.articles import (
    EnrichedArticle,
    Entity,
    Evidence,
    GeoPoint,
    Mention,
    Place,
    RawArticle,
    TopicTag,
)
from schemas.deadletter import DeadLetter

__all__ = [
    "Alert",
    "AlertRule",
    "DeadLetter",
    "EmailChannel",
    "EnrichedArticle",
    "Entity",
    "Evidence",
    "GeoPoint",
    "Mention",
    "Place",
    "RawArticle",
    "SlackChannel",
    "TopicTag",
    "WebhookChannel",
]
