"""Chapter 09 exercises: change the quota, the TTL and the number of workers; predict, then measure."""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from .core import Case, ChoiceQuestion, FunctionQuestion, ValueQuestion, questions

SEED = 2024
K = 10
TTL = 600


@lru_cache(maxsize=1)
def _split():
    from .. import datasets

    ml = datasets.load_movielens()
    train, test = datasets.user_time_split(ml.ratings)
    return ml, train, test


def _eval_setup():
    from .. import datasets

    ml, train, test = _split()
    truth_all = datasets.positive(test)
    users = np.sort(np.random.default_rng(SEED).permutation(np.unique(truth_all["userId"]))[:800])
    return ml, train, users, truth_all[truth_all["userId"].isin(users)]


@lru_cache(maxsize=1)
def _quota_recalls() -> tuple[float, float]:
    from .. import serving
    from ..metrics import evaluate_top_k

    ml, train, users, truth = _eval_setup()
    frames = serving.recall_all(serving.fit_channels(ml, train, eges_walks=5000, seed=SEED), users, 100)
    return tuple(evaluate_top_k(serving.merge(frames, K, "quotas", quotas=q), truth, K)[f"recall@{K}"] for q in (1, 4))


def _quota_answer() -> str:
    one, four = (round(x, 3) for x in _quota_recalls())
    return "c" if one == four else ("a" if one > four else "b")


def _window():
    from .. import serving, traffic

    ml, train, _ = _split()
    trace = traffic.generate_trace(ml.users, n_sessions=2000, seed=SEED)
    return serving.trace_window(trace, 240, known=np.unique(train["userId"]))


def _ttl_answer() -> str:
    from .. import caching, serving

    window = _window()
    keys = pd.factorize(pd.Series([serving.list_key(r) for r in window.to_dict(orient="records")]))[0]
    full = caching.replay_ttl(keys, window["time"], TTL).hit_ratio
    half = caching.replay_ttl(keys, window["time"], TTL / 2).hit_ratio
    drop = full - half
    return "a" if drop > 0.05 else ("b" if drop > 0 else "c")


def _stream_users() -> np.ndarray:
    from .. import traffic

    _, train, _ = _split()
    known = np.unique(train["userId"].to_numpy(np.int64))
    stream = traffic.poisson_traffic(50.0, 240 / 50.0, n_users=150, user_skew=0.9, user_offset=5.0, seed=SEED)
    return np.unique(known[stream.user % len(known)])


def _moved(n_before: int) -> float:
    from ..balancing import ConsistentHashRing, keys_moved

    names = [f"worker-{i}" for i in range(n_before)]
    before = ConsistentHashRing(names, seed=SEED)
    after = ConsistentHashRing(names + ["worker-0-joined"], seed=SEED)
    return round(keys_moved(before, after, _stream_users()), 3)


# --------------------------------------------------------------------------- q1: the quota

q1 = ValueQuestion(
    """
    Merge the channels' frames of section 1 (`frames`) by quotas with
    `serving.merge(frames, K, "quotas", quotas=Q)` for Q = 1 and for Q = 4 (an int gives every
    channel that quota), and measure recall@K of each against `truth`
    (`metrics.evaluate_top_k(merged, truth, K)`). Which recalls more? Answer "a" (Q = 1),
    "b" (Q = 4) or "c" (the same to 3 decimals).
    """,
    expected=_quota_answer,
    hints=[
        "With K = 10 and five channels, a quota of 1 fills only half the list from the quotas; "
        "the rest is filled rank by rank across channels. A quota of 4 lets the first channels fill it all.",
        "Which channels come first in `frames`, and how good are they alone (section 1's table)? "
        "Run both merges and compare `evaluate_top_k(...)[f'recall@{K}']`.",
    ],
    wrong_answers=lambda: [o for o in ("a", "b", "c") if o != _quota_answer()],
    explanations={"a": "Measure it: the two merges differ in which channels fill the list.",
                  "b": "Measure it: the two merges differ in which channels fill the list.",
                  "c": "The two merges do not give the same lists: measure both."},
    explanation="A quota decides which channels a short list is made of: with 4 each, the first channels "
                "in the order fill the list and the later ones never get in.",
    reruns_experiment=True,
)


# --------------------------------------------------------------------------- q2: keys moved on a join

def _moved_share(n_workers):
    return 1.0 / (n_workers + 1)


q2 = FunctionQuestion(
    """
    In chapter 02's theory, when one worker joins N workers on a consistent-hash ring, what share
    of the keys move? Write `moved_share(n_workers)` returning it as a fraction (a float in
    [0, 1]) for `n_workers` = N before the join (an int >= 1).
    """,
    _moved_share,
    [Case((1,)), Case((3,)), Case((4,)), Case((9,))],
    hints=[
        "The newcomer takes over the arcs in front of its points; on average its share of the ring is "
        "that of any node once there are N + 1 of them.",
        "`return 1 / (n_workers + 1)`",
    ],
    wrong_answers=[lambda n: n / (n + 1), lambda n: 1 / n],
    explanation="Only the newcomer's share moves, 1/(N+1); modulo hashing would move N/(N+1).",
)


# --------------------------------------------------------------------------- q3: the TTL

q3 = ChoiceQuestion(
    """
    Replay the trace window of section 4 (`window`) through chapter 03's TTL replay with the TTL
    halved: `caching.replay_ttl(keys, window["time"], TTL / 2).hit_ratio`, with
    `keys = pd.factorize(pd.Series([serving.list_key(r) for r in window.to_dict(orient="records")]))[0]`.
    Compared with the hit ratio at `TTL`, what happens? Answer with the option's letter, a string.
    """,
    options={"a": "it falls by more than 0.05", "b": "it falls by 0.05 or less", "c": "it does not fall"},
    answer=_ttl_answer,
    why_wrong={"a": "Measure it: compare the TTL with the length of a session.",
               "b": "Measure it: does a 5-minute TTL still outlive most sessions?",
               "c": "A shorter TTL can only expire entries earlier: measure how much."},
    hints=[
        "A list cache misses once per session and then again only when the entry expires: compare the "
        "TTL with how long a session of a few requests, about 40 s apart, lasts.",
        "Replay both TTLs with `caching.replay_ttl(keys, window['time'], ttl).hit_ratio` and subtract.",
    ],
    explanation="Past the length of a session, a longer TTL buys only repeat visits: the knee chapter 03 found.",
)


# --------------------------------------------------------------------------- q4: the number of workers

q4 = ValueQuestion(
    """
    With 4 workers instead of 3 before the join, measure the share of users that move when a fifth
    joins, with chapter 02's ring on the users of section 5:
    `balancing.keys_moved(before, after, users)` with
    `before = balancing.ConsistentHashRing([f"worker-{i}" for i in range(4)], seed=SEED)`,
    `after` the same ring with "worker-0-joined" added (build it with the five names), and
    `users = np.unique(stream.user)`. A float in [0, 1], to 3 decimals.
    """,
    expected=lambda: _moved(4),
    hints=[
        "Theory says about 1/(N+1) for N workers before the join; the measurement differs by the ring's "
        "uneven arcs and by which users the stream holds.",
        "`balancing.keys_moved(ConsistentHashRing(names4, seed=SEED), ConsistentHashRing(names4 + "
        "['worker-0-joined'], seed=SEED), np.unique(stream.user))`, rounded to 3 decimals.",
    ],
    wrong_answers=[lambda: _moved(3), 0.8],
    decimals=3,
    explanation="One more worker before the join shrinks the newcomer's share: fewer keys move, and each "
                "worker's cache loses less.",
)


QUESTIONS = questions(globals())
