"""The recommender behind the service: cache, then recall, merge and rank, each stage timed.

:class:`Recommender` holds what was fitted offline (the channels, the merge rule, the ranker,
the movie table) and answers a request in four stages, as SparrowRecSys's
``RecForYouProcess`` does: look up the cache; on a miss, recall from every channel, merge the
candidates, rank them with the model, and store the ranked list with its TTL. A user with no
training history takes the cold-start path: the channels that know them (the cold-start
clusters, by their features; popularity for anyone) and a list cached per segment.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..channels import RecallChannel
from ..checks import check_int
from ..seeding import DEFAULT_SEED
from ..traffic import DAYPARTS, PAGES_PER_LIST
from .cache import decode_list, encode_list, list_key
from .merge import merge
from .ranking import Ranker

__all__ = ["STAGES", "Recommender", "RequestError", "fit_recommender"]

#: The stages of a request, in order, as timed in each response.
STAGES = ("cache", "recall", "merge", "rank")
MAX_SIZE = 200


class RequestError(ValueError):
    """A request the service refuses (answered with HTTP 400 and this message)."""


@dataclass(eq=False)
class Recommender:
    """Fitted channels + a merge rule + a ranker + a cache: ``recommend(user, size)`` and ``similar(movie, size)``.

    ``per_channel``: candidates asked of each channel; ``list_size``: the length of the ranked
    list that is cached (pages are served from it); ``cache``: any object with ``get(key)`` and
    ``set(key, bytes)`` (``cache.RedisCache`` or ``cache.LocalTTLCache``), or None for no cache.
    """

    channels: Mapping[str, RecallChannel]
    ranker: Ranker
    movies: pd.DataFrame
    users: pd.DataFrame | None = None          # users.csv: region and signup_platform make a new user's segment
    rule: str = "weighted"
    rule_options: dict = field(default_factory=dict)
    per_channel: int = 50
    list_size: int = 100
    cache: Any = None
    computed: int = 0                          # lists computed (cache misses that reached the models)

    def __post_init__(self) -> None:
        self.per_channel = check_int(self.per_channel, "per_channel", low=1)
        self.list_size = check_int(self.list_size, "list_size", low=1, high=MAX_SIZE)
        table = self.movies.drop_duplicates("movieId")
        self._movies = dict(zip(table["movieId"].astype(int), zip(table["title"].astype(str), table["genres"].astype(str))))
        # a request reads two fields of a user's profile: a dict lookup, not a DataFrame row per request
        self._profiles = {} if self.users is None else {
            int(u): (str(r), str(p)) for u, r, p in zip(
                self.users["userId"], self.users.get("region", pd.Series("unknown", index=self.users.index)),
                self.users.get("signup_platform", pd.Series("unknown", index=self.users.index)))}
        self._trained = set(self.ranker.user_ids.tolist())
        vectors = self.channels.get("EGES")
        self._item_unit = None if vectors is None else getattr(vectors, "item_unit", None)
        self._item_ids = None if vectors is None else vectors.item_ids

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["cache"] = None  # a worker opens its own cache
        return state

    # ---- requests
    def request(self, user_id: int, *, page: int = 1, hour: int | None = None) -> dict[str, Any]:
        """The request fields chapter 03's key design reads: known or new, segment, and the list block of the page."""
        hour = time.localtime().tm_hour if hour is None else hour
        region, platform = self._profiles.get(int(user_id), ("unknown", "unknown"))
        return {"user": int(user_id), "is_new": int(user_id) not in self._trained,
                "region": region, "platform": platform,
                "daypart": DAYPARTS[hour // 6], "list_block": (page - 1) // PAGES_PER_LIST}

    def compute(self, user_id: int) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
        """Recall, merge and rank for one user, uncached: (movie ids, scores, milliseconds per stage)."""
        ms = {}
        start = time.perf_counter()
        users = np.array([user_id], dtype=np.int64)
        frames = {name: channel.recall(users, self.per_channel) for name, channel in self.channels.items()}
        ms["recall"] = 1000 * (time.perf_counter() - start)
        start = time.perf_counter()
        merged = merge(frames, self.list_size, self.rule, **self.rule_options)
        ms["merge"] = 1000 * (time.perf_counter() - start)
        start = time.perf_counter()
        ranked = self.ranker.rerank(merged) if len(merged) else merged
        ms["rank"] = 1000 * (time.perf_counter() - start)
        self.computed += 1
        return ranked["movieId"].to_numpy(np.int64), ranked["score"].to_numpy(float), ms

    def recommend_request(self, request: Mapping[str, Any], size: int, *, page: int = 1
                          ) -> tuple[list[dict[str, Any]], bool, dict[str, float]]:
        """Serve a request (from :meth:`request`, or a chapter 03 trace row): (movies of the page, cache hit, ms per stage)."""
        ms = dict.fromkeys(STAGES, 0.0)
        start = time.perf_counter()
        key = list_key(request)
        blob = None if self.cache is None else self.cache.get(key)
        ms["cache"] = 1000 * (time.perf_counter() - start)
        hit = blob is not None
        if hit:
            ids, scores = decode_list(blob)
        else:
            ids, scores, stages = self.compute(int(request["user"]))
            ms.update(stages)
            if self.cache is not None:
                start = time.perf_counter()
                self.cache.set(key, encode_list(ids, scores))
                ms["cache"] += 1000 * (time.perf_counter() - start)
        first = ((page - 1) % PAGES_PER_LIST) * size
        ids, scores = ids[first:first + size], scores[first:first + size]
        return self.cards(ids, scores), hit, ms

    def recommend(self, user_id: Any, size: Any = 10, *, page: Any = 1) -> tuple[list[dict], bool, dict[str, float]]:
        """Page ``page`` of ``size`` movies for ``user_id``: (movies, cache hit, ms per stage). Bad input: RequestError."""
        user = _as_int(user_id, "id", low=0)
        size = _as_int(size, "size", low=1, high=self.list_size)
        page = _as_int(page, "page", low=1, high=10_000)
        return self.recommend_request(self.request(user, page=page), size, page=page)

    def similar(self, movie_id: Any, size: Any = 10) -> list[dict[str, Any]]:
        """The ``size`` movies nearest to ``movie_id`` by cosine of their EGES vectors. Bad input: RequestError."""
        movie = _as_int(movie_id, "movieId", low=0)
        size = _as_int(size, "size", low=1, high=MAX_SIZE)
        if self._item_unit is None:
            raise RequestError("this service has no item vectors (no EGES channel) to find similar movies with")
        row = int(np.searchsorted(self._item_ids, movie))
        if row >= len(self._item_ids) or self._item_ids[row] != movie:
            raise RequestError(f"movieId {movie} is not in the catalogue ({len(self._item_ids)} movies)")
        scores = self._item_unit @ self._item_unit[row]
        scores[row] = -np.inf
        order = np.lexsort((self._item_ids, -scores))[:size]
        return self.cards(self._item_ids[order], scores[order])

    def is_new(self, user_id: int) -> bool:
        """Whether ``user_id`` has no training history (the cold-start path)."""
        return int(user_id) not in self._trained

    def cards(self, movie_ids: np.ndarray, scores: np.ndarray) -> list[dict[str, Any]]:
        """movieId, title, genres and score of each movie, in the given order (what the endpoints answer)."""
        unknown = ("unknown title", "")
        return [{"movieId": m, "title": self._movies.get(m, unknown)[0], "genres": self._movies.get(m, unknown)[1],
                 "score": round(s, 4)} for m, s in zip(np.asarray(movie_ids).tolist(), np.asarray(scores, float).tolist())]


def _as_int(value: Any, name: str, *, low: int, high: int | None = None) -> int:
    """A query parameter as an integer in range, or a RequestError that says what was wrong and what is expected."""
    expected = f"an integer >= {low}" + ("" if high is None else f" and <= {high}")
    if value is None or (isinstance(value, str) and not value.strip()):
        raise RequestError(f"{name} is missing: expected {expected}")
    if isinstance(value, bool):
        raise RequestError(f"{name} must be {expected}, got {value!r}")
    try:
        number = int(str(value).strip()) if not isinstance(value, (int, np.integer)) else int(value)
    except ValueError:
        raise RequestError(f"{name} must be {expected}, got {str(value)[:40]!r}") from None
    if number < low or (high is not None and number > high):
        raise RequestError(f"{name} must be {expected}, got {number}")
    return number


def fit_recommender(ml: Any, *, eges_walks: int = 5000, rank_steps: int = 1500, per_channel: int = 100,
                    seed: int = DEFAULT_SEED, tune_users: int = 800) -> Recommender:
    """Everything offline in one call: the per-user time split, the five channels, merge weights tuned on held-out
    users, and the ranking model; returns the :class:`Recommender` (with no cache: the caller opens one)."""
    from ..datasets import positive, user_time_split
    from .merge import tune_weights
    from .ranking import fit_ranker
    from .recall import fit_channels, for_serving, recall_all

    train, test = user_time_split(ml.ratings)
    channels = for_serving(fit_channels(ml, train, eges_walks=eges_walks, seed=seed))
    liked = positive(test)
    users = np.sort(np.random.default_rng(seed).permutation(np.unique(liked["userId"]))[:tune_users])
    weights, _ = tune_weights(recall_all(channels, users, per_channel), liked[liked["userId"].isin(users)], 50)
    ranker = fit_ranker(ml, train, steps=rank_steps, seed=seed)
    return Recommender(channels, ranker, ml.movies, ml.users, rule="weighted", rule_options={"weights": weights},
                       per_channel=per_channel)
