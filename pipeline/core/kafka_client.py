"""Connection settings for every kafka-python client in the project, in one place.

Producer, consumer and admin client take the same connection keywords; building them here
keeps TLS and SASL working everywhere once they work somewhere.  (Faust's aiokafka has its
own names for these and is configured in ``agents/``.)
"""

from __future__ import annotations

from typing import Any

from pipeline.core.settings import Settings


def client_kwargs(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for ``KafkaProducer``, ``KafkaConsumer`` and ``KafkaAdminClient``.

    SASL and CA options appear only when set, so a PLAINTEXT broker gets exactly the
    client defaults.
    """
    kwargs: dict[str, Any] = {
        "bootstrap_servers": [s.strip() for s in settings.kafka.bootstrap.split(",") if s.strip()],
        "security_protocol": settings.kafka.security_protocol,
    }
    if settings.kafka.sasl_mechanism:
        kwargs["sasl_mechanism"] = settings.kafka.sasl_mechanism
        if settings.kafka.sasl_username is not None:
            kwargs["sasl_plain_username"] = settings.kafka.sasl_username
        if settings.kafka.sasl_password is not None:
            kwargs["sasl_plain_password"] = settings.kafka.sasl_password.get_secret_value()
    if settings.kafka.ssl_cafile is not None:
        kwargs["ssl_cafile"] = str(settings.kafka.ssl_cafile)
    return kwargs
