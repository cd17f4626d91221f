"""Chapter 00's tour of a MovieLens-format dataset: the data card's statistics, tags, drift and lift."""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from ..checks import check_fraction, check_frame
from .movielens import RATING_VALUES, MovieLens, genre_matrix

__all__ = ["describe", "describe_movie_tags", "format_description", "genre_drift", "genre_lift",
           "tag_rank_frequency", "zipf_fit"]


def genre_drift(ratings: pd.DataFrame, movies: pd.DataFrame, *, min_ratings: int = 50,
                edge: float = 0.2) -> pd.DataFrame:
    """Per active user, the cosine similarity of genre mixes: first vs last ``edge`` of the history, and odd vs even ratings.

    Both pairs cover the user's whole period except for the time between them, so
    ``early_late`` below ``interleaved`` is the signature of drifting interests.
    Users with fewer than ``min_ratings`` ratings are left out; one row per user.
    """
    check_frame(ratings, ["userId", "movieId", "timestamp"], "ratings")
    if isinstance(min_ratings, bool) or not isinstance(min_ratings, (int, np.integer)) or min_ratings < 2:
        raise ValueError(f"min_ratings must be an integer of at least 2, got {min_ratings!r}")
    if isinstance(edge, bool) or not isinstance(edge, (int, float, np.integer, np.floating)):
        raise TypeError(f"edge must be a number, got {type(edge).__name__}")
    if not 0 < edge <= 0.5:
        raise ValueError(f"edge must be a fraction in (0, 0.5], got {edge!r}")
    if min_ratings * edge < 1:
        # fewer would leave a user's last `edge` of ratings empty, and their similarity NaN
        raise ValueError(f"min_ratings * edge must be at least 1 so that each edge of a history holds a rating, "
                         f"got min_ratings={min_ratings} and edge={edge}; raise min_ratings to "
                         f"{math.ceil(1 / edge)} or more")
    genres = genre_matrix(movies)
    active = ratings[ratings.groupby("userId")["movieId"].transform("size") >= min_ratings]
    active = active.sort_values(["userId", "timestamp"], kind="stable")
    if active.empty:
        raise ValueError(f"no user has {min_ratings} ratings or more; lower min_ratings")
    rank = active.groupby("userId").cumcount().to_numpy()
    position = rank / active.groupby("userId")["movieId"].transform("size").to_numpy()
    rows = genres.reindex(active["movieId"]).fillna(0).to_numpy(dtype=float)
    users = active["userId"].to_numpy()

    def profiles(mask: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(rows[mask], index=users[mask]).groupby(level=0).sum()

    def cosine(a: pd.DataFrame, b: pd.DataFrame) -> pd.Series:
        a, b = a.align(b, join="inner", axis=0)
        norms = np.linalg.norm(a.to_numpy(), axis=1) * np.linalg.norm(b.to_numpy(), axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):  # a genre-less half has no direction: NaN
            return pd.Series((a.to_numpy() * b.to_numpy()).sum(1) / norms, index=a.index)

    odd = rank % 2 == 1
    out = pd.DataFrame({"early_late": cosine(profiles(position < edge), profiles(position >= 1 - edge)),
                        "interleaved": cosine(profiles(odd), profiles(~odd))})
    out.index.name = "userId"
    return out


def genre_lift(ratings: pd.DataFrame, movies: pd.DataFrame, users: pd.DataFrame, feature: str = "age_group", *,
               min_share: float = 0.01) -> pd.DataFrame:
    """Return each genre's lift in each group of users: its share of the group's ratings over its share of all.

    Rows are the values of the users' ``feature`` ("Under 18" first, then sorted), columns the genres
    holding at least ``min_share`` of all ratings; 1 means no difference from users overall. A
    movie with several genres counts once in each.
    """
    check_frame(ratings, ["userId", "movieId"], "ratings")
    check_frame(users, ["userId", feature], "users")

    check_fraction(min_share, "min_share")
    genres = genre_matrix(movies)
    rated = ratings[["userId", "movieId"]].merge(users[["userId", feature]], on="userId")
    if rated.empty:
        raise ValueError("no rating has a user in users; expected users.csv to cover the raters")
    rows = genres.reindex(rated["movieId"]).fillna(0).set_axis(rated.index)
    overall = rows.mean()
    common = overall[overall >= min_share].index
    if len(common) == 0:
        raise ValueError(f"no genre holds min_share={min_share} of the ratings; lower it")
    lift = rows[common].groupby(rated[feature].to_numpy()).mean() / overall[common]
    order = sorted(lift.index, key=lambda v: (str(v) != "Under 18", str(v)))
    lift = lift.loc[order]
    lift.index.name, lift.columns.name = feature, "genre"
    return lift


# ---------------------------------------------------------------------------
# Description (the data card and `sparrow-course data info`)
# ---------------------------------------------------------------------------

_QUANTILES = {"min": 0.0, "10%": 0.1, "25%": 0.25, "50%": 0.5, "75%": 0.75, "90%": 0.9, "99%": 0.99, "max": 1.0}


def describe(ml: MovieLens) -> dict[str, Any]:
    """Return the data card statistics of ``ml`` as plain JSON-ready Python values."""
    if not isinstance(ml, MovieLens):
        raise TypeError(f"ml must be a MovieLens (from load_movielens), got {type(ml).__name__}")
    r, movies = ml.ratings, ml.movies
    n_ratings, n_movies = len(r), len(movies)
    n_users = int(r["userId"].nunique())
    per_user = r.groupby("userId").size().to_numpy()
    per_movie = (r.groupby("movieId").size().reindex(movies["movieId"], fill_value=0).to_numpy())
    hist = r["rating"].value_counts()
    counts_desc = np.sort(per_movie)[::-1]
    total = max(int(counts_desc.sum()), 1)

    def top_share(fraction: float) -> float:
        return float(counts_desc[: max(1, math.ceil(fraction * n_movies))].sum() / total)

    genres = genre_matrix(movies)
    ts = r["timestamp"].to_numpy()
    stats: dict[str, Any] = {
        "name": ml.name,
        "n_movies": n_movies,
        "n_users": n_users,
        "n_ratings": n_ratings,
        "n_tags": len(ml.tags),
        "density": float(n_ratings / max(n_users * n_movies, 1)),
        "mean_rating": float(r["rating"].mean()) if n_ratings else float("nan"),
        "rating_histogram": {f"{v:.1f}": int(hist.get(v, 0)) for v in RATING_VALUES},
        "half_star_share": float(((r["rating"] * 2) % 2 == 1).mean()) if n_ratings else float("nan"),
        "ratings_per_user": _quantiles(per_user),
        "ratings_per_movie": _quantiles(per_movie),
        "popularity": {
            "top_1pct_share": top_share(0.01),
            "top_10pct_share": top_share(0.10),
            "top_20pct_share": top_share(0.20),
            "gini": _gini(per_movie),
            "movies_unrated": int((per_movie == 0).sum()),
            "movies_under_5_ratings": int((per_movie < 5).sum()),
        },
        "genre_counts": {g: int(genres[g].sum()) for g in genres.columns},
        "movies_without_genres": int((genres.sum(axis=1) == 0).sum()),
        "time_span": {
            "first": _day(ts.min()) if n_ratings else None,
            "last": _day(ts.max()) if n_ratings else None,
            "years": float((ts.max() - ts.min()) / (365.2425 * 86400)) if n_ratings else 0.0,
        },
        "tags": {
            "rows": len(ml.tags),
            "distinct_tags": int(ml.tags["tag"].nunique()),
            "taggers": int(ml.tags["userId"].nunique()),
            "movies": int(ml.tags["movieId"].nunique()),
        },
        "n_registered_users": None if ml.users is None else len(ml.users),
        "user_features": None,
        "tag_hierarchy": None,
        "movie_tags": None,
    }
    if ml.users is not None:
        features = [c for c in ml.users.columns if c != "userId" and not c.endswith("timestamp")]
        stats["user_features"] = {c: {str(k): int(v) for k, v in sorted(ml.users[c].value_counts().items())}
                                  for c in features}
    if ml.tag_hierarchy is not None:
        h = ml.tag_hierarchy
        stats["tag_hierarchy"] = {"roots": int(h["root"].nunique()), "parents": int(h["parent"].nunique()),
                                  "leaves": int(h["tag"].nunique())}
    if ml.movie_tags is not None:
        stats["movie_tags"] = describe_movie_tags(ml)
    return stats


def tag_rank_frequency(ml: MovieLens, *, min_relevance: float = 0.0) -> pd.DataFrame:
    """Return catalogue tags by how many movies carry them: rank, tag, kind, movies, share of movies.

    ``kind`` is "leaf", "parent" or "root" (from the tag hierarchy, when there is one) or
    "generic"; only rows with relevance >= ``min_relevance`` count (the genome scores every tag
    on every movie: pass a threshold such as 0.5 there).
    """
    tags = _catalogue_rows(ml, min_relevance)
    counts = tags["tag"].value_counts()
    frame = pd.DataFrame({"tag": counts.index.astype(str), "movies": counts.to_numpy(dtype=np.int64)})
    frame = frame.sort_values(["movies", "tag"], ascending=[False, True], kind="stable").reset_index(drop=True)
    frame.insert(0, "rank", np.arange(1, len(frame) + 1))
    frame.insert(2, "kind", _tag_kinds(frame["tag"], ml.tag_hierarchy))
    frame["share_of_movies"] = frame["movies"] / max(len(ml.movies), 1)
    return frame


def _catalogue_rows(ml: MovieLens, min_relevance: float) -> pd.DataFrame:
    """Return ml.movie_tags rows with relevance >= min_relevance (validated arguments)."""
    if not isinstance(ml, MovieLens):
        raise TypeError(f"ml must be a MovieLens (from load_movielens), got {type(ml).__name__}")

    check_fraction(min_relevance, "min_relevance")
    tags = ml.require_movie_tags()
    return tags.loc[tags["relevance"] >= min_relevance] if min_relevance > 0 else tags


def _tag_kinds(tags: pd.Series, hierarchy: pd.DataFrame | None) -> np.ndarray:
    """Return "leaf", "parent", "root" or "generic" for each tag name."""
    kind = np.full(len(tags), "generic", dtype=object)
    if hierarchy is not None:
        for level, column in (("root", "root"), ("parent", "parent"), ("leaf", "tag")):
            kind[tags.isin(hierarchy[column]).to_numpy()] = level
    return kind


def describe_movie_tags(ml: MovieLens, *, min_relevance: float = 0.0) -> dict[str, Any]:
    """Return the shape of the catalogue tags: frequencies (top-10 share, Gini, Zipf slope), tags per
    movie, coverage, assignments by kind and the sibling leaf overlap (with a tag hierarchy).

    ``sibling_leaf_overlap``: for each parent of the hierarchy, take the movies that carry at least
    one of its leaves; of all pairs of such movies (pooled over parents), the share that have a
    leaf of that parent in common. None without a hierarchy.
    """
    tags = _catalogue_rows(ml, min_relevance)
    n_movies = len(ml.movies)
    freq = tag_rank_frequency(ml, min_relevance=min_relevance)
    counts = freq["movies"].to_numpy(dtype=np.float64)
    per_movie = tags.groupby("movieId").size().reindex(ml.movies["movieId"], fill_value=0).to_numpy()
    slope = float("nan")
    if len(counts) >= 2:
        slope = float(np.polyfit(np.log(freq["rank"].to_numpy(dtype=np.float64)), np.log(counts), 1)[0])
    stats: dict[str, Any] = {
        "rows": int(len(tags)),
        "distinct_tags": int(len(freq)),
        "coverage": float((per_movie > 0).mean()) if n_movies else 0.0,
        "tags_per_movie": _quantiles(per_movie),
        "top10_share": float(counts[:10].sum() / counts.sum()) if counts.sum() else 0.0,
        "gini": _gini(counts),
        "zipf_slope": slope,
        "most_common": [(str(t), int(m)) for t, m in zip(freq["tag"][:10], freq["movies"][:10])],
        "rows_by_kind": {k: int(v) for k, v in freq.groupby("kind")["movies"].sum().items()},
        "sibling_leaf_overlap": None,
    }
    if ml.tag_hierarchy is not None:
        stats["sibling_leaf_overlap"] = _sibling_leaf_overlap(tags, ml.tag_hierarchy)
    return stats


def _sibling_leaf_overlap(tags: pd.DataFrame, hierarchy: pd.DataFrame) -> float:
    """Return the share of same-parent movie pairs that share a leaf of that parent (NaN if no pairs)."""
    leaves = tags[["movieId", "tag"]].merge(hierarchy[["tag", "parent"]], on="tag")
    pairs = shared = 0.0
    for _, group in leaves.groupby("parent", sort=True):
        movie_codes, movies = pd.factorize(group["movieId"])
        tag_codes, tag_names = pd.factorize(group["tag"])
        incidence = np.zeros((len(movies), len(tag_names)), dtype=np.float32)
        incidence[movie_codes, tag_codes] = 1.0
        common = (incidence @ incidence.T) > 0
        m = len(movies)
        pairs += m * (m - 1) / 2
        shared += (common.sum() - m) / 2
    return float(shared / pairs) if pairs else float("nan")


def _quantiles(values: np.ndarray) -> dict[str, float]:
    """Return min, quantiles, max and mean of a count array (linear interpolation)."""
    if len(values) == 0:
        return {**{k: 0.0 for k in _QUANTILES}, "mean": 0.0}
    out = {k: float(np.quantile(values, q)) for k, q in _QUANTILES.items()}
    out["mean"] = float(np.mean(values))
    return out


def _gini(counts: np.ndarray) -> float:
    """Return the Gini coefficient of non-negative counts (0 even, 1 all on one item)."""
    x = np.sort(np.asarray(counts, dtype=np.float64))
    n, total = len(x), x.sum()
    if n == 0 or total == 0:
        return 0.0
    return float((2.0 * np.sum(np.arange(1, n + 1) * x) / (n * total)) - (n + 1) / n)


def _day(ts: int) -> str:
    """Return the UTC day of a Unix timestamp as YYYY-MM-DD."""
    return str(np.datetime64(int(ts), "s").astype("datetime64[D]"))


def format_description(stats: dict[str, Any]) -> str:
    """Return ``describe()`` output as readable text, for ``sparrow-course data info``."""
    if not isinstance(stats, dict) or "n_ratings" not in stats:
        raise TypeError("stats must be the dict returned by describe()")
    s = stats
    out = [f"{s['name']}: {s['n_movies']:,} movies, {s['n_users']:,} users with ratings, "
           f"{s['n_ratings']:,} ratings, {s['n_tags']:,} tag applications",
           f"  density {s['density']:.4f}; ratings from {s['time_span']['first']} to {s['time_span']['last']} "
           f"({s['time_span']['years']:.1f} years)",
           f"  mean rating {s['mean_rating']:.3f}; half-star ratings {s['half_star_share']:.1%}",
           "  rating histogram:"]
    peak = max(s["rating_histogram"].values()) or 1
    for value, count in s["rating_histogram"].items():
        out.append(f"    {value}  {count:>9,}  {count / max(s['n_ratings'], 1):6.1%}  {'#' * round(30 * count / peak)}")
    for label, key in (("ratings per user", "ratings_per_user"), ("ratings per movie", "ratings_per_movie")):
        q = s[key]
        out.append(f"  {label}: " + ", ".join(f"{k} {q[k]:g}" for k in _QUANTILES) + f", mean {q['mean']:.1f}")
    p = s["popularity"]
    out.append(f"  popularity: top 1% of movies hold {p['top_1pct_share']:.1%} of ratings, top 10% "
               f"{p['top_10pct_share']:.1%}, top 20% {p['top_20pct_share']:.1%}; Gini {p['gini']:.3f}; "
               f"{p['movies_unrated']:,} movies unrated")
    genres = sorted(s["genre_counts"].items(), key=lambda kv: (-kv[1], kv[0]))
    out.append("  genres: " + ", ".join(f"{g} {n:,}" for g, n in genres))
    t = s["tags"]
    out.append(f"  tags: {t['rows']:,} rows, {t['distinct_tags']:,} distinct tags, {t['taggers']:,} taggers")
    if s.get("tag_hierarchy"):
        h = s["tag_hierarchy"]
        out.append(f"  tag hierarchy: {h['roots']} roots, {h['parents']} parents, {h['leaves']} leaf tags")
    if s.get("movie_tags"):
        c = s["movie_tags"]
        out.append(f"  catalogue tags: {c['rows']:,} rows, {c['distinct_tags']:,} distinct tags on {c['coverage']:.1%} "
                   f"of movies, {c['tags_per_movie']['mean']:.1f} per movie; top 10 tags hold {c['top10_share']:.1%}, "
                   f"Gini {c['gini']:.3f}")
    if s.get("user_features"):
        out.append(f"  users.csv: {s['n_registered_users']:,} users")
        for feature, counts in s["user_features"].items():
            out.append(f"    {feature}: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    else:
        out.append("  users.csv: absent (no registration features, as in real MovieLens)")
    return "\n".join(out)



def zipf_fit(frequencies: Any, *, head: int = 10) -> dict[str, Any]:
    """How well Zipf's law ``f(r) = C r^-s`` (a straight line on log-log axes) describes a rank-frequency curve.

    ``frequencies`` are sorted high to low; the fit is least squares in log space over every rank.
    Returns the slope ``s`` and ``C``, the fitted curve, the fit's rank-1 value over the measured one,
    the largest factor by which it misses any rank (``exp(max |log error|)``), and the log-log slopes
    of the ``head`` most frequent ranks and of the ranks after the first tenth: a power law has one
    slope throughout, a concave curve a flat head and a steep tail.
    """
    f = np.sort(np.asarray(frequencies, dtype=np.float64))[::-1]
    if f.ndim != 1 or f.size < 3 * head or not np.all(f > 0) or not np.isfinite(f).all():
        raise ValueError(f"frequencies must hold at least {3 * head} positive, finite counts")
    rank = np.arange(1, f.size + 1, dtype=np.float64)
    log_r, log_f = np.log(rank), np.log(f)
    slope, intercept = np.polyfit(log_r, log_f, 1)
    fitted = np.exp(intercept + slope * log_r)
    tail = rank > max(head, f.size // 10)
    return {"s": float(-slope), "C": float(np.exp(intercept)), "rank": rank, "measured": f, "fitted": fitted,
            "rank1_over_measured": float(fitted[0] / f[0]),
            "worst_factor": float(np.exp(np.abs(np.log(fitted) - log_f).max())),
            "head_slope": float(np.polyfit(log_r[:head], log_f[:head], 1)[0]),
            "tail_slope": float(np.polyfit(log_r[tail], log_f[tail], 1)[0])}
