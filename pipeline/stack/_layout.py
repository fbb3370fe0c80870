"""Where the local stack keeps things: paths, pinned versions, one managed service.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from string import Template
from urllib.parse import urlsplit

from pipeline.core.errors import NewsflowError
from pipeline.core.settings import Settings

DEPLOY_DIR = Path(__file__).resolve().parents[2] / "deploy" / "local"
TEMURIN_25 = Path("/usr/lib/jvm/temurin-25-jdk-amd64")
ES_MIN_JAVA = 21

Echo = Callable[[str], None]


class StackError(NewsflowError, RuntimeError):
    """A failure the user can act on; the message is one line, meant to be printed as is."""


@dataclass(frozen=True)
class Versions:
    kafka: str
    elasticsearch: str


@dataclass(frozen=True)
class Service:
    """One managed process: where its pid and log go, what its command line must contain."""

    name: str
    pid_file: Path
    log_file: Path
    cmdline_marker: str
    host: str
    port: int


@dataclass(frozen=True)
class Layout:
    """Every path the stack uses, derived from ``Settings.home`` and the pinned versions."""

    settings: Settings
    versions: Versions

    @property
    def dist(self) -> Path:
        return self.settings.home / "dist"

    @property
    def stack(self) -> Path:
        return self.settings.stack_dir

    @property
    def logs(self) -> Path:
        return self.stack / "logs"

    @property
    def kafka_home(self) -> Path:
        return self.dist / f"kafka-{self.versions.kafka}"

    @property
    def es_home(self) -> Path:
        return self.dist / f"elasticsearch-{self.versions.elasticsearch}"

    @property
    def kafka_dir(self) -> Path:
        return self.stack / "kafka"

    @property
    def es_config(self) -> Path:
        return self.stack / "es-config"

    @property
    def es_data(self) -> Path:
        return self.stack / "es-data"

    @property
    def es_logs(self) -> Path:
        return self.logs / "elasticsearch"

    @property
    def password_file(self) -> Path:
        return self.settings.es.password_file or self.stack / "elastic.password"

    @property
    def kafka(self) -> Service:
        host, port = host_port(self.settings.kafka.bootstrap.split(",")[0])
        return Service("kafka", self.stack / "kafka.pid", self.logs / "kafka.log",
                       "kafka.Kafka", host, port)

    @property
    def elasticsearch(self) -> Service:
        url = urlsplit(self.settings.es.url)
        return Service("elasticsearch", self.stack / "elasticsearch.pid",
                       self.logs / "elasticsearch.log", "elasticsearch",
                       url.hostname or "127.0.0.1", url.port or 9200)


def host_port(address: str) -> tuple[str, int]:
    host, _, port = address.strip().rpartition(":")
    return host or "127.0.0.1", int(port)


def _pinned_versions(pom: Path = DEPLOY_DIR / "pom.xml") -> Versions:
    """Read the versions from the pom so that they are written down exactly once."""
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    props = ET.parse(pom).getroot().find("m:properties", ns)
    if props is None:
        raise StackError(f"{pom} has no <properties>")

    def prop(name: str) -> str:
        value = props.findtext(f"m:{name}", namespaces=ns)
        if not value:
            raise StackError(f"{pom} lacks <{name}>")
        return value.strip()

    return Versions(kafka=prop("kafka.version"), elasticsearch=prop("es.version"))


def layout_for(settings: Settings) -> Layout:
    return Layout(settings, _pinned_versions())

def render(template: str, target: Path, **values: object) -> None:
    text = Template((DEPLOY_DIR / template).read_text()).substitute(
        {k: str(v) for k, v in values.items()})
    target.write_text(text)
