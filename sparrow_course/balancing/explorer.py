"""Chapter 02's explorer: one short run of the cluster for a setting, returned as the figure's data.

:func:`explore_cluster` serves 90 seconds of the chapter's traffic (``POPULATION``'s visits, a
60-s feature cache, 15-ms misses) on ``nodes`` equal nodes at ``load`` of their capacity, with
``hot_share`` of all requests from one heavy user, dispatched by ``strategy``; with ``node_joins`` a
node joins half-way with a cold cache. It returns a :class:`ClusterView`: latency percentiles,
utilisation per node, hit ratio, the hit ratio over time, and for a join the share of active
users whose node changed against theory. :func:`draw_cluster` and :func:`cluster_summary` draw
and print it; the notebook passes all three to ``sparrow_course.explorers.explore``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..explorers import button, choice, slider
from ..checks import check_bool, check_choice, check_fraction, check_int, check_number, check_seed
from ..metrics import percentiles
from ..seeding import DEFAULT_SEED
from ..traffic import poisson_traffic
from .resize import run_with_resize
from .simulator import POPULATION, make_cluster, simulate
from .strategies import STRATEGIES, consistent_moved_theory, keys_moved, make_balancer, modulo_moved_theory

__all__ = ["EXPLORER_CONTROLS", "EXPLORER_STRATEGIES", "ClusterView", "cluster_summary", "draw_cluster", "explore_cluster"]

#: the strategies the explorer offers: key-blind, load-aware and hashing, as in the chapter
EXPLORER_STRATEGIES = ("round_robin", "least_connections", "two_choices", "modulo", "ring", "bounded_load")
#: the explorer's knobs and their default ranges (``explorers.explore(explore_cluster, draw_cluster, EXPLORER_CONTROLS, ...)``)
EXPLORER_CONTROLS = {"nodes": slider(2, 12, 1, 8), "load": slider(0.2, 0.9, 0.05, 0.6),
                     "hot_share": slider(0.0, 0.3, 0.02, 0.0), "strategy": choice(EXPLORER_STRATEGIES, "ring"),
                     "node_joins": button()}
_WINDOW = 5.0   # seconds per point of the hit-ratio timeline
_WARMUP = 25.0  # caches start empty: the first seconds are not counted in the summary


@dataclass
class ClusterView:
    """What the explorer shows for one setting (latencies in ms; shares in [0, 1])."""

    strategy: str
    nodes: int
    load: float
    hot_share: float
    joins: bool
    requests: int
    p50_ms: float
    p99_ms: float
    hit_ratio: float
    utilisation: np.ndarray        # per node, the joined node last (busy share of its time powered)
    timeline: pd.DataFrame         # time (s), hit_ratio per window
    join_at: float | None = None
    keys_moved: float | None = None         # share of the run's users whose (home) node changed (hashing only)
    keys_moved_theory: float | None = None  # modulo N/(N+1), consistent 1/(N+1)
    hit_ratio_before: float | None = None   # the 25 s before the join
    hit_ratio_after: float | None = None    # the 25 s after it


def explore_cluster(strategy: str = "ring", nodes: int = 8, load: float = 0.6, hot_share: float = 0.0,
                    node_joins: bool = False, *, duration: float = 90.0, seed: int = DEFAULT_SEED) -> ClusterView:
    """Serve ``duration`` seconds of traffic at ``load`` of ``nodes`` equal nodes' capacity under ``strategy``.

    ``hot_share``: share of all requests from one heavy user; ``node_joins``: a node joins half-way, cold.
    """
    check_choice(strategy, "strategy", EXPLORER_STRATEGIES)
    nodes = check_int(nodes, "nodes", low=2, high=64)
    load = check_number(load, "load", low=0.05, high=0.95)
    hot_share = check_fraction(hot_share, "hot_share", include_high=False)
    joins = check_bool(node_joins, "node_joins")
    duration = check_number(duration, "duration", low=2 * _WARMUP + 2 * _WINDOW)
    seed = check_seed(seed)
    cluster = make_cluster([1.0] * nodes, workers=2)
    rate = load * sum(n.capacity for n in cluster) / POPULATION["mean_work"]
    requests = poisson_traffic(rate, duration, seed=seed, hot_user_share=hot_share, **POPULATION)
    at = duration / 2
    if joins:
        run = run_with_resize(requests, cluster, strategy, "join", at, cache_ttl=60.0, miss_penalty=0.015, seed=seed)
    else:  # no membership change: simulate picks the vectorised engine where the strategy allows it
        result = simulate(requests, cluster, make_balancer(strategy, cluster, seed=seed), cache_ttl=60.0,
                          miss_penalty=0.015)
        run = {"hit": result.hit, "latency": result.latency, "slot": result.node, "service": result.service}
    t, hit, lat, slot = requests.time, run["hit"], run["latency"] * 1e3, run["slot"]
    counted = t >= _WARMUP
    served = counted & np.isfinite(lat)
    q = percentiles(lat[served])
    busy = np.bincount(slot[served], weights=run["service"][served], minlength=nodes + 1)
    powered = np.full(nodes + 1, duration - _WARMUP)
    powered[nodes] = duration - at if joins else 0.0
    workers = 2
    utilisation = np.divide(busy, workers * powered, out=np.zeros(nodes + 1), where=powered > 0)
    if not joins:
        utilisation = utilisation[:nodes]
    edges = np.arange(0.0, duration + _WINDOW, _WINDOW)
    bins = np.clip(np.searchsorted(edges, t, side="right") - 1, 0, len(edges) - 2)
    counts = np.bincount(bins, minlength=len(edges) - 1)
    hits = np.bincount(bins, weights=hit, minlength=len(edges) - 1)
    keep = counts > 0
    timeline = pd.DataFrame({"time": edges[:-1][keep], "hit_ratio": hits[keep] / counts[keep]})
    view = ClusterView(strategy, nodes, load, hot_share, joins, int(served.sum()), q["p50"], q["p99"],
                       float(hit[counted].mean()), utilisation, timeline)
    if joins:
        before, after = (t >= at - _WARMUP) & (t < at), (t >= at) & (t < at + _WARMUP)
        view.join_at, view.hit_ratio_before, view.hit_ratio_after = at, float(hit[before].mean()), float(hit[after].mean())
        if STRATEGIES[strategy].uses_key:
            names = [n.name for n in cluster]
            users = np.unique(requests.user)
            # bounded loads walk on from the key's ring node: the ring says where each key lives
            home = "ring" if STRATEGIES[strategy].stateful else strategy
            old = make_balancer(home, names, seed=seed)
            new = make_balancer(home, names + [f"{names[0]}-joined"], seed=seed)
            view.keys_moved = keys_moved(old, new, users)
            theory = modulo_moved_theory if strategy == "modulo" else consistent_moved_theory
            view.keys_moved_theory = theory(nodes, nodes + 1)
    return view


def draw_cluster(view: ClusterView, fig) -> None:
    """Utilisation per node (left) and the cluster's hit ratio over time, the join marked (right)."""
    from .. import plotting

    ax1, ax2 = fig.subplots(1, 2)
    colours = ["tab:blue"] * view.nodes + (["tab:orange"] if view.joins else [])
    ax1.bar(np.arange(len(view.utilisation)), view.utilisation, color=colours)
    ax1.set_ylim(0, 1.05)
    ax1.set_xticks(np.arange(len(view.utilisation)),
                   [str(i) for i in range(view.nodes)] + (["new"] if view.joins else []), fontsize=7)
    plotting.finish(ax1, title=f"Busiest node {view.utilisation.max():.0%}, idlest {view.utilisation.min():.0%}",
                    xlabel="node", ylabel="utilisation", legend=False)
    ax2.plot(view.timeline["time"], view.timeline["hit_ratio"], marker=".", color="tab:green", label="hit ratio")
    if view.joins:
        ax2.axvline(view.join_at, color="black", linestyle=":", linewidth=1, label="a node joins")
        title = f"Join: hit ratio {view.hit_ratio_before:.2f} -> {view.hit_ratio_after:.2f} for {_WARMUP:g} s"
    else:
        title = f"Feature-cache hit ratio {view.hit_ratio:.2f} once warm"
    ax2.set_ylim(0, 1)
    plotting.finish(ax2, title=title, xlabel="time (s, 5-s windows)", ylabel="hit ratio")
    fig.suptitle(f"{view.strategy.replace('_', ' ')}, {view.nodes} nodes at {view.load:.0%} load: "
                 f"p50 {view.p50_ms:.0f} ms, p99 {view.p99_ms:.0f} ms")


def cluster_summary(view: ClusterView) -> str:
    """The numbers of a view, as the explorer prints them."""
    lines = [f"{view.strategy} on {view.nodes} nodes at load {view.load:.2f}, hot user {view.hot_share:.0%} of requests: "
             f"p50 {view.p50_ms:.1f} ms, p99 {view.p99_ms:.1f} ms, hit ratio {view.hit_ratio:.3f}, "
             f"utilisation {view.utilisation.min():.2f}-{view.utilisation.max():.2f}"]
    if view.joins:
        moved = ("no key affinity to move" if view.keys_moved is None else
                 f"keys moved {view.keys_moved:.3f} (theory {view.keys_moved_theory:.3f})")
        lines.append(f"a node joins at {view.join_at:.0f} s: {moved}; hit ratio {view.hit_ratio_before:.3f} in the {_WARMUP:g} s "
                     f"before, {view.hit_ratio_after:.3f} in the {_WARMUP:g} s after")
    return "\n".join(lines)
