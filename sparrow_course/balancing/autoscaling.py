"""When to add and remove nodes: threshold autoscaling with hysteresis and cool-downs over a day.

Every ``interval`` seconds the autoscaler looks at the last window: the cluster's utilisation
(work dispatched / capacity of the active nodes) or its p95 latency. Above ``scale_out_above``
it orders ``step_out`` new nodes, which take ``boot_time`` seconds to start; below
``scale_in_below`` it retires ``step_in`` nodes, which stop taking requests at once and switch
off when their last request is done. The gap between the two thresholds is the hysteresis that
keeps the cluster from flapping; the cool-downs stop it from acting again before the last
action has had its effect. Node-hours count every node from the order to start it until it is
switched off, booting and draining included: that is what the bill counts.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..checks import check_choice, check_int, check_number, check_seed
from ..seeding import DEFAULT_SEED
from .engine import ClusterEngine
from .simulator import Node
from .strategies import STRATEGIES, make_balancer
from ..traffic import Requests

__all__ = ["AutoscalingResult", "METRICS", "around_changes", "ScalingPolicy", "compare_policies", "simulate_autoscaling", "smallest_fixed_cluster",
           "tune_under_dispatch"]

METRICS = ("utilisation", "p95")


@dataclass(frozen=True)
class ScalingPolicy:
    """Threshold autoscaling: act on ``metric`` with hysteresis (two thresholds) and cool-downs.

    ``metric``: 'utilisation' (share of the active nodes' capacity, 0-1) or 'p95' (latency, s).
    ``cooldown_out``: seconds after a scale-out before the next scale-out.
    ``cooldown_in``: seconds after any action before a scale-in.
    """

    metric: str = "utilisation"
    # the two thresholds: their gap is the hysteresis
    scale_out_above: float = 0.75
    scale_in_below: float = 0.5
    # nodes added or removed per action
    step_out: int = 1
    step_in: int = 1
    # seconds to wait after an action before the next one
    cooldown_out: float = 3.0
    cooldown_in: float = 10.0
    # bounds on the cluster size
    min_nodes: int = 2
    max_nodes: int = 40

    def __post_init__(self) -> None:
        check_choice(self.metric, "metric", METRICS)
        for name in ("scale_out_above", "scale_in_below", "cooldown_out", "cooldown_in"):
            check_number(getattr(self, name), name, low=0)
        if self.scale_in_below >= self.scale_out_above:
            raise ValueError(
                f"scale_in_below ({self.scale_in_below}) must be below scale_out_above ({self.scale_out_above}): "
                "the gap between them is the hysteresis that stops the cluster from flapping")
        for name in ("step_out", "step_in", "min_nodes", "max_nodes"):
            check_int(getattr(self, name), name, low=1)
        if self.min_nodes > self.max_nodes:
            raise ValueError(f"min_nodes ({self.min_nodes}) must not exceed max_nodes ({self.max_nodes})")

    def describe(self) -> str:
        """A short label, e.g. 'util 0.75/0.50, cool-down 3/10 s'."""
        unit = (lambda v: f"{v:.2f}") if self.metric == "utilisation" else (lambda v: f"{v * 1e3:.0f} ms")
        name = "util" if self.metric == "utilisation" else "p95"
        return (f"{name} out>{unit(self.scale_out_above)} in<{unit(self.scale_in_below)}, "
                f"cool-down {self.cooldown_out:g}/{self.cooldown_in:g} s")


@dataclass
class AutoscalingResult:
    """The day's outcome: per-request latencies, the per-window timeline, node-hours and SLO violations."""

    label: str
    latency: np.ndarray          # seconds, NaN when rejected
    timeline: pd.DataFrame       # one row per control window
    node_seconds: float
    day_length: float
    slo: float
    slo_target: float
    actions: list = field(default_factory=list)
    hit: np.ndarray | None = None             # per request: served from the node's feature cache
    changes: list = field(default_factory=list)  # (time, "join" or "leave", nodes taking traffic after it)

    @property
    def node_hours(self) -> float:
        """Node-hours of the day: node-seconds scaled so that ``day_length`` stands for 24 hours."""
        return self.node_seconds / self.day_length * 24.0

    @property
    def slo_violations(self) -> float:
        """Share of requests slower than ``slo`` seconds (or rejected)."""
        with np.errstate(invalid="ignore"):
            bad = ~(self.latency <= self.slo)
        return float(bad.mean())

    @property
    def meets_slo(self) -> bool:
        """Whether at most ``slo_target`` of requests missed the latency objective."""
        return self.slo_violations <= self.slo_target

    def summary(self) -> dict:
        """The day in figures: node-hours, SLO violations, p99, cluster size range, actions, mean utilisation."""
        lat = self.latency[np.isfinite(self.latency)] * 1e3
        return {
            "node_hours": self.node_hours,
            "slo_violations_pct": 100 * self.slo_violations,
            "meets_slo": self.meets_slo,
            "p99_ms": float(np.percentile(lat, 99)),
            "peak_nodes": int(self.timeline["nodes"].max()),
            "min_nodes": int(self.timeline["nodes"].min()),
            "actions": len(self.actions),
            "mean_util": float(np.average(self.timeline["utilisation"], weights=self.timeline["nodes"])),
        }


def simulate_autoscaling(
    requests: Requests,
    node: Node,
    policy: ScalingPolicy | None,
    *,
    initial_nodes: int,
    strategy: str = "least_connections",
    interval: float = 1.0,
    boot_time: float = 2.0,
    slo: float = 0.25,
    slo_target: float = 0.01,
    key: str = "user",
    cache_ttl: float = 60.0,
    miss_penalty: float = 0.01,
    label: str | None = None,
    warmup: float = 0.0,
    warmup_slowdown: float = 2.0,
    seed: int = DEFAULT_SEED,
) -> AutoscalingResult:
    """Serve a day of ``requests`` on identical ``node``s, resized by ``policy`` (None: a fixed cluster).

    ``interval``: seconds between the autoscaler's looks. ``boot_time``: seconds from ordering a
    node until it takes traffic. ``slo``: latency objective in seconds, to be met by all but
    ``slo_target`` of requests. ``warmup``: for this many seconds after it starts taking traffic a
    new node serves ``warmup_slowdown`` times slower (its model loading, a cold runtime and
    connection pools); every new node also starts with a cold feature cache. ``seed`` seeds every
    balancer built over the day (random choices, ring positions).
    """
    if not isinstance(node, Node):
        raise TypeError(f"node must be a Node (the hardware every instance runs on), got {type(node).__name__}")
    if policy is not None and not isinstance(policy, ScalingPolicy):
        raise TypeError(f"policy must be a ScalingPolicy or None (a fixed cluster), got {type(policy).__name__}")
    initial_nodes = check_int(initial_nodes, "initial_nodes", low=1)
    if policy is not None and not policy.min_nodes <= initial_nodes <= policy.max_nodes:
        raise ValueError(f"initial_nodes must lie in [min_nodes, max_nodes] = "
                         f"[{policy.min_nodes}, {policy.max_nodes}], got {initial_nodes}")
    interval = check_number(interval, "interval", low=0, include_low=False)
    slo = check_number(slo, "slo", low=0, include_low=False)
    boot_time = check_number(boot_time, "boot_time", low=0)
    slo_target = check_number(slo_target, "slo_target", low=0, high=1, include_high=False)
    warmup = check_number(warmup, "warmup", low=0)
    warmup_slowdown = check_number(warmup_slowdown, "warmup_slowdown", low=1.0)
    check_choice(strategy, "strategy", STRATEGIES)
    seed = check_seed(seed)
    if not isinstance(requests, Requests):
        raise TypeError(f"requests must be a Requests stream (see diurnal_traffic), got {type(requests).__name__}")
    if len(requests) == 0:
        raise ValueError("requests is empty: an autoscaling day needs at least one request")
    max_nodes = policy.max_nodes if policy is not None else initial_nodes
    slots = [Node(f"{node.name}-{i}", node.speed, node.workers) for i in range(max_nodes)]
    engine = ClusterEngine(slots, requests, key=key, cache_ttl=cache_ttl, miss_penalty=miss_penalty)
    label = label or (policy.describe() if policy is not None else f"fixed {initial_nodes} nodes")

    worker_seconds = node.workers * interval   # one node's capacity per window
    powered_since: dict[int, float] = {s: 0.0 for s in range(initial_nodes)}
    draining: set[int] = set()
    booting: dict[int, float] = {}             # slot -> time it is ready to take traffic
    active = list(range(initial_nodes))        # slots taking traffic, in balancer order
    book = {"node_seconds": 0.0, "last_out": -math.inf, "last_action": -math.inf, "window_start": 0}
    warming: dict[int, float] = {}             # slot -> time its warm-up ends
    rows: list[dict] = []
    actions: list[tuple[float, str, int]] = []
    changes: list[tuple[float, str, int]] = []
    service, latency = engine.service, engine.latency

    def rebuild(i0: int) -> None:
        """Rebuild the balancer over the active slots; requests from i0 on are dispatched by it."""
        engine.route(make_balancer(strategy, [slots[s] for s in active], seed=seed), active, i0)

    def control(now: float, i: int) -> None:
        """The autoscaler's look at the window that just ended (requests window_start..i-1)."""
        w0, book["window_start"] = book["window_start"], i
        n_active = len(active)
        lat = np.asarray(latency[w0:i])
        util = float(sum(service[w0:i])) / (worker_seconds * n_active)
        p95 = float(np.percentile(lat, 95)) if lat.size else 0.0
        rows.append({"time": now, "nodes": len(powered_since), "active": n_active, "requests": int(lat.size),
                     "utilisation": util, "p95_ms": p95 * 1e3,
                     "p99_ms": float(np.percentile(lat, 99)) * 1e3 if lat.size else 0.0,
                     "slow_pct": 100 * float(np.mean(lat > slo)) if lat.size else 0.0})
        changed = False
        for s, until in sorted(warming.items()):    # warmed-up nodes serve at full speed
            if until <= now:
                del warming[s]
                engine.slow_down(s, 1.0)
        for s, ready in sorted(booting.items()):    # booted nodes join the balancer
            if ready <= now:
                del booting[s]
                active.append(s)
                changed = True
                changes.append((now, "join", len(active)))
                if warmup > 0:
                    warming[s] = now + warmup
                    engine.slow_down(s, warmup_slowdown)
        for s in sorted(draining):                  # drained nodes switch off
            if engine.in_flight(s) == 0:
                draining.discard(s)
                book["node_seconds"] += now - powered_since.pop(s)
        if policy is not None:
            value = util if policy.metric == "utilisation" else p95
            planned = len(active) + len(booting)
            if (value > policy.scale_out_above and now - book["last_out"] >= policy.cooldown_out
                    and planned < policy.max_nodes):
                k = min(policy.step_out, policy.max_nodes - planned)
                for s in [s for s in range(max_nodes) if s not in powered_since][:k]:
                    booting[s] = now + boot_time
                    powered_since[s] = now
                    engine.power_on(s)              # a fresh node starts with a cold cache
                book["last_out"] = book["last_action"] = now
                actions.append((now, "out", k))
            elif (value < policy.scale_in_below and now - book["last_action"] >= policy.cooldown_in
                    and len(active) > policy.min_nodes):
                k = min(policy.step_in, len(active) - policy.min_nodes)
                for _ in range(k):
                    draining.add(active[-1])        # the newest node leaves first
                    del active[-1]
                book["last_action"] = now
                changed = True
                changes.append((now, "leave", len(active)))
                actions.append((now, "in", k))
        if changed:
            rebuild(i)

    rebuild(0)
    engine.run(interval=interval, on_tick=control)
    # every node still on is counted to the end of the day
    node_seconds = book["node_seconds"] + sum(requests.duration - since for since in powered_since.values())
    return AutoscalingResult(label, np.array(latency), pd.DataFrame(rows), node_seconds, requests.duration,
                             slo, slo_target, actions, np.array(engine.hit, dtype=bool), changes)


def around_changes(result: AutoscalingResult, requests: Requests, *, window: float) -> pd.DataFrame:
    """Hit ratio and p99 in the ``window`` seconds before and after each membership change of a day.

    One row per change (a booted node joining the balancer, a node retired from it): its time, kind,
    the nodes taking traffic after it, and the feature-cache hit ratio and p99 latency (ms) of the
    requests that arrived in the window before and the window after.
    """
    if not isinstance(result, AutoscalingResult) or result.hit is None:
        raise TypeError("result must be an AutoscalingResult of simulate_autoscaling")
    window = check_number(window, "window", low=0, include_low=False)
    t = requests.time
    if t.shape != result.latency.shape:
        raise ValueError(f"requests must be the day the result served ({result.latency.size} requests), got {t.size}")
    rows = []
    for when, kind, n in result.changes:
        parts = {"before": (t >= when - window) & (t < when), "after": (t >= when) & (t < when + window)}
        row = {"time": when, "change": kind, "nodes": n}
        for side, mask in parts.items():
            lat = result.latency[mask]
            lat = lat[np.isfinite(lat)]
            row[f"hit_ratio_{side}"] = float(result.hit[mask].mean()) if mask.any() else math.nan
            row[f"p99_ms_{side}"] = float(np.percentile(lat, 99)) * 1e3 if lat.size else math.nan
        rows.append(row)
    columns = ["time", "change", "nodes", "hit_ratio_before", "hit_ratio_after", "p99_ms_before", "p99_ms_after"]
    return pd.DataFrame(rows, columns=columns)


def smallest_fixed_cluster(days: dict[str, Requests], node: Node, *, start: int = 1, limit: int = 64,
                           **options) -> tuple[int, pd.DataFrame]:
    """The smallest fixed cluster that meets the SLO on every day in ``days``, and the sizes tried.

    Tries ``start``, ``start + 1``, ... up to ``limit`` nodes; returns the first size whose runs
    all meet the SLO and a table with one row per size tried (node-hours, share of requests
    over the SLO per day). ``options`` go to :func:`simulate_autoscaling`.
    """
    if not isinstance(days, dict) or not days:
        raise ValueError("days must be a non-empty {name: Requests} dict")
    start = check_int(start, "start", low=1)
    limit = check_int(limit, "limit", low=start)
    rows = []
    for size in range(start, limit + 1):
        runs = {d: simulate_autoscaling(r, node, None, initial_nodes=size, **options) for d, r in days.items()}
        rows.append({"nodes": size, "node_hours": next(iter(runs.values())).node_hours,
                     **{f"over_SLO_pct {d}": 100 * r.slo_violations for d, r in runs.items()}})
        if all(r.meets_slo for r in runs.values()):
            return size, pd.DataFrame(rows).set_index("nodes")
    raise ValueError(f"limit: no fixed cluster of up to {limit} nodes meets the SLO on every day; raise limit")


def compare_policies(days: dict[str, Requests], node: Node, policies: dict[str, ScalingPolicy | None], *,
                     initial_nodes: int, fixed_nodes: int | None = None, **options) -> tuple[pd.DataFrame, dict]:
    """Run every policy on every day: a table (node-hours and % over the SLO per day, peak nodes and
    actions on the first day, whether it meets the SLO on all days) and the runs {policy: {day: result}}.

    A policy of None is a fixed cluster of ``fixed_nodes`` nodes.
    """
    if not isinstance(days, dict) or not days:
        raise ValueError("days must be a non-empty {name: Requests} dict")
    if not isinstance(policies, dict) or not policies:
        raise ValueError("policies must be a non-empty {name: ScalingPolicy or None} dict")
    runs, rows = {}, {}
    for name, policy in policies.items():
        size = initial_nodes if policy is not None else fixed_nodes
        if size is None:
            raise ValueError(f"fixed_nodes: policy {name!r} is a fixed cluster (None) and needs fixed_nodes")
        runs[name] = {d: simulate_autoscaling(r, node, policy, initial_nodes=size, label=name, **options)
                      for d, r in days.items()}
        row = {}
        for d, r in runs[name].items():
            row[f"node-hours {d}"] = round(r.node_hours, 1)
            row[f"% over SLO {d}"] = round(100 * r.slo_violations, 2)
        first = next(iter(runs[name].values())).summary()
        row.update({"peak nodes": first["peak_nodes"], "actions": first["actions"],
                    "meets all": all(r.meets_slo for r in runs[name].values())})
        rows[name] = row
    return pd.DataFrame.from_dict(rows, orient="index"), runs


def tune_under_dispatch(tuning_days: dict[str, Requests], held_out: Requests, node: Node,
                        rules: dict[str, dict[str, ScalingPolicy]], *, initial_nodes: int,
                        **options) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Choose an autoscaling rule under each dispatch strategy, and check the choice on a day it was not chosen on.

    ``rules`` maps a strategy (see ``STRATEGIES``) to the rules tried under it. Every rule runs on every
    tuning day; the cheapest rule (mean node-hours) that meets the SLO on all of them runs on ``held_out``.
    Returns two tables: one row per (dispatch, rule) with node-hours a day (mean over the tuning days),
    % over the SLO on the worse tuning day, the feature-cache hit ratio (mean) and whether the rule meets
    the SLO on every tuning day; and one row per dispatch with its chosen rule and the held-out day's
    node-hours, % over the SLO, hit ratio and whether it meets the SLO (a dispatch none of whose rules
    meets the SLO on every tuning day has no row). ``options`` go to :func:`simulate_autoscaling`.
    """
    if not isinstance(tuning_days, dict) or not tuning_days:
        raise ValueError("tuning_days must be a non-empty {name: Requests} dict")
    if not isinstance(rules, dict) or not rules:
        raise ValueError("rules must be a non-empty {strategy: {name: ScalingPolicy}} dict")
    if "strategy" in options:
        raise ValueError("strategy: give the strategies as the keys of rules, not as an option")
    for kind, tried in rules.items():
        check_choice(kind, "rules' strategy", STRATEGIES)
        if not isinstance(tried, dict) or not tried:
            raise ValueError(f"rules[{kind!r}] must be a non-empty {{name: ScalingPolicy}} dict")
        for name, policy in tried.items():
            if not isinstance(policy, ScalingPolicy):
                raise TypeError(f"rules[{kind!r}][{name!r}] must be a ScalingPolicy (a fixed cluster is not a rule to tune), "
                                f"got {type(policy).__name__}")
    rows, chosen = {}, {}
    for kind, tried in rules.items():
        _, runs = compare_policies(tuning_days, node, tried, initial_nodes=initial_nodes, strategy=kind, **options)
        for name, by_day in runs.items():
            days = list(by_day.values())
            rows[kind, name] = {"node-hours a day": float(np.mean([r.node_hours for r in days])),
                                "% over SLO, worse day": max(100 * r.slo_violations for r in days),
                                "hit ratio": float(np.mean([r.hit.mean() for r in days])),
                                "meets all": all(r.meets_slo for r in days)}
        meeting = [name for name in tried if rows[kind, name]["meets all"]]
        if meeting:
            pick = min(meeting, key=lambda name: rows[kind, name]["node-hours a day"])
            check = simulate_autoscaling(held_out, node, tried[pick], initial_nodes=initial_nodes, strategy=kind,
                                         label=pick, **options)
            chosen[kind] = {"rule": pick, "node-hours": check.node_hours, "% over SLO": 100 * check.slo_violations,
                            "hit ratio": float(check.hit.mean()), "meets SLO": check.meets_slo}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index = pd.MultiIndex.from_tuples(table.index, names=["dispatch", "rule"])
    held = pd.DataFrame.from_dict(chosen, orient="index",
                                  columns=["rule", "node-hours", "% over SLO", "hit ratio", "meets SLO"])
    held.index.name = "dispatch"
    return table, held
