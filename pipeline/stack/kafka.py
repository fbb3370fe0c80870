"""The local Kafka broker (KRaft, broker and controller in one JVM), secured.

Every listener speaks SASL_SSL: SCRAM-SHA-512 users (``admin`` and one principal per role,
see ``acls.py``) are created when the storage is formatted, with passwords generated on
first start into ``<home>/stack/credentials`` (0600 files in 0700 folders); the TLS
certificate comes from the stack's own CA.  The ACLs are granted once the broker is ready.
"""

from __future__ import annotations

import base64
import subprocess
import uuid
from pathlib import Path

from pipeline.core.settings import STACK_ADMIN, Settings
from pipeline.stack import acls
from pipeline.stack._layout import (
    DEPLOY_DIR,
    Echo,
    Layout,
    StackError,
    ensure_password,
    host_port,
    private_dir,
    render,
    server_tls,
    write_private,
)
from pipeline.stack._process import port_open, spawn, wait_until

_CONTROLLER = "controller"
_MARKER = "newsflow.secured"  # written next to meta.properties by a secured format


def _kafka_command(lay: Layout, java: Path, *args: str) -> list[str]:
    s = lay.settings
    return [str(java / "bin" / "java"), f"-Xms{s.stack.kafka_heap}", f"-Xmx{s.stack.kafka_heap}",
            f"-Dlog4j2.configurationFile={DEPLOY_DIR / 'log4j2.xml'}",
            "-cp", f"{lay.kafka_home / 'libs'}/*", *args]


def admin_settings(settings: Settings) -> Settings:
    """``settings`` logged in as the stack's super user, whatever principal they name."""
    return settings.replaced(kafka={
        "security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_username": STACK_ADMIN, "sasl_password": None, "sasl_password_file": None,
        "ssl_cafile": settings.stack_ca_file,
    })


def _prepare_kafka(lay: Layout, java: Path, echo: Echo) -> Path:
    """Credentials, certificate, server.properties, and the KRaft storage formatted once
    with the SCRAM users."""
    svc, settings = lay.kafka, lay.settings
    data = private_dir(lay.kafka_dir / "data")
    passwords = {user: ensure_password(settings.stack_kafka_password_file(user))
                 for user in (STACK_ADMIN, *acls.PRINCIPALS)}
    controller = ensure_password(lay.credentials / f"kafka-{_CONTROLLER}.password")
    tls = server_tls(lay, "kafka", svc.host)
    props = lay.kafka_dir / "server.properties"
    render("server.properties.template", props, host=svc.host, port=svc.port,
           controller_port=settings.stack.kafka_controller_port, data_dir=data,
           keystore=tls.keystore, ca_file=settings.stack_ca_file,
           admin_password=passwords[STACK_ADMIN], controller_password=controller)
    if (data / "meta.properties").exists():
        if not (data / _MARKER).exists():
            raise StackError(f"{data} was formatted by an unsecured stack (before TLS and "
                             f"SCRAM); remove {lay.stack} (local test data) and run "
                             "`newsflow stack up` again")
        return props
    echo("Formatting Kafka storage (KRaft) with the SCRAM users ...")
    cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
    args = ["kafka.tools.StorageTool", "format", "--cluster-id", cluster_id,
            "--config", str(props)]
    for user, password in passwords.items():
        args += ["--add-scram", f"SCRAM-SHA-512=[name={user},password={password}]"]
    # The passwords go through a 0600 argument file, not the command line (``ps``).
    argfile = lay.kafka_dir / "format.args"
    write_private(argfile, "\n".join(f'"{a}"' for a in args).encode())
    try:
        done = subprocess.run([*_kafka_command(lay, java), f"@{argfile}"],
                              capture_output=True, text=True)
    finally:
        argfile.unlink(missing_ok=True)
    if done.returncode != 0:
        last = (done.stderr or done.stdout).strip().splitlines()[-1:]
        raise StackError(f"kafka storage format failed: {' '.join(last)}")
    write_private(data / _MARKER, b"SASL_SSL, SCRAM-SHA-512, StandardAuthorizer\n")
    return props


def kafka_ready(settings: Settings) -> bool:
    """A real metadata round trip as the stack's admin, not just an open port: the broker
    has joined the quorum and accepts our TLS and SCRAM login."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    from pipeline.core.kafka_client import client_kwargs

    if not port_open(*host_port(settings.kafka.bootstrap.split(",")[0])):
        return False  # kafka-python would retry for its full timeout
    try:
        admin = KafkaAdminClient(**client_kwargs(admin_settings(settings)),
                                 request_timeout_ms=3000)
    except (KafkaError, OSError, ValueError, AssertionError):
        return False
    try:
        admin.list_topics()
        return True
    except (KafkaError, OSError):
        return False
    finally:
        admin.close()


def start_kafka(lay: Layout, java: Path, echo: Echo) -> int:
    svc = lay.kafka
    props = _prepare_kafka(lay, java, echo)
    echo(f"Starting Kafka {lay.versions.kafka} (SASL_SSL, SCRAM-SHA-512, ACLs) ...")
    pid = spawn(_kafka_command(lay, java, "kafka.Kafka", str(props)), log_file=svc.log_file)
    svc.pid_file.write_text(str(pid))
    wait_until(lambda: kafka_ready(lay.settings), service=svc, pid=pid,
               timeout=lay.settings.stack.start_timeout)
    acls.grant(admin_settings(lay.settings), acls.grants(lay.settings))
    return pid
