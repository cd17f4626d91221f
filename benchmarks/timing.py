"""The benchmarks' shared stopwatch: the median of a few runs, since the machines are shared and noisy; and the
timing of an explorer's updates over its default ranges against the 0.5-s budget."""
from __future__ import annotations

import statistics
import time
from typing import Callable


def timed(fn: Callable[[], object], repeats: int) -> tuple[float, object]:
    """Median wall time of ``repeats`` calls of ``fn``, and the last call's result."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


#: what one explorer update may take on 2 cores, compute and drawing included
EXPLORER_BUDGET_S = 0.5


def explorer_settings(controls: dict) -> list[dict]:
    """The settings an explorer's benchmark times: the defaults, then each control alone at its low end, its
    high end and its middle (every option of a choice, both states of a button)."""
    defaults = {name: c.value for name, c in controls.items()}
    settings = [dict(defaults)]
    for name, c in controls.items():
        if c.kind == "slider":
            middle = c.lo + round((c.hi - c.lo) / 2 / c.step) * c.step
            values = [c.lo, middle, c.hi]
            values = [int(v) if c.integer else v for v in values]
        elif c.kind == "choice":
            values = list(c.options)
        else:
            values = [not c.value]
        settings += [dict(defaults, **{name: v}) for v in values if v != defaults[name]]
    return settings


def time_explorer(explorer, repeats: int, label: str) -> float:
    """Time every setting of ``explorer_settings`` (median of ``repeats``, compute + figure + PNG); print the
    worst against the budget and return it. A setting's first call may fill a cache (a new trace): the slower
    of it and the median counts. Wall time and this process's CPU time are both reported: on a shared,
    oversubscribed machine the CPU time is what the update costs, the wall time what it waited too."""
    rows = []
    explorer.expected()  # the first figure of a process pays for fonts and imports: not an update

    def one(values) -> tuple[float, float]:
        wall, cpu = time.perf_counter(), time.process_time()
        explorer.expected(**values)
        return time.perf_counter() - wall, time.process_time() - cpu

    for values in explorer_settings(explorer.controls):
        first = one(values)
        runs = [one(values) for _ in range(repeats)]
        wall = max(first[0], statistics.median(r[0] for r in runs))
        cpu = max(first[1], statistics.median(r[1] for r in runs))
        rows.append((wall, cpu, values))
    for k, kind in ((0, "wall"), (1, "CPU")):
        worst = max(rows, key=lambda r: r[k])
        print(f"{label} explorer, {kind} time: {len(rows)} settings over the default ranges; median update "
              f"{statistics.median(r[k] for r in rows):.2f} s, worst {worst[k]:.2f} s at {worst[2]}; "
              f"worst / budget {EXPLORER_BUDGET_S:g} s = {worst[k] / EXPLORER_BUDGET_S:.2f} "
              f"({'within' if worst[k] <= EXPLORER_BUDGET_S else 'OVER'})")
    return max(r[0] for r in rows)
