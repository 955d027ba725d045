"""The container engine and the images the container check needs, where no registry is reachable.

Each image is a Debian root filesystem built by ``mmdebstrap`` from the host's apt sources and
``podman import``-ed under the very name ``docker/Dockerfile`` and ``docker/compose.yaml`` give it,
so that those files build and run unchanged, as users' do. The Python base is Debian bookworm's
Python 3.11 (the upstream image's Debian and Python). nginx and Prometheus are stand-ins:
Debian's packages under the upstream images' names, entrypoints and paths (nginx from Debian
testing, the first Debian nginx that accepts ``server ... resolve``).
"""

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "docker"
HERE = Path(__file__).resolve().parent
HOST_SOURCES = next(
    (p for p in (Path("/etc/apt/sources.list.d/debian.sources"), Path("/etc/apt/sources.list"))
     if p.is_file()), None,
)  # fmt: skip
TESTING = "deb http://deb.debian.org/debian testing main"
HOST_CAS = Path("/usr/local/share/ca-certificates")
# The host's pip settings a build can use as they are: local wheels and indexes, the constraints.
PIP_KEYS = ("find-links", "index-url", "extra-index-url", "constraint")


class Podman:
    """podman with this check's own configuration (``CONTAINERS_CONF``; the host's is untouched):
    runc, since crun refuses this kind of machine's cgroup layout, and default ulimits within
    the sandbox's hard limits."""

    def __init__(self, folder: Path):
        nofile = subprocess.run(["sh", "-c", "ulimit -Hn"], capture_output=True, text=True)
        limit = nofile.stdout.strip() if nofile.stdout.strip().isdigit() else "65536"
        config = folder / "containers.conf"
        config.write_text(
            "[containers]\n"
            f'default_ulimits = ["nofile={limit}:{limit}", "nproc=32768:32768"]\n'
            '[engine]\nruntime = "runc"\n'
        )
        self.env = {**os.environ, "CONTAINERS_CONF": str(config)}

    def __call__(self, *args: str, check: bool = True, timeout: float = 600) -> str:
        done = subprocess.run(["podman", *args], env=self.env, capture_output=True, text=True,
                              timeout=timeout)  # fmt: skip
        if check and done.returncode != 0:
            raise RuntimeError(f"podman {' '.join(args)}: {done.stderr.strip()[-2000:]}")
        return done.stdout.strip()

    def ok(self, *args: str) -> bool:
        """Whether ``podman args`` succeeds (``image exists``, ``healthcheck run``)."""
        done = subprocess.run(["podman", *args], env=self.env, capture_output=True, timeout=60)
        return done.returncode == 0


@dataclass(frozen=True)
class Image:
    """A local image: which Debian suite and packages, what to change in the root filesystem
    (``mmdebstrap`` customize hooks), and the image settings (``podman import --change``)."""

    name: str
    suite: str
    packages: tuple[str, ...]
    hooks: tuple[str, ...]
    changes: tuple[str, ...]


def dockerfile_base() -> str:
    """The Python base image the Dockerfile names by default (``ARG PYTHON_IMAGE=...``)."""
    found = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", (DOCKER / "Dockerfile").read_text(), re.M)
    assert found, "docker/Dockerfile has no default PYTHON_IMAGE"
    return found.group(1)


def compose_image(service: str) -> str:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())["services"][service]["image"]


def images() -> list[Image]:
    cas = f'cp {HOST_CAS}/*.crt "$1{HOST_CAS}/" 2>/dev/null || true'
    return [
        Image(dockerfile_base(), "bookworm",
              ("python3", "python3-venv", "python3-pip", "python-is-python3", "ca-certificates"),
              # The host's own CAs too: where egress is TLS-intercepted, pip needs them.
              (cas, 'chroot "$1" update-ca-certificates'),
              ('CMD ["python3"]',)),
        Image(compose_image("nginx"), "testing", ("nginx-light", "gettext-base"),
              (f'copy-in {HERE / "nginx-entrypoint.sh"} /usr/local/bin',
               'rm -f "$1/etc/nginx/sites-enabled/default"',
               'mkdir -p "$1/etc/nginx/templates" "$1/var/cache/nginx"',
               'ln -sf /dev/stdout "$1/var/log/nginx/access.log"',
               'ln -sf /dev/stderr "$1/var/log/nginx/error.log"'),
              ('ENTRYPOINT ["/usr/local/bin/nginx-entrypoint.sh"]',
               'CMD ["nginx", "-g", "daemon off;"]', "EXPOSE 80")),
        Image(compose_image("prometheus"), "bookworm", ("prometheus",),
              ('mkdir -p "$1/prometheus"',),
              ('ENTRYPOINT ["/usr/bin/prometheus"]',
               'CMD ["--config.file=/etc/prometheus/prometheus.yml", '
               '"--storage.tsdb.path=/prometheus"]', "EXPOSE 9090")),
    ]  # fmt: skip


def make(image: Image, podman: Podman, folder: Path) -> None:
    """Build and import ``image`` unless it is there already (``localhost/<name>``)."""
    local = f"localhost/{image.name}"
    if podman.ok("image", "exists", local):
        return
    tarball = folder / (re.sub(r"[^\w.-]", "_", image.name) + ".tar")
    source = TESTING if image.suite == "testing" else str(HOST_SOURCES)
    command = [
        "mmdebstrap", "--quiet", "--variant=apt", f"--include={','.join(image.packages)}",
        # A mirror snapshot may be older than the clock: do not call its Release file expired.
        '--aptopt=Acquire::Check-Valid-Until "false"',
        *(f"--customize-hook={hook}" for hook in image.hooks),
        '--customize-hook=rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*',
        image.suite, str(tarball), source,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"mmdebstrap for {image.name}: {done.stderr.strip()[-2000:]}")
    podman("import", *(f"--change={change}" for change in image.changes), str(tarball), local)
    tarball.unlink()


def pip_mirror(folder: Path) -> list[str]:
    """``podman build`` flags that give pip inside the build the host's own package sources.

    Where the host installs from local wheels and ``file://`` indexes (as this kind of machine
    does: its CPU torch wheel lies on disk, and download.pytorch.org cannot be reached), the
    training image's pip would otherwise retry an unreachable index for every package and fetch
    torch again. The host's ``pip config`` becomes the build's ``/etc/pip.conf``, every local
    path it names is mounted read-only, and the Dockerfile's torch index is turned off.
    """
    listed = subprocess.run([sys.executable, "-m", "pip", "config", "list"],
                            capture_output=True, text=True).stdout  # fmt: skip
    settings: dict[str, str] = {}
    for line in listed.splitlines():
        found = re.fullmatch(r"[^.]*\.([\w-]+)='(.*)'", line.strip())
        if found and found.group(1) in PIP_KEYS:
            settings[found.group(1)] = found.group(2)
    if not settings:
        return []
    mounts = set()
    for value in settings.values():
        for item in value.split():
            path = Path(item.removeprefix("file://"))
            if item.startswith("file://"):
                path = path.parent  # an index's pages link to ../files beside it
            if path.is_absolute() and path.exists():
                mounts.add(path)
    config = folder / "pip.conf"
    config.write_text("[global]\n" + "".join(f"{k} = {v}\n" for k, v in settings.items()))
    return ["--build-arg=TORCH_INDEX=", f"--volume={config}:/etc/pip.conf:ro",
            *(f"--volume={path}:{path}:ro" for path in sorted(mounts))]  # fmt: skip


def missing_tools() -> list[str]:
    """The programs the check needs that this machine lacks."""
    return [tool for tool in ("podman", "mmdebstrap", "runc") if shutil.which(tool) is None]
