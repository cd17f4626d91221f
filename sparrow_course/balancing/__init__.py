"""Chapter 02: how a load balancer (负载均衡) should dispatch recommendation requests.

The pieces, in the order the notebook uses them:

* :mod:`.strategies` - the dispatch strategies behind one interface (``pick``, ``assign``,
  ``add``, ``remove``): round robin, smooth weighted round robin, random, least connections,
  power of two choices, modulo hashing, consistent hashing on a ring, jump hash, rendezvous
  hashing, Maglev, and consistent hashing with bounded loads; plus ``keys_moved`` and the
  theory the measurements are checked against.
* :mod:`sparrow_course.traffic` (shared with chapter 03) - seeded request streams: Poisson or a
  diurnal day with bursts, Zipf-like users and items, optional hot keys; re-exported here.
* :mod:`.simulator` - a serving cluster of nodes with speeds, workers, a FIFO queue and a
  feature cache each; latency percentiles, utilisation, queueing, rejections, cache hits.
* :mod:`.engine` - one cluster engine that dispatches request by request, with hooks for
  membership changes and periodic decisions: the simulator, the autoscaler and the resize
  experiment all drive it.
* :mod:`.resize` - what a resize costs: a node joining or failing mid-run, and the per-node
  cache each strategy needs for a target hit ratio.
* :mod:`.autoscaling` - threshold autoscaling over a day: node-hours against SLO violations.
* :mod:`.explorer` - the chapter's explorer: one short run for a setting (strategy, nodes, load,
  hot-key share, a node joining), returned as the figure's data.
* :mod:`.hashing` - fixed 64-bit hashes (never Python's salted ``hash()``).
"""
from __future__ import annotations

from .autoscaling import (AutoscalingResult, around_changes, ScalingPolicy, compare_policies, simulate_autoscaling,
                          smallest_fixed_cluster, tune_under_dispatch)
from .engine import ClusterEngine
from .explorer import EXPLORER_CONTROLS, EXPLORER_STRATEGIES, ClusterView, cluster_summary, draw_cluster, explore_cluster
from .resize import EVENTS, cache_entries_for_hit_ratio, resize_experiment, run_with_resize
from .hashing import hash_keys, splitmix64, stable_hash
from .simulator import (
    POPULATION,
    Node,
    SimulationResult,
    compare_balancers,
    erlang_c_mean_wait,
    fifo_start_times,
    key_affinity,
    make_cluster,
    mm1_mean_wait,
    simulate,
    summary_table,
    ttl_cache_hits,
)
from .strategies import (
    STRATEGIES,
    Balancer,
    BoundedLoadHash,
    ConsistentHashRing,
    JumpHash,
    LeastConnections,
    Load,
    MaglevHash,
    ModuloHash,
    PowerOfTwoChoices,
    RandomChoice,
    RendezvousHash,
    RoundRobin,
    SmoothWeightedRoundRobin,
    consistent_moved_theory,
    jump_hash,
    keys_moved,
    keys_moved_on_resize,
    keys_moved_table,
    ring_spread_table,
    load_shares,
    make_balancer,
    modulo_moved_theory,
    ring_share_cv,
)
from ..traffic import DIURNAL_PROFILE, Population, Requests, diurnal_rate, diurnal_traffic, poisson_traffic, zipf_probabilities

__all__ = [
    "around_changes", "AutoscalingResult", "Balancer", "cluster_summary", "ClusterView", "draw_cluster", "EXPLORER_CONTROLS",
    "EXPLORER_STRATEGIES", "explore_cluster", "BoundedLoadHash", "cache_entries_for_hit_ratio", "ClusterEngine",
    "compare_balancers", "compare_policies", "consistent_moved_theory", "ConsistentHashRing", "DIURNAL_PROFILE",
    "diurnal_rate", "diurnal_traffic", "erlang_c_mean_wait", "EVENTS", "fifo_start_times", "hash_keys", "jump_hash",
    "JumpHash", "key_affinity", "keys_moved", "keys_moved_on_resize", "keys_moved_table", "LeastConnections",
    "Load", "load_shares", "MaglevHash", "make_balancer", "make_cluster", "mm1_mean_wait", "modulo_moved_theory",
    "ModuloHash", "Node", "poisson_traffic", "POPULATION", "Population", "PowerOfTwoChoices", "RandomChoice",
    "RendezvousHash", "Requests", "resize_experiment", "ring_share_cv", "ring_spread_table", "RoundRobin",
    "run_with_resize", "ScalingPolicy", "simulate", "simulate_autoscaling", "SimulationResult",
    "smallest_fixed_cluster", "SmoothWeightedRoundRobin", "splitmix64", "stable_hash", "STRATEGIES",
    "summary_table", "ttl_cache_hits", "tune_under_dispatch", "zipf_probabilities",
]
