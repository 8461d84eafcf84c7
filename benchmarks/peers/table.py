"""The one table: per scenario and system, median over rounds, min-max, ratio jobline/peer."""

from __future__ import annotations

import statistics

# (scenario, figure) -> (label, unit, higher is better)
FIGURES: dict[tuple[str, str], tuple[str, str, bool]] = {
    ("throughput", "run_rate"): ("1 run throughput: first taken -> all done", "jobs/s", True),
    ("throughput", "wall_rate"): ("1 run throughput: spawn -> all done", "jobs/s", True),
    ("throughput", "max_stall_s"): ("1 longest time no job completed", "s", False),
    ("throughput", "peak_rss_mib"): ("5 peak RSS, largest process (scenario 1)", "MiB", False),
    ("future", "run_rate"): ("4 run throughput, future jobs in the table", "jobs/s", True),
    ("deep_queue", "run_rate"): ("4 run throughput, a deep queue, head running", "jobs/s", True),
    ("future", "peak_rss_mib"): ("5 peak RSS, largest process (4, future jobs)", "MiB", False),
    ("latency", "p50_ms"): ("2 latency p50: trigger call -> handler start", "ms", False),
    ("latency", "p99_ms"): ("2 latency p99", "ms", False),
    ("latency", "max_ms"): ("2 latency max", "ms", False),
    ("e2e", "e2e_rate"): ("3 end to end via Kafka: first send -> all ran", "jobs/s", True),
    ("e2e", "persist_rate"): ("3 intake: first send -> all persisted", "jobs/s", True),
    ("intake_alone", "intake_rate"): ("3 intake alone: first -> all persisted", "jobs/s", True),
    ("intake_alone", "intake_wall_rate"): (
        "3 intake alone: spawn -> all persisted",
        "jobs/s",
        True,
    ),
    ("e2e", "peak_rss_mib"): ("5 peak RSS, the server (scenario 3)", "MiB", False),
    ("intake_alone", "peak_rss_mib"): ("5 peak RSS, the server (3, intake alone)", "MiB", False),
}

Results = dict[tuple[str, str], list[dict[str, float]]]  # (scenario, system) -> rounds


def _fmt(x: float) -> str:
    if x != x:  # NaN
        return "?"
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.2f}" if abs(x) < 10 else f"{x:.1f}"


def render(results: Results, peers: list[str]) -> str:
    head = ["scenario", "system", "median", "min–max", "unit", *[f"jobline/{p}" for p in peers]]
    rows: list[list[str]] = []
    for (scenario, figure), (label, unit, _) in FIGURES.items():
        medians: dict[str, float] = {}
        for (sc, system), rounds in results.items():
            values = [r[figure] for r in rounds if figure in r]
            if sc != scenario or not values:
                continue
            medians[system] = statistics.median(values)
            rows.append(
                [
                    label,
                    system,
                    _fmt(medians[system]),
                    f"{_fmt(min(values))}–{_fmt(max(values))}",
                    unit,
                ]
            )
        for row in rows:
            if row[0] == label and row[1].startswith("jobline"):
                row += [
                    f"{medians[row[1]] / medians[p]:.2f}" if medians.get(p) else "–" for p in peers
                ]
    widths = [max(len(r[i]) if i < len(r) else 0 for r in [head, *rows]) for i in range(len(head))]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)) + " |"]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        cells = row + [""] * (len(head) - len(row))
        lines.append(
            "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"
        )
    return "\n".join(lines)


def render_costs(results: Results) -> str:
    """Scenario 4's cost per system: 1 - its median run rate / scenario 1's, same run
    (negative: scenario 4 ran faster, i.e. no cost within the noise)."""
    lines = [
        "| system | cost: future jobs in the table | cost: a deep queue, head running |",
        "|---|---|---|",
    ]
    systems = [system for (scenario, system) in results if scenario == "throughput"]
    for system in systems:
        base = _median_rate(results, "throughput", system)
        cells = []
        for scenario in ("future", "deep_queue"):
            rate = _median_rate(results, scenario, system)
            cells.append(
                f"{1 - rate / base:+.1%} ({_fmt(rate)} vs {_fmt(base)} jobs/s)"
                if rate and base
                else "–"
            )
        lines.append(f"| {system} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines)


def _median_rate(results: Results, scenario: str, system: str) -> float:
    values = [r["run_rate"] for r in results.get((scenario, system), []) if "run_rate" in r]
    return statistics.median(values) if values else 0.0


def render_rounds(results: Results) -> str:
    """Every round's value of the headline figures, in run order (drift shows here)."""
    lines = []
    for (scenario, system), rounds in results.items():
        for figure in ("run_rate", "p50_ms", "e2e_rate"):
            values = [r[figure] for r in rounds if figure in r]
            if values:
                shown = " · ".join(_fmt(v) for v in values)
                lines.append(f"  {scenario} {figure} {system}: {shown}")
    return "\n".join(lines)
