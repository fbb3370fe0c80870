"""What each command needs from the settings before it can start, checked without I/O.

A service whose settings cannot work should say so in one line, not crash-loop: the
compose test runs these checks on every service's resolved environment (the alert API
once had no key in compose and restarted forever), and ``newsflow api`` refuses the same
way at start.
"""

from __future__ import annotations

from pipeline.core.settings import Settings

# The commands of the compose services and what they talk to.
_NEEDS_KAFKA = frozenset({"setup", "worker", "api", "publish", "feeds", "status"})
_NEEDS_ES = frozenset({"setup", "worker", "api", "search", "status", "kibana"})


def problems(command: str, settings: Settings) -> list[str]:
    """One line per setting ``newsflow <command>`` needs and lacks; empty when it can run."""
    found: list[str] = []
    if command in _NEEDS_KAFKA:
        found += _kafka(settings)
    if command in _NEEDS_ES and settings.es_secret() is None:
        found.append(
            "no Elasticsearch password: set NEWSFLOW_ES_PASSWORD or NEWSFLOW_ES_PASSWORD_FILE"
        )
    if command == "api":
        from pipeline.alerts.api import ApiConfigError, load_api_keys

        try:
            if not load_api_keys(settings):
                found.append("no API key: set NEWSFLOW_API_KEYS or NEWSFLOW_API_KEY_FILE")
        except ApiConfigError as e:
            found.append(str(e))
    return found


def _kafka(settings: Settings) -> list[str]:
    kafka = settings.kafka
    found = []
    if kafka.security_protocol.startswith("SASL"):
        for name, value in [
            ("NEWSFLOW_KAFKA_SASL_MECHANISM", kafka.sasl_mechanism),
            ("NEWSFLOW_KAFKA_SASL_USERNAME", settings.kafka_user()),
            ("NEWSFLOW_KAFKA_SASL_PASSWORD or NEWSFLOW_KAFKA_SASL_PASSWORD_FILE",
             settings.kafka_secret()),
        ]:
            if not value:
                found.append(f"Kafka uses {kafka.security_protocol}: set {name}")
    return found
