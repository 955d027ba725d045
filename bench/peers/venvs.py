"""Each peer's own virtual environment, made on first use: its framework pinned, and the inference
stack pinned to the service's versions (read from pyproject.toml), so both run the same
onnxruntime on the same numpy, Pillow and ISA-L.

A peer framework brings its own FastAPI, Starlette, uvicorn and friends, at versions the service's
environment does not have; a venv of its own keeps them from touching the project's. The venvs
live in bench/.venvs/ (git-ignored); one whose recorded requirements differ is made anew.
"""

import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

from bench.servers import REPO

VENVS = REPO / "bench" / ".venvs"
FRAMEWORKS = {"litserve": "litserve==0.2.19", "bentoml": "bentoml==1.4.40"}
# What the repository's `service` modules the peers import need (service/registry.py,
# service/settings.py, service/png.py), at the versions the service runs.
SHARED = ("onnxruntime", "numpy", "pillow", "isal", "pydantic", "pydantic-settings")
RECORD = "bench-requirements.txt"  # in the venv: what it was made with


def requirements(peer: str) -> list[str]:
    """The peer's framework and the service's pins of :data:`SHARED`."""
    pins = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    by_name = {pin.split("==")[0].split("[")[0].lower(): pin for pin in pins}
    return [FRAMEWORKS[peer], *(by_name[name] for name in SHARED)]


def _wanted(peer: str) -> str:
    return "\n".join(requirements(peer)) + "\n"


def made(peer: str) -> bool:
    """Whether ``peer``'s venv is there, made with today's requirements."""
    record = VENVS / peer / RECORD
    return record.is_file() and record.read_text() == _wanted(peer)


def python(peer: str, log: Callable[[str], None] = print) -> Path:
    """The interpreter of ``peer``'s venv, made first if missing or made with other pins."""
    folder = VENVS / peer
    interpreter, pip_log = folder / "bin" / "python", folder / "pip.log"
    if made(peer):
        return interpreter
    log(f"making {folder} ({', '.join(requirements(peer))}); this takes a minute or two once")
    shutil.rmtree(folder, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
    with pip_log.open("wb") as out:
        done = subprocess.run(
            [str(interpreter), "-m", "pip", "install", *requirements(peer)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    if done.returncode:
        raise RuntimeError(f"pip could not make the {peer} venv; see {pip_log}")
    (folder / RECORD).write_text(_wanted(peer))  # last: an interrupted install is made again
    return interpreter
