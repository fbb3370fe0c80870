"""Where the local stack keeps things: paths, pinned versions, one managed service.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from string import Template
from urllib.parse import urlsplit

from pipeline.core.errors import NewsflowError
from pipeline.core.settings import Settings
from pipeline.stack.tls import ServerFiles, ensure_ca, ensure_server_cert

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
    def credentials(self) -> Path:
        return self.stack / "credentials"

    @property
    def tls(self) -> Path:
        return self.stack / "tls"

    @property
    def as_service_user(self) -> bool:
        """Elasticsearch refuses to run as root: then it runs as ``stack.service_user``."""
        return os.geteuid() == 0

    @property
    def es_base(self) -> Path:
        """Everything Elasticsearch itself reads or writes.  As a service user: a folder of
        its own (no folder of the invoking user, e.g. /root, is opened to it)."""
        if not self.as_service_user:
            return self.stack / "elasticsearch"
        if self.settings.stack.service_dir is not None:
            return self.settings.stack.service_dir
        digest = hashlib.sha256(str(self.settings.home.resolve()).encode()).hexdigest()[:12]
        return Path("/var/lib") / self.settings.stack.service_user / digest

    @property
    def es_run_home(self) -> Path:
        """The distribution Elasticsearch runs from: as a service user its own linked copy."""
        if not self.as_service_user:
            return self.es_home
        return self.es_base / self.es_home.name

    @property
    def es_config(self) -> Path:
        return self.es_base / "config"

    @property
    def es_data(self) -> Path:
        return self.es_base / "data"

    @property
    def es_logs(self) -> Path:
        return self.es_base / "logs"

    @property
    def es_tmp(self) -> Path:
        return self.es_base / "tmp"

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

def server_tls(lay: Layout, name: str, host: str) -> ServerFiles:
    """The stack's CA (made on first start) and a certificate for ``name`` on ``host``."""
    private_dir(lay.tls)
    ca = ensure_ca(lay.settings.stack_ca_file.parent)
    os.chmod(ca[0], 0o600)  # public, but nothing in the stack is for other users
    hosts = list(dict.fromkeys([host, "127.0.0.1", "localhost"]))
    return ensure_server_cert(lay.tls / name, name, hosts, ca=ca)


def render(template: str, target: Path, **values: object) -> None:
    text = Template((DEPLOY_DIR / template).read_text()).substitute(
        {k: str(v) for k, v in values.items()})
    write_private(target, text.encode())


def private_dir(folder: Path) -> Path:
    """``folder`` (and missing parents) with mode 0700."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    return folder


def private_tree(top: Path) -> None:
    """Take group and other permissions off everything under ``top`` (folders 0700)."""
    for root, _dirs, files in os.walk(top):
        os.chmod(root, 0o700)
        for name in files:
            path = os.path.join(root, name)
            if not os.path.islink(path):
                os.chmod(path, os.stat(path).st_mode & 0o700)


def write_private(path: Path, data: bytes) -> None:
    """Write ``path`` readable by its owner only (0600), never through a symlink."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(path, 0o600)


def ensure_password(path: Path) -> str:
    """The password in ``path``, generated (URL-safe, 32 characters, 0600) if missing.

    The alphabet needs no quoting in JAAS or SCRAM syntax."""
    try:
        password = path.read_text().strip()
    except FileNotFoundError:
        password = ""
    if not password:
        private_dir(path.parent)
        password = secrets.token_urlsafe(24)
        write_private(path, (password + "\n").encode())
    return password
