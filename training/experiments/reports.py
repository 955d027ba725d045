"""Every experiment report is saved the same way: raw numbers, a markdown table, and a figure."""

import json
from collections.abc import Callable
from pathlib import Path


def save_report(
    out: Path,
    stem: str,
    results: list[dict],
    markdown: str,
    plot: Callable[[list[dict], Path], None],
) -> None:
    """Write ``<stem>.json`` (every number), ``<stem>.md`` (table and figure), ``<stem>.png``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(results, indent=1) + "\n")
    (out / f"{stem}.md").write_text(markdown + f"\n![{stem}]({stem}.png)\n")
    plot(results, out / f"{stem}.png")
