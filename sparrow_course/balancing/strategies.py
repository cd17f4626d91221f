"""Dispatch strategies behind one interface: pick a node for a request, add and remove nodes.

Every strategy is a :class:`Balancer`. ``pick(key, load)`` chooses one node for one request
and returns its name; ``assign(keys)`` chooses for a whole array of requests at once and
returns positions in ``balancer.nodes`` (state-free strategies only: their choice does not
depend on how busy the nodes are, so numpy can make a million choices in one go). The
load-aware strategies (least connections, two choices, bounded loads) need the live number
of requests in flight on each node; the simulator's event loop feeds them.

=====================  ===========  ===========  =================================================
strategy               uses the key needs load   in production
=====================  ===========  ===========  =================================================
RoundRobin             no           no           nginx default without weights
SmoothWeightedRR       no           no           nginx ``weight=``, LVS wrr
RandomChoice           no           no           nginx ``random``
LeastConnections       no           yes          nginx ``least_conn``, Envoy least request
PowerOfTwoChoices      optional     yes          nginx ``random two least_conn``
ModuloHash             yes          no           nginx ``hash $key`` (without ``consistent``)
ConsistentHashRing     yes          no           nginx ``hash $key consistent`` (ketama)
JumpHash               yes          no           Lamping & Veach 2014
RendezvousHash         yes          no           highest random weight (Thaler & Ravishankar 1998)
MaglevHash             yes          no           Google Maglev (Eisenbud et al. 2016), Envoy
BoundedLoadHash        yes          yes          HAProxy ``hash-balance-factor``, Vimeo
=====================  ===========  ===========  =================================================
"""
from __future__ import annotations

import math
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from ..checks import check_bool, check_choice, check_int, check_memory, check_number, check_seed, check_str
from ..seeding import DEFAULT_SEED
from .hashing import hash_keys, hash_stream, splitmix64, stable_hash, unit_interval

__all__ = [
    "Balancer",
    "BoundedLoadHash",
    "ConsistentHashRing",
    "JumpHash",
    "LeastConnections",
    "Load",
    "MaglevHash",
    "ModuloHash",
    "PowerOfTwoChoices",
    "RandomChoice",
    "RendezvousHash",
    "RoundRobin",
    "STRATEGIES",
    "SmoothWeightedRoundRobin",
    "consistent_moved_theory",
    "jump_hash",
    "keys_moved",
    "keys_moved_on_resize",
    "keys_moved_table",
    "load_shares",
    "make_balancer",
    "modulo_moved_theory",
    "ring_share_cv",
    "ring_spread_table",
]

Chooser = Callable[[int], int]


# --------------------------------------------------------------------------- validation

def _check_name(node: object) -> str:
    name = check_str(node, "node name")
    if not name.strip():
        raise ValueError(f"node name must not be blank, got {node!r}")
    return name


def _check_weight(node: str, weight: object) -> float:
    return check_number(weight, f"weight of {node!r}", low=0, include_low=False)


def _parse_nodes(nodes: Sequence[str] | Mapping[str, float] | Iterable) -> list[tuple[str, float]]:
    """Accept names, {name: weight}, or objects with ``.name`` and ``.capacity`` (simulator nodes)."""
    if isinstance(nodes, (str, bytes)):
        raise TypeError("nodes must be a list of names or a {name: weight} dict, not a single string")
    if isinstance(nodes, Mapping):
        pairs = list(nodes.items())
    else:
        pairs = []
        for node in nodes:
            if hasattr(node, "name") and hasattr(node, "capacity"):
                pairs.append((node.name, node.capacity))
            else:
                pairs.append((node, 1.0))
    return [(_check_name(n), _check_weight(n, w)) for n, w in pairs]


# --------------------------------------------------------------------------- base class

class Balancer:
    """A load balancer over named nodes with positive weights (capacity shares)."""

    label = "balancer"
    stateful = False   # does the choice depend on the live load of the nodes?
    uses_key = False   # does the choice depend on a key of the request (user id, item id)?
    weighted = True    # are unequal weights meaningful for this strategy?

    def __init__(self, nodes: Sequence[str] | Mapping[str, float] = (), *, seed: int = DEFAULT_SEED) -> None:
        self.seed = check_seed(seed)
        self._rng = np.random.default_rng(self.seed)
        self._names: list[str] = []
        self._weights: list[float] = []
        for name, weight in _parse_nodes(nodes):
            self._insert(name, weight)
        self._rebuild()

    # ---- membership
    @property
    def nodes(self) -> tuple[str, ...]:
        """Node names, in the order that ``assign`` indexes."""
        return tuple(self._names)

    @property
    def weights(self) -> np.ndarray:
        """Node weights, aligned with ``nodes``."""
        return np.array(self._weights, dtype=float)

    def __len__(self) -> int:
        return len(self._names)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} nodes)"

    def _insert(self, name: str, weight: float) -> None:
        if name in self._names:
            raise ValueError(f"node {name!r} is already in the balancer")
        if not self.weighted and self._weights and weight != self._weights[0]:
            raise ValueError(
                f"{self.label} cannot honour weights (got {weight:g} for {name!r}, others have "
                f"{self._weights[0]:g}); give every node the same weight, or use a weighted strategy "
                "(smooth weighted round robin, ring, rendezvous, least connections)")
        self._names.append(name)
        self._weights.append(weight)

    def add(self, node: str, weight: float = 1.0) -> None:
        """Add a node (a server joins)."""
        name = _check_name(node)
        self._insert(name, _check_weight(name, weight))
        self._rebuild()

    def remove(self, node: str) -> None:
        """Remove a node (a server fails or is shut down)."""
        if node not in self._names:
            raise ValueError(f"cannot remove {node!r}: no such node; nodes are {list(self._names)}")
        i = self._names.index(node)
        del self._names[i]
        del self._weights[i]
        self._rebuild()

    def _rebuild(self) -> None:
        """Recompute derived structures (rings, tables) after a membership change."""

    def _require_nodes(self) -> None:
        if not self._names:
            raise ValueError(f"{self.label} has no nodes: add at least one node before dispatching requests")

    # ---- choosing
    def pick(self, key: int | str | None = None, load: Mapping[str, int] | Sequence[int] | None = None) -> str:
        """Choose the node for one request; ``key`` for hashing strategies, ``load`` (in flight per node) for load-aware ones."""
        self._require_nodes()
        if self.uses_key and key is None:
            raise ValueError(f"{self.label} dispatches on a request key: pass key=<user or item id>")
        h = int(hash_keys([key])[0]) if (self.uses_key and key is not None) else None
        if self.stateful:
            inflight = self._load_list(load)
            return self._names[self._pick_loaded(h, inflight)]
        return self._names[int(self._assign(None if h is None else np.array([h], dtype=np.uint64), 1)[0])]

    def assign(self, keys: Sequence | np.ndarray | None = None, *, size: int | None = None) -> np.ndarray:
        """Choose nodes for many requests at once: positions in ``nodes`` (state-free strategies only)."""
        self._require_nodes()
        if self.stateful:
            raise TypeError(
                f"{self.label} depends on the live load of the nodes, so it cannot assign requests in "
                "advance; run it through simulate(), or call pick(key, load) request by request")
        if self.uses_key:
            if keys is None:
                raise ValueError(f"{self.label} dispatches on a request key: pass the keys (user or item ids)")
            h = hash_keys(keys)
            return self._assign(h, h.size)
        n = len(keys) if keys is not None else size
        if n is None or isinstance(n, bool) or int(n) != n or n < 0:
            raise ValueError(f"pass keys or size=<number of requests> (a non-negative int), got {n!r}")
        return self._assign(None, int(n))

    def _assign(self, hashes: np.ndarray | None, n: int) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _pick_loaded(self, h: int | None, inflight: list[int]) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def _load_list(self, load: Mapping[str, int] | Sequence[int] | None) -> list[int]:
        if load is None:
            return [0] * len(self._names)
        if isinstance(load, Mapping):
            unknown = set(load) - set(self._names)
            if unknown:
                raise ValueError(f"load names unknown nodes {sorted(unknown)}; nodes are {list(self._names)}")
            values = [load.get(n, 0) for n in self._names]
        else:
            values = list(load)
            if len(values) != len(self._names):
                raise ValueError(f"load has {len(values)} entries, expected one per node ({len(self._names)})")
        for v in values:
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
                raise ValueError(f"load must be non-negative integers (requests in flight), got {v!r}")
        return [int(v) for v in values]

    def chooser(self, load: "Load", hashes: np.ndarray | None = None, *, size: int) -> Chooser:
        """A fast chooser for a batch of ``size`` requests: ``choose(i)`` is the position of request i's node.

        This is how an event loop dispatches: it keeps ``load`` (a :class:`Load` over this
        balancer's nodes) current as requests start and finish, and calls ``choose(i)`` for
        the i-th request of the batch in arrival order. ``hashes`` are the batch's request keys
        hashed with :func:`hash_keys` (needed when ``uses_key``). State-free strategies decide
        the whole batch at once and ignore ``load``; load-aware ones read ``load.inflight`` and
        ``load.score`` at each call.
        """
        self._require_nodes()
        if not isinstance(load, Load) or len(load.inflight) != len(self._names):
            raise TypeError(f"load must be a Load over this balancer's {len(self._names)} nodes")
        if self.uses_key and hashes is None:
            raise ValueError(f"{self.label} dispatches on a request key: pass hashes=hash_keys(keys)")
        return self._make_chooser(hashes, size, load)

    def _make_chooser(self, hashes: np.ndarray | None, n: int, load: "Load") -> Chooser:
        return self._assign(hashes, n).tolist().__getitem__


class Load:
    """The live load of a balancer's nodes, as load-aware strategies read it (kept current by the dispatcher).

    ``inflight[j]``: requests on node j (its position in ``balancer.nodes``) not yet finished.
    ``score[j]``: ``(inflight[j] + 1) / weight[j]``, the load node j would carry per unit of
    capacity if it took the next request (Envoy's least-request rule). Call ``started(j)``
    when node j accepts a request and ``finished(j)`` when it completes one; the cluster
    engine updates the two lists inline, with the same arithmetic, for speed.
    """

    __slots__ = ("inflight", "score", "inv_weight")

    def __init__(self, weights: Sequence[float], inflight: Sequence[int] | None = None) -> None:
        self.inv_weight = [1.0 / float(w) for w in weights]
        self.inflight = [0] * len(self.inv_weight) if inflight is None else [int(c) for c in inflight]
        if len(self.inflight) != len(self.inv_weight):
            raise ValueError(f"inflight has {len(self.inflight)} entries, expected one per node ({len(self.inv_weight)})")
        self.score = [(c + 1) * w for c, w in zip(self.inflight, self.inv_weight)]

    def started(self, j: int) -> None:
        """Node j accepted a request."""
        c = self.inflight[j] + 1
        self.inflight[j] = c
        self.score[j] = (c + 1) * self.inv_weight[j]

    def finished(self, j: int) -> None:
        """Node j completed a request."""
        c = self.inflight[j] - 1
        self.inflight[j] = c
        self.score[j] = (c + 1) * self.inv_weight[j]


# --------------------------------------------------------------------------- turn-taking

class RoundRobin(Balancer):
    """Requests go to the nodes in turn, whatever their weights."""

    label = "round robin"
    weighted = False

    def __init__(self, nodes: Sequence[str] | Mapping[str, float] = (), *, seed: int = DEFAULT_SEED) -> None:
        self._next = 0
        # round robin ignores weights by definition: accept capacity-weighted node lists as plain names
        names = [n for n, _ in _parse_nodes(nodes)]
        super().__init__(names, seed=seed)

    def add(self, node: str, weight: float = 1.0) -> None:
        """Add a node; round robin ignores its weight."""
        _check_weight(_check_name(node), weight)
        super().add(node, 1.0)

    def _assign(self, hashes, n):
        out = (np.arange(n, dtype=np.int64) + self._next) % len(self._names)
        self._next = (self._next + n) % len(self._names)
        return out


class SmoothWeightedRoundRobin(Balancer):
    """nginx's smooth weighted round robin: node j gets weight_j of every sum(weights) requests, interleaved.

    Each turn every node's ``current`` grows by its weight, the largest is chosen, and the
    chosen one pays back the total weight. With weights 5, 1, 1 the order is a a b a c a a,
    not the bursty a a a a a b c of naive weighted round robin.
    """

    label = "smooth weighted round robin"

    def _rebuild(self) -> None:
        self._current = [0.0] * len(self._names)

    def _step(self) -> int:
        cur, w = self._current, self._weights
        best = 0
        for j in range(len(cur)):
            cur[j] += w[j]
            if cur[j] > cur[best]:
                best = j
        cur[best] -= sum(w)
        return best

    def _assign(self, hashes, n):
        total = sum(self._weights)
        integral = all(float(w).is_integer() for w in self._weights) and total <= 1_000_000
        if not integral or n <= total:
            return np.array([self._step() for _ in range(n)], dtype=np.int64)
        # With integer weights the order repeats every sum(weights) turns, from any state:
        # each node is chosen exactly weight times per period, so `current` comes back to itself.
        period = np.array([self._step() for _ in range(int(total))], dtype=np.int64)
        reps, rest = divmod(n, int(total))
        tail = np.array([self._step() for _ in range(rest)], dtype=np.int64)
        return np.concatenate([np.tile(period, reps), tail])


class RandomChoice(Balancer):
    """Each request goes to a random node, with probability proportional to its weight."""

    label = "random"

    def _assign(self, hashes, n):
        cdf = np.cumsum(self._weights)
        cdf /= cdf[-1]
        return np.minimum(np.searchsorted(cdf, self._rng.random(n), side="right"), len(cdf) - 1).astype(np.int64)


# --------------------------------------------------------------------------- load-aware

class LeastConnections(Balancer):
    """Send the request to the node with the fewest requests in flight per unit of weight."""

    label = "least connections"
    stateful = True

    def _rebuild(self) -> None:
        self._turn = 0

    def _pick_loaded(self, h, inflight):
        score = [(c + 1) / w for c, w in zip(inflight, self._weights)]
        best = min(score)
        # ties go round the nodes in turn (as nginx does), not always to the first node
        start = self._turn % len(score)
        self._turn += 1
        order = list(range(start, len(score))) + list(range(start))
        return next(j for j in order if score[j] == best)

    def _make_chooser(self, hashes, n, load):
        score = load.score
        n_nodes = len(self._names)
        offset = self._turn

        def choose(i: int) -> int:
            best = min(score)
            r = (i + offset) % n_nodes  # ties go round the nodes in turn
            return score.index(best, r) if best in score[r:] else score.index(best)

        return choose


class PowerOfTwoChoices(Balancer):
    """Sample two nodes, send the request to the less loaded one (Mitzenmacher; nginx ``random two``).

    ``hashed=True`` takes the two candidates from the key instead of at random (the key's two
    highest rendezvous scores), so a key lives on at most two nodes and keeps most of its cache
    affinity while a hot key can spill onto its second node.
    """

    label = "two choices"
    stateful = True

    def __init__(self, nodes=(), *, hashed: bool = False, seed: int = DEFAULT_SEED) -> None:
        self.hashed = check_bool(hashed, "hashed")
        self.uses_key = hashed
        if hashed:
            self.label = "two choices (hashed key)"
        super().__init__(nodes, seed=seed)

    def _rebuild(self) -> None:
        self._seeds = _node_seeds(self._names)

    def _candidates(self, hashes: np.ndarray | None, n: int) -> tuple[np.ndarray, np.ndarray]:
        m = len(self._names)
        if m == 1:
            zero = np.zeros(n, dtype=np.int64)
            return zero, zero
        if self.hashed:
            return _rendezvous_top2(hashes, self._seeds, np.asarray(self._weights))
        cdf = np.cumsum(self._weights)
        cdf /= cdf[-1]
        def draw(k: int) -> np.ndarray:
            return np.minimum(np.searchsorted(cdf, self._rng.random(k), side="right"), m - 1)
        first, second = draw(n), draw(n)
        clash = np.flatnonzero(first == second)
        while clash.size:  # the second candidate must differ from the first
            second[clash] = draw(clash.size)
            clash = clash[first[clash] == second[clash]]
        return first.astype(np.int64), second.astype(np.int64)

    def _pick_loaded(self, h, inflight):
        a, b = self._candidates(None if h is None else np.array([h], dtype=np.uint64), 1)
        a, b = int(a[0]), int(b[0])
        w = self._weights
        return a if (inflight[a] + 1) / w[a] <= (inflight[b] + 1) / w[b] else b

    def _make_chooser(self, hashes, n, load):
        score = load.score
        first, second = (c.tolist() for c in self._candidates(hashes, n))

        def choose(i: int) -> int:
            a, b = first[i], second[i]
            return a if score[a] <= score[b] else b

        return choose


# --------------------------------------------------------------------------- hashing

class ModuloHash(Balancer):
    """hash(key) mod N: simple and even, but when N changes almost every key moves."""

    label = "modulo hashing"
    uses_key = True
    weighted = False

    def _assign(self, hashes, n):
        return (hashes % np.uint64(len(self._names))).astype(np.int64)


class ConsistentHashRing(Balancer):
    """Consistent hashing (一致性哈希) on a ring with ``vnodes`` virtual nodes for a node of average weight.

    Weights are relative: a node gets ``vnodes x weight / mean weight`` points (at least one),
    so {"a": 1e6} builds 160 points, not 1.6e8.


    Each node is hashed to many points on a 64-bit ring; a key belongs to the first point at
    or after its own hash, wrapping round. Adding a node takes over only the arcs in front of
    its points; removing one hands its arcs to the points behind them.
    """

    label = "consistent hashing"
    uses_key = True

    def __init__(self, nodes=(), *, vnodes: int = 160, seed: int = DEFAULT_SEED) -> None:
        self.vnodes = check_int(vnodes, "vnodes", low=1)
        self._point_cache: dict[tuple[str, int], np.ndarray] = {}
        super().__init__(nodes, seed=seed)

    def _node_points(self, name: str, weight: float, mean_weight: float) -> np.ndarray:
        count = max(1, round(self.vnodes * weight / mean_weight))
        cached = self._point_cache.get((name, count))
        if cached is None:
            # the node's name seeds a stream of positions: deterministic, and one hash per node
            cached = hash_stream(stable_hash(name, salt=self.seed), count)
            self._point_cache[(name, count)] = cached
        return cached

    def _rebuild(self) -> None:
        if not self._names:
            self.points = np.zeros(0, dtype=np.uint64)
            self.owners = np.zeros(0, dtype=np.int64)
            return
        mean_weight = sum(self._weights) / len(self._weights)
        # ~vnodes points per node: 8-byte points and owners, twice over while sorting
        check_memory(32.0 * self.vnodes * len(self._names) + 32.0 * len(self._names),
                     f"a ring of {len(self._names)} nodes x vnodes={self.vnodes}")
        parts = [self._node_points(n, w, mean_weight) for n, w in zip(self._names, self._weights)]
        points = np.concatenate(parts)
        owners = np.repeat(np.arange(len(parts)), [p.size for p in parts])
        order = np.argsort(points, kind="stable")
        self.points, self.owners = points[order], owners[order]

    def _ring_index(self, hashes: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.points, hashes, side="left") % self.points.size

    def _assign(self, hashes, n):
        return self.owners[self._ring_index(hashes)]

    def shares(self) -> dict[str, float]:
        """Exact share of the hash space each node owns (the arcs ending at its points)."""
        self._require_nodes()
        gaps = np.diff(self.points, prepend=self.points[-1])  # wraps modulo 2**64 for the first arc
        frac = gaps.astype(np.float64) / 2.0**64
        if self.points.size == 1:
            frac = np.ones(1)
        per_node = np.bincount(self.owners, weights=frac, minlength=len(self._names))
        return {n: float(s) for n, s in zip(self._names, per_node / per_node.sum())}


class JumpHash(Balancer):
    """Jump consistent hash (Lamping & Veach 2014): no table, even spread, 1/(N+1) of keys move on growth.

    Buckets are numbered 0..N-1, so only the last node can leave; removing another would
    renumber the buckets and move far more keys.
    """

    label = "jump consistent hash"
    uses_key = True
    weighted = False

    def remove(self, node: str) -> None:
        """Remove the last node (jump hash can only shrink from the end)."""
        if self._names and node in self._names and node != self._names[-1]:
            raise ValueError(
                f"jump consistent hash numbers its buckets 0..N-1 and can only remove the last node "
                f"({self._names[-1]!r}), not {node!r}; use rendezvous or ring hashing when any node may fail")
        super().remove(node)

    def _assign(self, hashes, n):
        return jump_hash(hashes, len(self._names))


def jump_hash(hashes: np.ndarray, n_buckets: int) -> np.ndarray:
    """Vectorised jump consistent hash of uint64 keys into ``n_buckets`` buckets (Lamping & Veach, Fig. 1)."""
    n_buckets = check_int(n_buckets, "n_buckets", low=1)
    key = np.asarray(hashes, dtype=np.uint64).copy()
    b = np.full(key.size, -1, dtype=np.int64)
    j = np.zeros(key.size, dtype=np.int64)
    live = np.arange(key.size)
    while live.size:
        b[live] = j[live]
        k = key[live] * np.uint64(2862933555777941757) + np.uint64(1)
        key[live] = k
        j[live] = ((b[live] + 1) * (float(1 << 31) / ((k >> np.uint64(33)).astype(np.float64) + 1.0))).astype(np.int64)
        live = live[j[live] < n_buckets]
    return b


def _node_seeds(names: Sequence[str]) -> np.ndarray:
    return np.array([stable_hash(n, salt=7) for n in names], dtype=np.uint64)


def _rendezvous_scores(hashes: np.ndarray, seeds: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted rendezvous scores -w / ln(u), u a uniform hash of (key, node): argmax is the owner."""
    u = unit_interval(splitmix64(hashes[:, None] ^ seeds[None, :]).reshape(hashes.size, seeds.size))
    return -weights[None, :] / np.log(u)


def _rendezvous_top2(hashes: np.ndarray, seeds: np.ndarray, weights: np.ndarray, chunk: int = 200_000):
    first = np.empty(hashes.size, dtype=np.int64)
    second = np.empty(hashes.size, dtype=np.int64)
    for s in range(0, hashes.size, chunk):
        sc = _rendezvous_scores(hashes[s:s + chunk], seeds, weights)
        top = np.argsort(sc, axis=1)[:, -2:]
        first[s:s + chunk], second[s:s + chunk] = top[:, 1], top[:, 0]
    return first, second


class RendezvousHash(Balancer):
    """Rendezvous or highest-random-weight hashing: every node scores the key, the highest score wins.

    Weighted by the logarithmic method (Schindelhauer & Schomaker): score = -w / ln(u), so a
    node's share is exactly proportional to its weight. O(N) per lookup, no table.
    """

    label = "rendezvous hashing"
    uses_key = True

    def _rebuild(self) -> None:
        self._seeds = _node_seeds(self._names)

    def _assign(self, hashes, n, chunk: int = 200_000):
        out = np.empty(hashes.size, dtype=np.int64)
        weights = np.asarray(self._weights)
        for s in range(0, hashes.size, chunk):
            out[s:s + chunk] = np.argmax(_rendezvous_scores(hashes[s:s + chunk], self._seeds, weights), axis=1)
        return out


def _is_prime(m: int) -> bool:
    if m < 2:
        return False
    return all(m % p for p in range(2, int(math.isqrt(m)) + 1))


class MaglevHash(Balancer):
    """Google's Maglev hashing: a lookup table of prime size M filled by each node's own permutation.

    Nodes take turns claiming their next preferred free slot, so every node owns M/N slots
    (within one); a key goes to ``table[hash % M]``. Keep M > 100 N for shares within ~1%.
    """

    label = "Maglev hashing"
    uses_key = True
    weighted = False

    def __init__(self, nodes=(), *, table_size: int = 65537, seed: int = DEFAULT_SEED) -> None:
        table_size = check_int(table_size, "table_size", low=2)
        # the table is built as a Python list (8-byte slots plus int objects) and then a numpy array
        check_memory(48.0 * table_size, f"a Maglev table of table_size={table_size} slots")
        if not _is_prime(table_size):
            raise ValueError(f"table_size must be a prime number (e.g. 65537), got {table_size}")
        self.table_size = table_size
        super().__init__(nodes, seed=seed)

    def _rebuild(self) -> None:
        m, names = self.table_size, self._names
        if len(names) > m:
            raise ValueError(f"Maglev needs table_size > number of nodes ({len(names)}); got {m}")
        self.table = np.full(m, -1, dtype=np.int64)
        if not names:
            return
        offsets = [stable_hash(n, salt=1 + self.seed) % m for n in names]
        skips = [stable_hash(n, salt=2 + self.seed) % (m - 1) + 1 for n in names]
        table = [-1] * m
        nxt = [0] * len(names)
        filled = 0
        while True:
            for i in range(len(names)):
                c = (offsets[i] + nxt[i] * skips[i]) % m
                while table[c] >= 0:
                    nxt[i] += 1
                    c = (offsets[i] + nxt[i] * skips[i]) % m
                table[c] = i
                nxt[i] += 1
                filled += 1
                if filled == m:
                    self.table = np.array(table, dtype=np.int64)
                    return

    def _assign(self, hashes, n):
        return self.table[(hashes % np.uint64(self.table_size)).astype(np.int64)]


class BoundedLoadHash(ConsistentHashRing):
    """Consistent hashing with bounded loads (Mirrokni, Thorup, Zadimoghaddam 2016).

    No node may hold more than ceil((1 + epsilon) * m * w_j / W) of the m requests in flight;
    a request whose ring owner is full walks on clockwise to the next node with room. Keys
    keep their node unless it is overloaded, and no node ever runs far above the average.
    """

    label = "bounded-load hashing"
    stateful = True

    def __init__(self, nodes=(), *, epsilon: float = 0.25, vnodes: int = 160, seed: int = DEFAULT_SEED) -> None:
        self.epsilon = check_number(epsilon, "epsilon", low=0, include_low=False)
        super().__init__(nodes, vnodes=vnodes, seed=seed)

    def _walk(self, start: int, inflight: list[int], owners: list[int]) -> int:
        total_w = sum(self._weights)
        m = sum(inflight) + 1
        factor = (1.0 + self.epsilon) * m / total_w
        size = len(owners)
        idx = start
        for _ in range(size):
            j = owners[idx]
            if inflight[j] < math.ceil(factor * self._weights[j]):
                return j
            idx += 1
            if idx == size:
                idx = 0
        return owners[start]  # unreachable: the capacities add up to more than m

    def _pick_loaded(self, h, inflight):
        start = int(self._ring_index(np.array([h], dtype=np.uint64))[0])
        return self._walk(start, inflight, self.owners.tolist())

    def _make_chooser(self, hashes, n, load):
        inflight = load.inflight
        starts = self._ring_index(hashes).tolist()
        owners = self.owners.tolist()
        caps_w = [(1.0 + self.epsilon) * w / sum(self._weights) for w in self._weights]
        walk = self._walk
        ceil = math.ceil

        def choose(i: int) -> int:
            start = starts[i]
            j = owners[start]
            # fast path: the owner has room (the common case)
            if inflight[j] < ceil(caps_w[j] * (sum(inflight) + 1)):
                return j
            return walk(start, inflight, owners)

        return choose


# --------------------------------------------------------------------------- registry and theory

STRATEGIES: dict[str, type[Balancer]] = {
    "round_robin": RoundRobin,
    "weighted_round_robin": SmoothWeightedRoundRobin,
    "random": RandomChoice,
    "least_connections": LeastConnections,
    "two_choices": PowerOfTwoChoices,
    "modulo": ModuloHash,
    "ring": ConsistentHashRing,
    "jump": JumpHash,
    "rendezvous": RendezvousHash,
    "maglev": MaglevHash,
    "bounded_load": BoundedLoadHash,
}


def make_balancer(kind: str, nodes, **options) -> Balancer:
    """Build a strategy by name (see ``STRATEGIES``) over ``nodes`` (names, {name: weight} or simulator Nodes)."""
    check_choice(kind, "kind", sorted(STRATEGIES))
    return STRATEGIES[kind](nodes, **options)


def keys_moved(before: Balancer, after: Balancer, keys: Sequence | np.ndarray) -> float:
    """Share of ``keys`` whose node (by name) differs between two balancers."""
    keys = np.asarray(keys)
    if keys.size == 0:
        raise ValueError("keys is empty; pass the keys whose placement to compare")
    ids = {name: i for i, name in enumerate(dict.fromkeys(before.nodes + after.nodes))}
    a = np.array([ids[n] for n in before.nodes])[before.assign(keys)]
    b = np.array([ids[n] for n in after.nodes])[after.assign(keys)]
    return float(np.mean(a != b))


def keys_moved_on_resize(kind: str, n_nodes: int, keys: Sequence | np.ndarray, *, seed: int = DEFAULT_SEED,
                         **options) -> tuple[float, float]:
    """Share of ``keys`` that move when a node joins (N -> N+1) and when the last node leaves (N -> N-1).

    Nodes are named ``node-0`` ... ``node-(N-1)``; the newcomer is ``node-N``. The last node
    leaves because it is the only one jump hash can drop.
    """
    n = _check_count("n_nodes", n_nodes)
    if n < 2:
        raise ValueError(f"n_nodes must be at least 2 so that one node can leave, got {n_nodes!r}")
    keys = np.asarray(keys)
    if keys.size == 0:
        raise ValueError("keys is empty; pass the keys whose placement to compare")
    names = [f"node-{i}" for i in range(n + 1)]
    current = make_balancer(kind, names[:n], seed=seed, **options)
    grown = make_balancer(kind, names, seed=seed, **options)
    shrunk = make_balancer(kind, names[:n], seed=seed, **options)
    shrunk.remove(names[n - 1])
    now = current.assign(keys)                      # positions coincide with node numbers in all three
    return float(np.mean(grown.assign(keys) != now)), float(np.mean(shrunk.assign(keys) != now))


def load_shares(balancer: Balancer, keys: Sequence | np.ndarray | None = None, *, size: int | None = None) -> dict[str, float]:
    """Share of requests each node receives from a state-free balancer."""
    idx = balancer.assign(keys, size=size)
    counts = np.bincount(idx, minlength=len(balancer))
    return {n: float(c) for n, c in zip(balancer.nodes, counts / max(idx.size, 1))}


def _check_count(name: str, n: object) -> int:
    return check_int(n, name, low=1)


def modulo_moved_theory(n_before: int, n_after: int) -> float:
    """Share of uniformly hashed keys that change bucket when hash mod a becomes hash mod b: 1 - min/lcm."""
    a, b = _check_count("n_before", n_before), _check_count("n_after", n_after)
    return 1.0 - min(a, b) / math.lcm(a, b)


def consistent_moved_theory(n_before: int, n_after: int) -> float:
    """Expected share of keys that move under consistent hashing: |change| / larger node count."""
    a, b = _check_count("n_before", n_before), _check_count("n_after", n_after)
    return abs(a - b) / max(a, b)


def ring_share_cv(vnodes: int | np.ndarray, n_nodes: int | None = None) -> np.ndarray | float:
    """Coefficient of variation of a node's ring share: 1/sqrt(V), or exactly sqrt((N-1)/(N V + 1)) given N."""
    v = np.asarray(vnodes, dtype=float)
    if np.any(v < 1):
        raise ValueError("vnodes must be at least 1")
    if n_nodes is None:
        out = 1.0 / np.sqrt(v)
    else:
        n = _check_count("n_nodes", n_nodes)
        # N*V points uniform on the circle: a node's V arcs sum to a Beta(V, (N-1)V) share
        out = np.sqrt((n - 1) / (n * v + 1))
    return float(out) if out.ndim == 0 else out


# --------------------------------------------------------------------------- experiments as tables

def keys_moved_table(node_counts: Sequence[int], kinds: Sequence[str], keys: Sequence | np.ndarray, *,
                     seeds: int = 1, ring_seeds: int | None = None,
                     options: Mapping[str, Mapping] | None = None) -> pd.DataFrame:
    """Share of ``keys`` that move when node N joins and when the last node leaves, against theory.

    One row per N and strategy: ``grow``/``shrink`` (mean over seeds), their standard
    deviation over seeds, and the theory (modulo: 1 - min/lcm; the others: the minimum,
    |change| / larger count). ``ring_seeds`` independently seeded rings are averaged (a ring's
    share depends on where its points fall); other strategies use ``seeds`` seeds.
    """
    counts = [check_int(n, "node_counts", low=2) for n in node_counts]
    if not counts:
        raise ValueError("node_counts is empty: give at least one cluster size >= 2")
    if isinstance(kinds, str) or not len(kinds):
        raise ValueError(f"kinds must be a non-empty list of strategy names, got {kinds!r}")
    for kind in kinds:
        check_choice(kind, "kinds", sorted(STRATEGIES))
    seeds = check_int(seeds, "seeds", low=1)
    ring_seeds = seeds if ring_seeds is None else check_int(ring_seeds, "ring_seeds", low=1)
    options = options or {}
    rows = []
    for n in counts:
        for kind in kinds:
            runs = range(ring_seeds if kind == "ring" else seeds)
            measured = np.array([keys_moved_on_resize(kind, n, keys, seed=s, **options.get(kind, {})) for s in runs])
            theory = modulo_moved_theory if kind == "modulo" else consistent_moved_theory
            rows.append({"N": n, "strategy": kind, "grow": measured[:, 0].mean(), "grow_sd": measured[:, 0].std(),
                         "grow_theory": theory(n, n + 1), "shrink": measured[:, 1].mean(),
                         "shrink_sd": measured[:, 1].std(), "shrink_theory": theory(n, n - 1)})
    return pd.DataFrame(rows)


def ring_spread_table(vnode_counts: Sequence[int], n_nodes: int, *, seeds: int = 20) -> pd.DataFrame:
    """How evenly a ring shares the hash space, by virtual nodes per server: measured CV against theory.

    One row per V (index): ``cv`` of the node shares over ``seeds`` rings, ``busiest_vs_mean``
    (the busiest node's share over the mean, averaged over rings), the rule of thumb 1/sqrt(V)
    and the exact sqrt((N-1)/(N V + 1)).
    """
    n_nodes = check_int(n_nodes, "n_nodes", low=2)
    seeds = check_int(seeds, "seeds", low=1)
    vs = [check_int(v, "vnode_counts", low=1) for v in vnode_counts]
    if not vs:
        raise ValueError("vnode_counts is empty: give at least one number of virtual nodes")
    names = [f"node-{i}" for i in range(n_nodes)]
    rows = []
    for v in vs:
        shares = np.array([list(ConsistentHashRing(names, vnodes=v, seed=s).shares().values()) for s in range(seeds)])
        rows.append({"V": v, "cv": shares.std() / shares.mean(), "busiest_vs_mean": (shares.max(axis=1) * n_nodes).mean(),
                     "rule_1_over_sqrt_V": ring_share_cv(v), "exact": ring_share_cv(v, n_nodes)})
    return pd.DataFrame(rows).set_index("V")
