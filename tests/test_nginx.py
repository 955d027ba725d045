"""docker/nginx.conf run by a real nginx in front of a real `python -m service`: image answers
come from its cache (a 304 there too), other requests pass through, one X-Request-ID each.

The compose stack resolves its replicas by DNS (`server genseq:8000 resolve`, which Debian 12's
nginx 1.22 does not know); here the upstream is the one local server, everything else as shipped.
"""

import os
import re
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn
from live_server import fetch, free_port, serving, statuses_under_load

from service.__main__ import server_options
from service.settings import Settings

DOCKER = Path(__file__).resolve().parent.parent / "docker"
NGINX_CONF = DOCKER / "nginx.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

pytestmark = pytest.mark.skipif(
    not Path(NGINX).is_file(), reason="nginx is not installed (make test installs it as root)"
)


def local_config(upstreams: list[str], port: int, folder: Path) -> Path:
    """The shipped config with fixed upstreams, a local port, and its files under ``folder``."""
    conf = NGINX_CONF.read_text()
    conf = re.sub(r"^resolver .*$", "", conf, flags=re.M)
    servers = "\n    ".join(f"server {upstream};" for upstream in upstreams)
    conf = re.sub(r"server genseq:8000 resolve;", servers, conf)
    conf = conf.replace("listen 80;", f"listen 127.0.0.1:{port};")
    conf = conf.replace("/var/cache/nginx/genseq", str(folder / "cache"))
    conf = conf.replace("/var/log/nginx/access.log", str(folder / "access.log"))
    (folder / "default.conf").write_text(conf)
    main = folder / "nginx.conf"
    user = "user root;\n" if os.geteuid() == 0 else ""  # its workers can reach the test's folder
    main.write_text(
        f"{user}daemon off;\npid {folder}/nginx.pid;\nerror_log {folder}/error.log;\n"
        f"events {{}}\nhttp {{ client_body_temp_path {folder}/body; "
        f"proxy_temp_path {folder}/proxy; include {folder}/default.conf; }}\n"
    )
    return main


def get(url: str, **headers: str) -> tuple[int, dict[str, list[str]], bytes]:
    """Status, every header (lower-case name: all its values), body; a 304 is not an error."""
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, message, body = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, message, body = error.code, error.headers, error.read()
    found: dict[str, list[str]] = {}
    for name, value in message.items():
        found.setdefault(name.lower(), []).append(value)
    return status, found, body


@contextmanager
def nginx_before(upstreams: list[str], folder: Path) -> Iterator[str]:
    """A real nginx with the shipped config in front of ``upstreams``: its base URL."""
    port = free_port()
    config = local_config(upstreams, port, folder)
    check = subprocess.run([NGINX, "-t", "-c", config], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    nginx = subprocess.Popen([NGINX, "-c", config], stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(50):
            try:
                get(f"{url}/health")
                break
            except OSError:  # not listening yet
                time.sleep(0.1)
        yield url
    finally:
        nginx.terminate()
        nginx.wait(timeout=10)


@pytest.fixture(scope="module")
def proxy(tmp_path_factory):
    folder = tmp_path_factory.mktemp("nginx")
    with serving(folder / "service.log") as (base, _), nginx_before([base[7:]], folder) as url:
        yield url, folder


def test_a_repeated_image_request_is_answered_by_the_cache(proxy):
    url, _ = proxy
    status, first, body = get(f"{url}/sample?n=4&seed=11")
    assert status == 200 and first["x-cache-status"] == ["MISS"]
    status, again, same = get(f"{url}/sample?n=4&seed=11")
    assert status == 200 and again["x-cache-status"] == ["HIT"] and same == body
    assert again["etag"] == first["etag"]
    status, held, empty = get(f"{url}/sample?n=4&seed=11", **{"If-None-Match": first["etag"][0]})
    assert status == 304 and empty == b"" and held["x-cache-status"] == ["HIT"]


def test_every_answer_has_one_request_id_and_keeps_the_clients(proxy):
    url, folder = proxy
    for path in ("/health", "/render?query=1%2B1", "/render?query=1%2B1"):
        status, headers, _ = get(f"{url}{path}", **{"X-Request-ID": "client-7"})
        assert status == 200 and headers["x-request-id"] == ["client-7"], path
        _, headers, _ = get(f"{url}{path}")
        assert len(headers["x-request-id"]) == 1 and headers["x-request-id"] != ["client-7"]
    assert "request_id=client-7" in (folder / "access.log").read_text()


def test_other_requests_pass_through_uncached(proxy):
    url, _ = proxy
    request = urllib.request.Request(
        f"{url}/solve/text", b'{"query": "0+0"}', {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.read() == b'{"query":"0+0","answer":"0","model":"text2text"}'
        assert response.headers.get("X-Cache-Status") is None


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_a_replica_stopped_under_load_fails_no_request(tmp_path, stop):
    """Two replicas; one is killed (or stopped gracefully) while 4 clients send 2,000 queries:
    nginx sends what it had in flight on it again, to the other (proxy_next_upstream
    non_idempotent), and /ready through nginx stays 200 with one replica left."""
    with (
        serving(tmp_path / "a.log") as (a, _),
        serving(tmp_path / "b.log") as (b, doomed),
        nginx_before([a[7:], b[7:]], tmp_path) as url,
    ):
        statuses = statuses_under_load(url, lambda: os.killpg(doomed.pid, stop))
        doomed.wait(timeout=20)
        assert [get(f"{url}/ready")[0] for _ in range(4)] == [200] * 4
    assert len(statuses) == 2000 and set(statuses) == {200}, Counter(statuses)


def test_a_restarted_replica_rejoins(tmp_path):
    """A replica killed, then started again at its address: nginx sends it requests again once
    its failure has timed out, and no request fails meanwhile."""
    with (
        serving(tmp_path / "a.log") as (a, _),
        serving(tmp_path / "b.log") as (b, doomed),
        nginx_before([a[7:], b[7:]], tmp_path) as url,
    ):
        os.killpg(doomed.pid, signal.SIGKILL)
        doomed.wait(timeout=20)
        statuses = [fetch(f"{url}/solve/text", {"query": "1+2"})[0] for _ in range(20)]
        port = int(b.rsplit(":", 1)[1])
        with serving(tmp_path / "b-again.log", port=port):
            deadline = time.monotonic() + 40  # nginx's fail_timeout (10 s) and then some
            while "/solve/text" not in (tmp_path / "b-again.log").read_text():
                assert time.monotonic() < deadline, "the restarted replica got no request"
                statuses.append(fetch(f"{url}/solve/text", {"query": "1+2"})[0])
                time.sleep(0.05)
    assert set(statuses) == {200}, Counter(statuses)


def test_idle_connections_to_a_replica_are_closed_by_nginx_first():
    """A replica (uvicorn) closes a connection idle for ``timeout_keep_alive`` seconds; nginx must
    drop its idle ones sooner, or it may send a request down one the replica is closing."""
    upstream = re.search(r"upstream genseq_replicas \{(.*?)\}", NGINX_CONF.read_text(), re.S)
    nginx_idle = re.search(r"^\s*keepalive_timeout (\d+)s;", upstream.group(1), re.M)
    replica_idle = uvicorn.Config("x", **server_options(Settings())).timeout_keep_alive
    assert nginx_idle is not None and int(nginx_idle.group(1)) < replica_idle
