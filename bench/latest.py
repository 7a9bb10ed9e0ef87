"""The newest figures per benchmark, kept at the top of ``bench/RESULTS.md``.

``RESULTS.md`` is a log: one section per run, appended. A reader who wants to know where each benchmark
stands today should not have to find its newest run among older ones, so :func:`refresh` writes a block at
the top (between two HTML comment markers) with, per benchmark and scale, the bars of its newest run:
when, the load average, the command and each bar's figure and result. ``python -m bench.run`` refreshes
it after every append; ``python -m bench.latest`` rebuilds it by hand (after a merge of two logs, say).

Only sections written by ``bench.run`` count (a ``## <date> UTC — names (scale)`` header, a
``### name (N s)`` part per benchmark and its ``Bars:`` table); hand-written probe sections are left
in the log and not summarised.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

START = "<!-- latest: rebuilt by bench.latest; do not edit by hand -->"
END = "<!-- /latest -->"

_SECTION = re.compile(r"^## (\d{4}-\d{2}-\d{2} \d{2}:\d{2}) UTC — (.+?) \((\w+) scale\)\s*$")
_PART = re.compile(r"^### ([a-z_0-9]+) \(\d+ s(?:; load ([\d.]+/[\d.]+/[\d.]+) at start[^)]*)?\)\s*$")


@dataclass
class Run:
    """One benchmark's part of one section."""

    name: str
    scale: str
    when: str
    command: str = ""
    load: str = ""
    data: str = ""
    bars: list[list[str]] = field(default_factory=list)
    error: bool = False


def parse(text: str) -> list[Run]:
    """Every benchmark part of every ``bench.run`` section in ``text``, in file order.

    Parameters
    ----------
    text : str
        The contents of ``RESULTS.md``.

    Returns
    -------
    list of Run
        One per ``### name (N s)`` part, with the section's date, command and load, and the part's bar rows
        (``[bar, measured, limit, result]``).
    """
    runs: list[Run] = []
    when = scale = command = load = data = ""
    in_section = False
    cur: Run | None = None
    in_bars = False
    for line in text.splitlines():
        m = _SECTION.match(line)
        if m:
            in_section, cur, in_bars = True, None, False
            when, scale = m.group(1), m.group(3)
            command = load = data = ""
            continue
        if line.startswith("## "):
            in_section, cur, in_bars = False, None, False
            continue
        if not in_section:
            continue
        if line.startswith("- Command: "):
            m = re.match(r"- Command: `([^`]*)`", line)
            command = m.group(1) if m else line[len("- Command: "):].strip()
        elif line.startswith("- Data: "):
            m = re.search(r"workspace\.gpkg ([\d.]+ MB)", line)
            data = m.group(1) if m else ""
        elif line.startswith("- Machine load: "):
            load = line[len("- Machine load: "):].split(" (")[0].strip()
        m = _PART.match(line)
        if m:
            # the benchmark's own load when the section records it (a run of several can take an hour)
            cur = Run(name=m.group(1), scale=scale, when=when, command=command, load=m.group(2) or load, data=data)
            runs.append(cur)
            in_bars = False
            continue
        if cur is None:
            continue
        if line.startswith("**ERROR**"):
            cur.error = True
        elif line.strip() == "Bars:":
            in_bars = True
        elif in_bars and line.startswith("| "):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
            if cells and cells[0] != "bar" and not set(cells[0]) <= {"-", ":"}:
                cur.bars.append(cells)
        elif in_bars and line.strip() and not line.startswith("|"):
            in_bars = False
    return runs


def newest(runs: list[Run]) -> list[Run]:
    """The newest run with bars of each (benchmark, scale), by the section's date; sorted by name."""
    best: dict[tuple[str, str], Run] = {}
    for r in runs:
        if r.error or not r.bars:
            continue
        key = (r.name, r.scale)
        if key not in best or r.when >= best[key].when:
            best[key] = r
    return [best[k] for k in sorted(best)]


def block(runs: list[Run]) -> str:
    """The markdown block of the newest figures (between the markers)."""
    lines = [START, "", "## Latest figures per benchmark", "",
             "The newest run of each benchmark (its section below has the peers' figures and the notes). "
             "Rebuilt by `python -m bench.latest` and after every `python -m bench.run`.", "",
             "| benchmark | run (UTC) | load at start | workspace.gpkg | bar | measured | limit | result |",
             "| --- | --- | --- | --- | --- | ---: | ---: | --- |"]
    for r in runs:
        first = True
        for b in r.bars:
            bar, measured, limit, result = (b + ["", "", "", ""])[:4]
            head = ((f"{r.name} ({r.scale})", r.when, r.load.split(" at start")[0], r.data) if first
                    else ("", "", "", ""))
            lines.append("| " + " | ".join([*head, bar, measured, limit, result]) + " |")
            first = False
    lines += ["", "Commands of these runs:", ""]
    lines += [f"- {r.name} ({r.scale}): `{r.command}`" for r in runs if r.command]
    lines += ["", END]
    return "\n".join(lines)


def refresh(path: Path) -> bool:
    """Rewrite the block at the top of ``path`` (after the title and its paragraph); True if it changed."""
    text = path.read_text(encoding="utf-8")
    body = text
    if START in text and END in text:
        a, b = text.index(START), text.index(END) + len(END)
        body = text[:a].rstrip("\n") + "\n\n" + text[b:].lstrip("\n")
    new_block = block(newest(parse(body)))
    first = body.find("\n## ")
    if first < 0:
        out = body.rstrip("\n") + "\n\n" + new_block + "\n"
    else:
        out = body[:first].rstrip("\n") + "\n\n" + new_block + "\n\n" + body[first + 1:]
    if out == text:
        return False
    path.write_text(out, encoding="utf-8")
    return True


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.latest [RESULTS.md]``: rebuild the block; prints what it did."""
    argv = sys.argv[1:] if argv is None else argv
    path = Path(argv[0]) if argv else Path(__file__).with_name("RESULTS.md")
    changed = refresh(path)
    print(f"{path}: latest figures {'rebuilt' if changed else 'unchanged'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
