"""Figures, the one table they are printed in, and their JSON."""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Figure:
    """One measured figure beside the ceiling it is held against (measured in the same run)."""

    bench: str
    measure: str
    value: float
    unit: str
    p50_ms: float | None = None
    p99_ms: float | None = None
    ceiling: float | None = None
    ceiling_label: str = ""
    ceiling_p50_ms: float | None = None
    ceiling_p99_ms: float | None = None
    target: str = ""
    met: bool | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        return self.value / self.ceiling if self.ceiling else None

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio}


def say(line: str) -> None:
    """Progress, on stderr (the table and the JSON are the only output on stdout)."""
    print(f"  {line}", file=sys.stderr, flush=True)


def _number(value: float, unit: str) -> str:
    if unit == "ms":
        return f"{value:,.2f} ms" if value < 10 else f"{value:,.1f} ms"
    if unit == "MB":
        return f"{value:,.0f} MB"
    return f"{value:,.0f}{unit}" if value >= 100 else f"{value:,.1f}{unit}"


def _latency(p50: float | None, p99: float | None) -> str:
    if p50 is None or p99 is None:
        return ""
    return f" (p50 {p50:,.1f} / p99 {p99:,.1f} ms)"


def rows(figures: list[Figure]) -> list[tuple[str, ...]]:
    """The table's header and one row per figure."""
    out = [("measure", "mfa-flow", "ceiling, same run", "ratio", "target", "met")]
    for f in figures:
        ceiling = ""
        if f.ceiling is not None:
            ceiling = f"{f.ceiling_label}: {_number(f.ceiling, f.unit)}{_latency(f.ceiling_p50_ms, f.ceiling_p99_ms)}"
        elif f.ceiling_label:
            ceiling = f.ceiling_label
        ratio = f"{f.ratio:.2f}" if f.ratio is not None else ""
        met = {True: "yes", False: "NO", None: ""}[f.met]
        out.append((f.measure, _number(f.value, f.unit) + _latency(f.p50_ms, f.p99_ms), ceiling, ratio, f.target, met))
    return out


def table(figures: list[Figure]) -> str:
    cells = rows(figures)
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    lines = [" | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in cells]
    lines.insert(1, "-+-".join("-" * width for width in widths))
    return "\n".join(lines)


def markdown(figures: list[Figure]) -> str:
    """The same table in Markdown (for the README)."""
    header, *body = rows(figures)
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in body]
    return "\n".join(lines)
