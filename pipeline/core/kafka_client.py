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
    client defaults.  User, password and CA are resolved by ``Settings`` (the local stack's
    when nothing else is configured).
    """
    kwargs: dict[str, Any] = {
        "bootstrap_servers": [s.strip() for s in settings.kafka.bootstrap.split(",") if s.strip()],
        "security_protocol": settings.kafka.security_protocol,
    }
    if settings.kafka.security_protocol.startswith("SASL") and settings.kafka.sasl_mechanism:
        kwargs["sasl_mechanism"] = settings.kafka.sasl_mechanism
        user, secret = settings.kafka_user(), settings.kafka_secret()
        if user is not None:
            kwargs["sasl_plain_username"] = user
        if secret is not None:
            kwargs["sasl_plain_password"] = secret
    cafile = settings.kafka_ca_file()
    if cafile is not None and settings.kafka.security_protocol.endswith("SSL"):
        kwargs["ssl_cafile"] = str(cafile)
    return kwargs
