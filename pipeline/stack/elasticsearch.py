"""The local Elasticsearch node: security on, TLS on its HTTP layer, run as an
unprivileged user when root.

As root, Elasticsearch gets a folder of its own (``Layout.es_base``, 0700, owned by the
service user) holding a hard-linked copy of the distribution, its config (with the HTTP
certificate), data, logs and tmp; nothing of the invoking user's home is opened to it.
"""

from __future__ import annotations

import base64
import os
import pwd
import shutil
import ssl
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

from pipeline.core.settings import Settings
from pipeline.stack._layout import (
    Echo,
    Layout,
    StackError,
    ensure_password,
    private_dir,
    private_tree,
    render,
    server_tls,
    write_private,
)
from pipeline.stack._process import spawn, wait_until


def _service_user(lay: Layout) -> pwd.struct_passwd | None:
    """When root, the unprivileged user Elasticsearch runs as (created if missing)."""
    if os.geteuid() != 0:
        return None
    name = lay.settings.stack.service_user
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    cmd = ["useradd", "--system", "--no-create-home", "--home-dir", f"/var/lib/{name}",
           "--shell", "/usr/sbin/nologin", name]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise StackError(f"cannot create user {name!r} for Elasticsearch: {done.stderr.strip()}")
    return pwd.getpwnam(name)


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
               ES_TMPDIR=str(lay.es_tmp))
    if user is not None:
        env.update(HOME=str(lay.es_base), USER=user.pw_name, LOGNAME=user.pw_name)
    return env


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _open_to_others(path: Path) -> bool:
    """Whether every folder above ``path`` lets other users through (o+x)."""
    return all(parent.stat().st_mode & 0o001 for parent in path.resolve().parents)


def _prepare_elasticsearch(
    lay: Layout, java: Path, echo: Echo
) -> tuple[pwd.struct_passwd | None, Path]:
    """Its folder, distribution copy, config (yml, heap, HTTP certificate), keystore
    password and ownership; returns the service user and the JDK it can run (a JDK inside
    a private home, e.g. under /root, is linked into its folder)."""
    user = _service_user(lay)
    svc = lay.elasticsearch
    private_dir(lay.es_base)
    if user is not None and not _open_to_others(java):
        linked = lay.es_base / "jdk"
        if not (linked / "bin" / "java").exists():
            shutil.rmtree(linked, ignore_errors=True)
            shutil.copytree(java, linked, copy_function=_link_or_copy, symlinks=True)
        java = linked
    if user is not None and not (lay.es_run_home / "bin").is_dir():
        echo(f"Linking Elasticsearch into {lay.es_run_home} (its own folder, user "
             f"{user.pw_name}) ...")
        shutil.rmtree(lay.es_run_home, ignore_errors=True)
        shutil.copytree(lay.es_home, lay.es_run_home, copy_function=_link_or_copy,
                        symlinks=True)
    if user is not None:
        # Its folders were made under ``up``'s umask 077, as root: let the service user
        # through (es_base above them is its own, 0700).
        for folder, _dirs, _files in os.walk(lay.es_run_home):
            os.chmod(folder, 0o755)
    if not lay.es_config.is_dir():
        shutil.copytree(lay.es_home / "config", lay.es_config)
        private_tree(lay.es_config)
    for d in (lay.es_config, lay.es_data, lay.es_logs, lay.es_tmp, lay.es_config / "certs"):
        private_dir(d)
    render("elasticsearch.yml.template", lay.es_config / "elasticsearch.yml",
           host=svc.host, port=svc.port, transport_port=lay.settings.stack.es_transport_port,
           data_dir=lay.es_data, log_dir=lay.es_logs)
    heap = lay.settings.stack.es_heap
    write_private(lay.es_config / "jvm.options.d" / "newsflow-heap.options",
                  f"-Xms{heap}\n-Xmx{heap}\n".encode())
    tls = server_tls(lay, "elasticsearch", svc.host)
    # Elasticsearch reads only files inside its config folder.
    for source, name in ((tls.key, "http.key"), (tls.cert, "http.crt"),
                         (lay.settings.stack_ca_file, "ca.crt")):
        write_private(lay.es_config / "certs" / name, source.read_bytes())
    if user is not None:
        for d in (lay.es_config, lay.es_data, lay.es_logs, lay.es_tmp):
            _chown_tree(d, user)  # not the linked distribution: its files are the dist's
        os.chown(lay.es_base, user.pw_uid, user.pw_gid)
        _private_parent(lay.es_base.parent, user)
    _ensure_password(lay, java, user, echo)
    return user, java


def _private_parent(folder: Path, user: pwd.struct_passwd) -> None:
    """The service user's own folder above its stacks (/var/lib/<user>): 0700, its own."""
    if folder.parent == Path("/var/lib") and folder.name == user.pw_name:
        os.chown(folder, user.pw_uid, user.pw_gid)
        os.chmod(folder, 0o700)


def _ensure_password(lay: Layout, java: Path, user: pwd.struct_passwd | None, echo: Echo) -> None:
    """Generate the ``elastic`` password once (0600 file) and put it in the keystore as
    ``bootstrap.password``, which is the password until someone changes it via the API."""
    keystore = lay.es_config / "elasticsearch.keystore"
    if lay.password_file.exists() and keystore.exists():
        return
    if not lay.password_file.exists():
        echo(f"Generating the elastic password in {lay.password_file} (mode 0600)")
    password = ensure_password(lay.password_file)
    tool = [*_as_user(user), str(lay.es_run_home / "bin" / "elasticsearch-keystore")]
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

    req = urllib.request.Request(settings.es.url.rstrip("/") + "/_cluster/health")
    ca_file = settings.es_ca_file()
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    secret = settings.es_secret()
    if secret:
        token = base64.b64encode(f"{settings.es.user}:{secret}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=context) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, {}
    except (urllib.error.URLError, OSError):
        return 0, {}


def es_ready(settings: Settings) -> bool:
    status, body = _es_health(settings)
    return status == 200 and body.get("status") in ("green", "yellow")


def start_elasticsearch(lay: Layout, java: Path, echo: Echo) -> int:
    svc = lay.elasticsearch
    user, java = _prepare_elasticsearch(lay, java, echo)
    echo(f"Starting Elasticsearch {lay.versions.elasticsearch} (Java at {java}"
         f"{', as user ' + user.pw_name if user else ''}) ...")
    cmd = [*_as_user(user), str(lay.es_run_home / "bin" / "elasticsearch")]
    pid = spawn(cmd, log_file=svc.log_file, env=_es_env(lay, java, user), cwd=lay.es_base)
    svc.pid_file.write_text(str(pid))
    wait_until(lambda: es_ready(lay.settings), service=svc, pid=pid,
               timeout=lay.settings.stack.start_timeout)
    private_tree(lay.es_config)  # the keystore tool and the node write theirs 0660
    return pid
