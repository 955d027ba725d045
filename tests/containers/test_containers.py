"""The images and the compose stack as users build and run them, and faults injected under load:
a replica killed, stopped, restarted, while 4 clients send 2,000 queries through nginx."""

import json
import time
import urllib.request

import pytest
from live_server import fetch, statuses_under_load

from .conftest import Stack, container


def get(url: str, **headers: str) -> tuple[int, dict[str, list[str]]]:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as r:
        found: dict[str, list[str]] = {}
        for name, value in r.headers.items():
            found.setdefault(name.lower(), []).append(value)
        return r.status, found


def test_the_serve_image_answers_as_its_unprivileged_user_and_is_healthy(podman, serving):
    base, started = serving
    assert fetch(f"{base}/solve/text", {"query": "81+24"}) == (
        200, b'{"query":"81+24","answer":"105","model":"text2text"}')  # fmt: skip
    assert podman("exec", started, "id", "-u") == "10001"
    assert podman.ok("healthcheck", "run", started)
    state = json.loads(podman("inspect", started))[0]["State"]
    assert state.get("Health", state.get("Healthcheck", {})).get("Status") == "healthy"


def test_the_stack_answers_through_nginx_with_one_request_id(stack):
    assert len(stack.replicas()) == 2
    status, headers = get(f"{stack.url}/ready")
    assert status == 200 and len(headers["x-request-id"]) == 1
    for path in ("/health", "/sample?n=4&seed=3"):
        status, headers = get(f"{stack.url}{path}", **{"X-Request-ID": "client-7"})
        assert status == 200 and headers["x-request-id"] == ["client-7"], path


def test_prometheus_scrapes_both_replicas(stack):
    query = (
        f"http://127.0.0.1:{stack.prometheus_port}/api/v1/query?query=up%7Bjob%3D%22genseq%22%7D"
    )
    deadline, up = time.monotonic() + 90, []
    while time.monotonic() < deadline:
        status, body = fetch(query)
        up = json.loads(body)["data"]["result"] if status == 200 else []
        if len(up) == 2 and all(r["value"][1] == "1" for r in up):
            break
        time.sleep(2)
    assert len(up) == 2 and all(r["value"][1] == "1" for r in up), up


@pytest.fixture
def both_replicas(stack) -> Stack:
    """Both replicas running and healthy before a fault is injected."""
    for replica in stack.replicas():
        stack.podman("start", replica)
    deadline = time.monotonic() + 120
    while not all(stack.healthy(r) for r in stack.replicas()):
        assert time.monotonic() < deadline, "a replica did not come back healthy"
        time.sleep(1)
    return stack


def assert_no_request_failed(statuses: list[int]) -> None:
    assert len(statuses) == 2000 and set(statuses) == {200}, {
        s: statuses.count(s) for s in set(statuses)
    }


@pytest.mark.parametrize("how", ["kill", "stop"], ids=["SIGKILL", "SIGTERM"])
def test_a_replica_killed_or_stopped_under_load_fails_no_request(both_replicas, how):
    """nginx sends what was in flight on the lost replica again, to the other one
    (proxy_next_upstream ... non_idempotent), and /ready stays 200 while one replica serves."""
    stack, doomed = both_replicas, both_replicas.replicas()[0]
    signal = ["--signal", "KILL"] if how == "kill" else ["--time", "10"]
    statuses = statuses_under_load(stack.url, lambda: stack.podman(how, *signal, doomed))
    assert_no_request_failed(statuses)
    assert [get(f"{stack.url}/ready")[0] for _ in range(4)] == [200] * 4


def test_a_restarted_replica_rejoins(both_replicas):
    """Killed, then started again: nginx finds it again (it re-resolves the name every 10 s)
    and its access log shows answers from it; no request fails meanwhile."""
    stack, doomed = both_replicas, both_replicas.replicas()[0]
    stack.podman("kill", "--signal", "KILL", doomed)
    stack.podman("start", doomed)
    address = stack.address(doomed)  # the one it has now
    nginx = stack.ids("nginx")[0]
    seen = len(stack.podman("logs", nginx).splitlines())
    statuses, deadline = [], time.monotonic() + 60
    while f"upstream={address}:8000" not in "\n".join(
        stack.podman("logs", nginx).splitlines()[seen:]
    ):
        assert time.monotonic() < deadline, "the restarted replica got no request"
        statuses.append(fetch(f"{stack.url}/solve/text", {"query": "1+2"})[0])
        time.sleep(0.05)
    log = stack.podman("logs", nginx).splitlines()[seen:]
    assert set(statuses) <= {200}, [line for line in log if '" 200 ' not in line]


def test_the_training_image_trains(podman, training_image):
    """Last: its build (pip installs torch and the train extra) takes most of the check's time."""
    with container(podman, training_image, "text2text", "--dry-run") as started:
        assert podman("wait", started, timeout=600) == "0", podman("logs", started)
