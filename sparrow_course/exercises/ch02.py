"""Chapter 02 exercises: smooth weighted round robin, ring lookup, and three measurements (resize cost, queueing, cache memory)."""
from __future__ import annotations

from bisect import bisect_left, bisect_right

import functools

from .. import balancing
from .core import FunctionQuestion, ThoughtQuestion, ValueQuestion, questions

# --------------------------------------------------------------------------- q1


def _smooth_wrr(weights, n):
    current = [0] * len(weights)
    total = sum(weights)
    order = []
    for _ in range(n):
        for j, w in enumerate(weights):
            current[j] += w
        best = max(range(len(weights)), key=lambda j: (current[j], -j))  # largest current, first on ties
        current[best] -= total
        order.append(best)
    return order


def _blocky_wrr(weights, n):
    # a typical mistake: node j repeated weight_j times in a row
    cycle = [j for j, w in enumerate(weights) for _ in range(w)]
    return [cycle[i % len(cycle)] for i in range(n)]


def _never_pays_back(weights, n):
    # a typical mistake: the chosen node never pays back the total, so the heaviest wins every turn
    current = [0] * len(weights)
    order = []
    for _ in range(n):
        for j, w in enumerate(weights):
            current[j] += w
        order.append(max(range(len(weights)), key=lambda j: (current[j], -j)))
    return order


q1 = FunctionQuestion(
    """
    Implement nginx's **smooth weighted round robin**. `smooth_wrr(weights, n)` returns the
    indices of the nodes chosen for `n` requests. Keep a `current` value per node, starting at
    0. For each request: add every node's weight to its `current`; choose the node with the
    largest `current` (the first one on ties); subtract the **total** weight from the chosen
    node's `current`. With weights `[5, 1, 1]` the first seven choices are `[0, 0, 1, 0, 2, 0, 0]`.
    """,
    _smooth_wrr,
    [([5, 1, 1], 7), ([5, 1, 1], 14), ([1, 1], 4), ([3, 2], 10), ([2, 3, 4], 18), ([1], 3)],
    hints=[
        "Keep one list `current` for the whole run and update it in place at every request: every node gains, "
        "only the chosen one pays.",
        "Over any sum(weights) consecutive requests each node is chosen exactly weight times: check that on your output.",
        "For each of the n requests: add each node's weight to its `current`; take the index with the largest "
        "`current` (`max` over the indices with a key keeps the first of equal values); subtract the total weight "
        "from that node's `current` and record the index.",
    ],
    wrong_answers=[_blocky_wrr, _never_pays_back],
    explanation="Paying back the total weight spreads a heavy node's turns out instead of bunching them: nginx's rule.",
)

# --------------------------------------------------------------------------- q2


def _ring_lookup(points, owners, h):
    i = bisect_left(points, h)
    return owners[i % len(points)]


def _ring_no_wrap(points, owners, h):
    # a typical mistake: a hash after the last point falls off the end instead of wrapping to the first
    return owners[min(bisect_left(points, h), len(points) - 1)]


def _ring_bisect_right(points, owners, h):
    # a typical mistake: a key exactly on a point goes to the next point
    return owners[bisect_right(points, h) % len(points)]


def _ring_predecessor(points, owners, h):
    # a typical mistake: walking counter-clockwise (the point before the key)
    return owners[(bisect_right(points, h) - 1) % len(points)]


q2 = FunctionQuestion(
    """
    **Ring lookup with bisect.** `points` is the sorted list of a consistent-hash ring's
    positions and `owners[i]` the node that placed `points[i]`. A key with hash `h` belongs to
    the first point at or after `h`, going clockwise and wrapping round past the largest
    position. Write `ring_lookup(points, owners, h)` with `bisect.bisect_left` (O(log n), no loop).
    """,
    _ring_lookup,
    [
        ([10, 20, 30], ["a", "b", "c"], 15),
        ([10, 20, 30], ["a", "b", "c"], 5),
        ([10, 20, 30], ["a", "b", "c"], 35),   # past the last point: wraps to the first
        ([10, 20, 30], ["a", "b", "c"], 20),   # exactly on a point: that point's owner
        ([10, 20, 30], ["a", "b", "c"], 30),
        ([3, 8, 40, 41, 90], ["x", "y", "x", "z", "y"], 41),
        ([3, 8, 40, 41, 90], ["x", "y", "x", "z", "y"], 91),
        ([3, 8, 40, 41, 90], ["x", "y", "x", "z", "y"], 0),
    ],
    hints=[
        "Which index does `bisect_left` return for an `h` larger than every point, and is that a valid index?",
        "`i = bisect_left(points, h)` is the index of the first point >= h; wrap it with `i % len(points)`.",
    ],
    wrong_answers=[_ring_no_wrap, _ring_bisect_right, _ring_predecessor],
    explanation="A binary search over sorted points is how ketama and nginx find a key's server in O(log n).",
)

# --------------------------------------------------------------------------- shared scenarios

POPULATION = balancing.POPULATION   # the chapter's users, as the notebook's scenarios use them


@functools.lru_cache(maxsize=None)
def _resize_ratio(n_nodes: int, event: str) -> float:
    """Extra feature-store fetches of modulo hashing over the ring's, when a node joins or fails."""
    requests = balancing.poisson_traffic(175, 360, seed=2024, **POPULATION)
    cluster = balancing.make_cluster([1.0] * n_nodes, workers=2)
    _, costs = balancing.resize_experiment(requests, cluster, ["modulo", "ring"], at=180)
    extra = costs.set_index(["strategy", "event"])["extra_fetches"]
    return float(extra["modulo", event] / extra["ring", event])


@functools.lru_cache(maxsize=None)
def _queue_wait_ms() -> float:
    requests = balancing.poisson_traffic(80, 2000, seed=2024, mean_work=0.01)
    result = balancing.simulate(requests, [balancing.Node("solo")], balancing.make_balancer("round_robin", ["solo"]),
                                cache_ttl=0, miss_penalty=0)
    return result.summary()["mean_wait_ms"]


@functools.lru_cache(maxsize=None)
def _memory_ratio(n_nodes: int) -> float:
    requests = balancing.poisson_traffic(350, 360, seed=2024, **POPULATION)
    table = balancing.cache_entries_for_hit_ratio(requests.user, [f"node-{i}" for i in range(n_nodes)],
                                                  ["round_robin", "ring"], [0.5]).set_index("strategy")
    return float(table.loc["round_robin", "entries_per_node"] / table.loc["ring", "entries_per_node"])


# --------------------------------------------------------------------------- q3: what a resize costs

q3 = ValueQuestion(
    """
    **Measure what a resize costs on a smaller cluster.** Run the chapter's resize experiment on
    4 nodes instead of 8, at half the rate so each node is as busy:
    `resize_experiment(poisson_traffic(175, 360, seed=2024, **POPULATION), make_cluster([1.0] * 4, workers=2),
    ["modulo", "ring"], at=180)`. When a node **joins**, how many times more extra feature-store
    fetches does modulo hashing cause than the ring (modulo's `extra_fetches` divided by the
    ring's), to 1 decimal?
    """,
    lambda: _resize_ratio(4, "join"),
    decimals=1,
    hints=[
        "The cost table has one row per strategy and event; divide two values of its `extra_fetches` column.",
        "Theory says modulo moves N/(N+1) of the keys and the ring 1/(N+1): the ratio should be near N, but measure it.",
    ],
    wrong_answers=[lambda: 1 / _resize_ratio(4, "join"), lambda: _resize_ratio(4, "fail")],
    explanation="Modulo moves N/(N+1) of the keys, the ring 1/(N+1): the ratio of cold-cache fetches grows with N.",
    reruns_experiment=True,
)

# --------------------------------------------------------------------------- q4: queueing check

q4 = ValueQuestion(
    """
    **Check the simulator against M/M/1.** One node (speed 1, one worker), Poisson arrivals at 80
    per second, exponential work of mean 10 ms, cache off:
    `simulate(poisson_traffic(80, 2000, seed=2024, mean_work=0.01), [Node("solo")], make_balancer("round_robin", ["solo"]), cache_ttl=0, miss_penalty=0)`.
    What mean wait in the queue does it measure (the summary's `mean_wait_ms`), in milliseconds
    to 1 decimal? Compare it with the M/M/1 value from section 1.
    """,
    _queue_wait_ms,
    decimals=1,
    hints=[
        "Run the call and read one key of `result.summary()`.",
        "The wait excludes the service itself; `mean_ms` includes it.",
    ],
    wrong_answers=[40.0, lambda: _queue_wait_ms() / 1000, lambda: _queue_wait_ms() + 10.0],
    explanation="A finite run scatters around W_q = rho / (mu - lambda) = 40 ms: the simulator agrees with theory within sampling noise.",
)

# --------------------------------------------------------------------------- q5

q5 = ThoughtQuestion(
    """
    Your autoscaler adds a node when utilisation exceeds 60% and removes one below 55%, with a
    short cool-down (6 minutes of the day, as in section 6), and the dashboard shows nodes
    being added and removed all day. Why does this happen, which two settings stop it, and
    what does each cost?
    """,
    """
    Adding a node drops utilisation by about 1/N, which can push it straight under the lower
    threshold; removing it pushes it back over the upper one: the cluster flaps (and every new
    node starts with a cold cache). (1) Hysteresis: widen the gap between the thresholds to more
    than one node's share of the load, so a single step cannot cross both. (2) A longer
    cool-down, above all before scaling in, so the metric reflects the last action before the
    next one. The cost of both is slower reaction: more node-hours spent after a peak, and, if
    the scale-out cool-down is long, more SLO violations when a burst comes.
    """,
    hints=["Work out what one added node does to the utilisation of the others, and compare that step "
           "with the gap between the two thresholds."],
    explanation="Flapping is a control-loop problem: hysteresis and cool-downs trade reaction speed for stability.",
)

# --------------------------------------------------------------------------- q6: cache memory per node

q6 = ValueQuestion(
    """
    **How much memory does affinity save?** With the section-4 traffic
    (`poisson_traffic(350, 360, seed=2024, **POPULATION)`) on **4** nodes instead of 8, run
    `cache_entries_for_hit_ratio(requests.user, [f"node-{i}" for i in range(4)], ["round_robin", "ring"], [0.5])`.
    How many times more entries per node does round robin need than the ring to reach a hit
    ratio of 0.5 (round robin's `entries_per_node` divided by the ring's), to 1 decimal?
    """,
    lambda: _memory_ratio(4),
    decimals=1,
    hints=[
        "One row per strategy: divide the two `entries_per_node` values.",
        "Under round robin every node sees every user, so each node's cache must hold far more of them.",
    ],
    wrong_answers=[lambda: 1 / _memory_ratio(4), 4.0],
    explanation="Hashing gives each node 1/N of the users, so each cache needs far fewer entries: the lesson's reason to hash.",
)

QUESTIONS = questions(globals())
