"""The issue's goals in every full run committed as bench/results.json, oldest first: how each
ratio moved with the service's changes and with the machine it ran on.

    .venv/bin/python -m bench.history > /tmp/history.md

Each commit that changed bench/results.json holds one run's numbers; only runs with the peers
(`python -m bench --peers`) are listed, since the goals compare the service with them. A row's
figures are the goal rows bench/goals.py makes today from that run's numbers, as the report's goal
table would show them (with ``--rounds``, each the median over the rounds); a FAIL carries an
asterisk.
"""

import subprocess
from pathlib import Path

from bench.goals import goals
from bench.report import read
from bench.servers import REPO

RESULTS = "bench/results.json"


def committed(repo: Path = REPO) -> list[tuple[str, str]]:
    """(commit, results.json text) for every commit that changed it, oldest first."""
    log = ["git", "-C", str(repo), "log", "--reverse", "--format=%h", "--", RESULTS]
    commits = subprocess.run(log, capture_output=True, text=True, check=True).stdout.split()
    show = ["git", "-C", str(repo), "show"]
    return [
        (commit, subprocess.run([*show, f"{commit}:{RESULTS}"], capture_output=True, text=True,
                                check=True).stdout)
        for commit in commits
    ]  # fmt: skip


def table(runs: list[tuple[str, str]]) -> str:
    """A markdown row per run with the peers: when, what was measured, and every goal's figure."""
    rows, columns = [], {}
    for commit, text in reversed(runs):  # the newest run's goals, in its order, come first
        results = read(text)
        if not results.options.peers:
            continue
        measured = [goal for goal in goals(results) if goal.passed is not None]
        for goal in measured:
            columns.setdefault(goal.short, None)
        figures = {goal.short: goal.figure + ("" if goal.passed else "*") for goal in measured}
        passed = sum(bool(goal.passed) for goal in measured)
        m, rounds = results.machine, results.options.rounds
        rows.append((f"{m['date'][:16]} | {m['commit']} | {commit} | {m['cpu']} | {rounds} | "
                     f"{passed} of {len(measured)}", figures))  # fmt: skip
    head = ["run (UTC)", "service at", "committed in", "CPU", "rounds", "goals passed", *columns]
    lines = ["| " + " | ".join(head) + " |", "|---" * 6 + "|---:" * len(columns) + "|"]
    lines += [f"| {run} | " + " | ".join(f.get(c, "-") for c in columns) + " |"
              for run, f in reversed(rows)]  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    try:
        runs = committed()
    except (OSError, subprocess.CalledProcessError) as error:
        raise SystemExit(f"bench.history: needs the repository's git history ({error})") from None
    print(table(runs))


if __name__ == "__main__":
    main()
