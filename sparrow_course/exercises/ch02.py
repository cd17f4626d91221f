"""Chapter 02 exercises: load balancing (smooth weighted round robin, ring lookup, keys moved, queueing)."""
from __future__ import annotations

from bisect import bisect_left, bisect_right

from .core import Case, FunctionQuestion, MultipartQuestion, ThoughtQuestion, ValueQuestion, questions

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
        "Loop n times. Inside: one loop adding weights, then `best = max(range(len(weights)), key=lambda j: current[j])` "
        "(Python's max keeps the first of equal values), then `current[best] -= sum(weights)`.",
        "Over any sum(weights) consecutive requests each node is chosen exactly weight times: check that on your output.",
    ],
    wrong_answers=[_blocky_wrr, _never_pays_back],
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
        "`i = bisect_left(points, h)` is the index of the first point >= h; it equals len(points) when h is past the last one.",
        "Wrap with `i % len(points)`.",
    ],
    wrong_answers=[_ring_no_wrap, _ring_bisect_right, _ring_predecessor],
)

# --------------------------------------------------------------------------- q3


def _modulo_moved(n):
    return n / (n + 1)


def _consistent_moved_grow(n):
    return 1 / (n + 1)


def _consistent_moved_shrink(n):
    return 1 / n


q3 = MultipartQuestion(
    """
    **Expected share of keys that move** when the number of nodes changes; keys hash uniformly.
    Each part is a function of the current number of nodes `n`.
    (a) `modulo_grow(n)`: modulo hashing, `n` -> `n + 1` nodes (a key stays only if hash mod n equals hash mod (n+1)).
    (b) `consistent_grow(n)`: consistent hashing, `n` -> `n + 1` nodes (the new node takes its share).
    (c) `consistent_shrink(n)`: consistent hashing, `n` -> `n - 1` nodes (one node fails).
    """,
    {
        "a": FunctionQuestion(
            "modulo hashing, n -> n + 1 nodes",
            _modulo_moved,
            [(2,), (3,), (10,), (100,)],
            hints=["Among any n(n+1) consecutive hash values, exactly n keep their bucket (those below n): the others move."],
            wrong_answers=[_consistent_moved_grow, lambda n: 1 / n],
        ),
        "b": FunctionQuestion(
            "consistent hashing, n -> n + 1 nodes",
            _consistent_moved_grow,
            [(2,), (3,), (10,), (100,)],
            hints=["Only keys that now belong to the new node move; on average it owns 1/(n+1) of the ring."],
            wrong_answers=[_modulo_moved, _consistent_moved_shrink],
        ),
        "c": FunctionQuestion(
            "consistent hashing, n -> n - 1 nodes",
            _consistent_moved_shrink,
            [(2,), (3,), (10,), (100,)],
            hints=["Only the failed node's keys move, and it owned 1/n of the ring."],
            wrong_answers=[lambda n: 1 / (n - 1), _modulo_moved],
        ),
    },
)

# --------------------------------------------------------------------------- q4

q4 = ValueQuestion(
    """
    **Queueing check.** One node serves requests one at a time, with exponential service of
    mean 10 ms (mu = 100 per second); requests arrive as a Poisson stream of lambda = 80 per
    second. What is the mean time a request **waits in the queue** before service starts, in
    seconds? (This is the closed form the simulator is tested against.)
    """,
    lambda: (80 / 100) / (100 - 80),
    hints=["M/M/1: rho = lambda / mu; mean wait in queue W_q = rho / (mu - lambda)."],
    wrong_answers=[0.05, 0.8, 0.01],
    explanations={
        0.05: "That is 1 / (mu - lambda), the mean time in the system: queueing plus the 10 ms of service.",
        0.8: "That is rho, the utilisation; the wait also depends on how fast the backlog drains (mu - lambda).",
        0.01: "That is the mean service time, not the wait.",
    },
)

# --------------------------------------------------------------------------- q5

q5 = ThoughtQuestion(
    """
    Your autoscaler adds a node when utilisation exceeds 60% and removes one below 55%, with a
    2-second cool-down, and the dashboard shows nodes being added and removed every few
    minutes. Why does this happen, which two settings stop it, and what does each cost?
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
)

QUESTIONS = questions(globals())
