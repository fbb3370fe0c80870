"""The local Kafka broker (KRaft, broker and controller in one JVM).
"""

from __future__ import annotations

import base64
import subprocess
import uuid
from pathlib import Path

from pipeline.stack._layout import DEPLOY_DIR, Echo, Layout, StackError, host_port, render
from pipeline.stack._process import port_open, spawn, wait_until


def _kafka_command(lay: Layout, java: Path, *args: str) -> list[str]:
    s = lay.settings
    return [str(java / "bin" / "java"), f"-Xms{s.stack.kafka_heap}", f"-Xmx{s.stack.kafka_heap}",
            f"-Dlog4j2.configurationFile={DEPLOY_DIR / 'log4j2.xml'}",
            "-cp", f"{lay.kafka_home / 'libs'}/*", *args]


def _prepare_kafka(lay: Layout, java: Path, echo: Echo) -> Path:
    """Render server.properties and format the KRaft storage once (``--standalone``)."""
    svc = lay.kafka
    data = lay.kafka_dir / "data"
    data.mkdir(parents=True, exist_ok=True)
    props = lay.kafka_dir / "server.properties"
    render("server.properties.template", props, host=svc.host, port=svc.port,
            controller_port=lay.settings.stack.kafka_controller_port, data_dir=data)
    if not (data / "meta.properties").exists():
        echo("Formatting Kafka storage (KRaft, standalone controller) ...")
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        cmd = _kafka_command(lay, java, "kafka.tools.StorageTool", "format", "--standalone",
                            "--cluster-id", cluster_id, "--config", str(props))
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            last = (done.stderr or done.stdout).strip().splitlines()[-1:]
            raise StackError(f"kafka storage format failed: {' '.join(last)}")
    return props


def kafka_ready(bootstrap: str) -> bool:
    """A real metadata round trip, not just an open port: the broker has joined the quorum."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    if not port_open(*host_port(bootstrap)):
        return False  # kafka-python would retry for its full timeout
    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
    except (KafkaError, OSError, ValueError):
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
    echo(f"Starting Kafka {lay.versions.kafka} ...")
    pid = spawn(_kafka_command(lay, java, "kafka.Kafka", str(props)), log_file=svc.log_file)
    svc.pid_file.write_text(str(pid))
    bootstrap = f"{svc.host}:{svc.port}"
    wait_until(lambda: kafka_ready(bootstrap), service=svc, pid=pid,
               timeout=lay.settings.stack.start_timeout)
    return pid
