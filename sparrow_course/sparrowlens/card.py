"""SparrowLens's data card: the statistics written into data/README.md, and the command that regenerates the data."""
from __future__ import annotations

import argparse
import os
import re
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..seeding import DEFAULT_SEED
from .generator import SparrowLens, SparrowLensTruth, _write_files_atomically, generate


__all__ = ["card_statistics_markdown", "main", "tag_signal_cosine", "update_card"]


# ---------------------------------------------------------------------------
# Data card
# ---------------------------------------------------------------------------

CARD_BEGIN = "<!-- BEGIN GENERATED STATISTICS: python -m sparrow_course.sparrowlens --out data -->"


CARD_END = "<!-- END GENERATED STATISTICS -->"


#: ml-latest-small's published shape (its README, generated 2018-09-26).
ML_LATEST_SMALL = {"ratings": 100_836, "tags": 3_683, "movies": 9_742, "users": 610,
                   "min_ratings_per_user": 20, "first_day": "1996-03-29", "last_day": "2018-09-24"}


def card_statistics_markdown(dataset: SparrowLens) -> str:
    """Return the measured-statistics section of data/README.md for ``dataset``."""
    from ..datasets import describe

    s = describe(dataset.as_movielens())
    truth = dataset.truth
    ml = ML_LATEST_SMALL
    lines = ["### Shape, next to ml-latest-small", "",
             "| | SparrowLens | ml-latest-small |", "|---|---:|---:|",
             f"| movies | {s['n_movies']:,} | {ml['movies']:,} |",
             f"| users | {s['n_users']:,} | {ml['users']:,} |",
             f"| ratings | {s['n_ratings']:,} | {ml['ratings']:,} |",
             f"| tag applications (rows of tags.csv) | {s['n_tags']:,} | {ml['tags']:,} |",
             f"| fewest ratings by one user | {_num(s['ratings_per_user']['min'])} | {ml['min_ratings_per_user']} |",
             f"| first rating (UTC day) | {s['time_span']['first']} | {ml['first_day']} |",
             f"| last rating (UTC day) | {s['time_span']['last']} | {ml['last_day']} |",
             "| rating scale | 0.5-5.0, half stars | 0.5-5.0, half stars |",
             f"| density (ratings / users x movies) | {s['density']:.4f} | |",
             f"| mean rating | {s['mean_rating']:.3f} | |",
             "", "### Rating histogram", "", "| rating | count | share |", "|---:|---:|---:|"]
    for value, count in s["rating_histogram"].items():
        lines.append(f"| {value} | {count:,} | {count / s['n_ratings']:.1%} |")
    lines += ["", f"Half-star ratings: {s['half_star_share']:.1%} of all ratings.", "",
              "### Ratings per user and per movie", "",
              "| quantile | per user | per movie |", "|---|---:|---:|"]
    for q in s["ratings_per_user"]:
        lines.append(f"| {q} | {_num(s['ratings_per_user'][q])} | {_num(s['ratings_per_movie'][q])} |")
    pc = s["popularity"]
    lines += ["", "### Popularity (long tail)", "",
              f"- top 1% of movies hold {pc['top_1pct_share']:.1%} of ratings, top 10% hold "
              f"{pc['top_10pct_share']:.1%}, top 20% hold {pc['top_20pct_share']:.1%};",
              f"- Gini coefficient of ratings per movie: {pc['gini']:.3f};",
              f"- movies with fewer than 5 ratings: {pc['movies_under_5_ratings']:,}; "
              f"with none: {pc['movies_unrated']:,}.",
              "", "### Genres (movies per genre; a movie has one or more)", "",
              "| genre | movies |", "|---|---:|"]
    for genre, count in sorted(s["genre_counts"].items(), key=lambda kv: (-kv[1], kv[0])):
        lines.append(f"| {genre} | {count:,} |")
    lines += ["", "### Registration features (users.csv)", ""]
    for feature, counts in s["user_features"].items():
        cells = ", ".join(f"{k} {v:,}" for k, v in counts.items())
        lines.append(f"- **{feature}**: {cells}")
    tg = s["tags"]
    lines += ["", "### Tags", "",
              f"- {tg['rows']:,} tag applications by {tg['taggers']:,} users "
              f"({tg['taggers'] / s['n_users']:.1%} of users) on {tg['movies']:,} movies, "
              f"{tg['distinct_tags']:,} distinct tags;"]
    lines.append(f"- share of tag applications that are one of the movie's catalogue tags: "
                 f"{_true_tag_share(dataset):.1%}.")
    lines += _catalogue_card_lines(s["movie_tags"], dataset)
    # Planted structure, measured: what a perfect model could reach.
    r = dataset.ratings
    expected = truth.expected_rating(r["userId"].to_numpy(), r["movieId"].to_numpy(), r["timestamp"].to_numpy())
    actual = r["rating"].to_numpy()
    corr = float(np.corrcoef(expected, actual)[0, 1])
    rmse_truth = float(np.sqrt(np.mean((np.clip(expected, 0.5, 5.0) - actual) ** 2)))
    rmse_mean = float(np.sqrt(np.mean((actual.mean() - actual) ** 2)))
    seg_count = np.bincount(truth.user_segment, minlength=len(truth.segment_names))
    seg_share = seg_count / len(truth.user_segment)
    bayes = float(np.mean(truth.user_segment_proba.argmax(axis=1) == truth.user_segment))
    early, late = truth.user_factors_early, truth.user_factors_late
    cos = np.einsum("nk,nk->n", early, late) / (np.linalg.norm(early, axis=1) * np.linalg.norm(late, axis=1))
    lines += ["", "### Planted structure, measured", "",
              f"- mu (truth.global_mean) = {truth.global_mean:.3f}; users watch what they like, so the mean "
              f"observed rating is {actual.mean() - truth.global_mean:.3f} higher;",
              f"- correlation of the noise-free score with the observed rating: {corr:.3f};",
              f"- RMSE of the noise-free score (clipped to 0.5-5) {rmse_truth:.3f}, against {rmse_mean:.3f} "
              f"for predicting the mean rating: no model can expect to do much better than the first;",
              f"- segment from registration features: the true softmax's best guess is right for "
              f"{bayes:.1%} of users, against {seg_share.max():.1%} for always guessing the largest segment;",
              f"- cosine between a user's early and late taste: median {np.median(cos):.3f}, "
              f"10th percentile {np.quantile(cos, 0.1):.3f}.",
              "", "| segment | users |", "|---|---:|"]
    for name, count in zip(truth.segment_names, seg_count):
        lines.append(f"| {name} | {int(count):,} |")
    return "\n".join(lines) + "\n"


def _catalogue_card_lines(c: dict[str, Any], dataset: SparrowLens) -> list[str]:
    """Return the card's lines on the catalogue tags (movie_tags.csv), measured on the files' frames."""
    truth = dataset.truth
    # First edition, for comparison: the 150 core leaves (5 per parent) the item factors use.
    core = truth.item_tag_matrix.astype(np.float32)
    pairs = shared = 0.0
    for q in range(len(truth.parent_names)):
        rows = core[:, truth.tag_parent == q]
        rows = rows[rows.sum(axis=1) > 0]
        m = len(rows)
        pairs += m * (m - 1) / 2
        shared += (((rows @ rows.T) > 0).sum() - m) / 2
    kinds = c["rows_by_kind"]
    per = c["tags_per_movie"]
    lines = ["", "### Catalogue tags (movie_tags.csv)", "",
             f"- {c['rows']:,} rows: {c['distinct_tags']:,} distinct tags on {c['coverage']:.1%} of the "
             f"{len(dataset.movies):,} movies; tags per movie: min {_num(per['min'])}, median {_num(per['50%'])}, "
             f"mean {per['mean']:.2f}, max {_num(per['max'])};",
             "- rows by kind: " + ", ".join(f"{k} {kinds.get(k, 0):,}" for k in ("leaf", "parent", "root", "generic"))
             + ";",
             f"- tag frequencies (movies per tag) are Zipf-like: the 10 most common tags hold {c['top10_share']:.1%} "
             f"of all rows, Gini {c['gini']:.3f}, log-log rank-frequency slope {c['zipf_slope']:.2f}; "
             "most common: " + ", ".join(f"{t} ({m:,})" for t, m in c["most_common"][:5]) + ";",
             f"- sibling leaf overlap: of the pairs of movies carrying leaves of one parent, "
             f"{c['sibling_leaf_overlap']:.1%} share one of its leaves (first edition's 5-leaf parents: "
             f"{shared / pairs:.1%});",
             f"- relevance: median {float(dataset.movie_tags['relevance'].median()):.3f}, "
             f"10th percentile {float(dataset.movie_tags['relevance'].quantile(0.1)):.3f};",
             "- signal (planted truth): median cosine between a movie's factor v_i and the relevance-weighted "
             "sum of its tags' directions w_t: "
             + ", ".join(f"{kind} tags {tag_signal_cosine(truth, kind):.3f}" for kind in ("leaf", "generic"))
             + " (generic tags carry less)."]
    return lines


def tag_signal_cosine(truth: SparrowLensTruth, kind: str) -> float:
    """Return how much a movie's tags of one kind say about its planted factor.

    The median, over movies with tags of ``kind`` ("leaf", "parent", "root" or "generic"), of
    cos(v_i, sum_t r_it w_t): the factor against the relevance-weighted sum of the tags' directions.
    """
    from ..checks import check_choice

    check_choice(kind, "kind", ("leaf", "parent", "root", "generic"))
    cols = np.array([k == kind for k in truth.catalogue_tag_kind])
    est = truth.item_catalogue_relevance[:, cols] @ truth.catalogue_tag_vectors[cols]
    norm = np.linalg.norm(est, axis=1)
    has = norm > 0
    v = truth.item_factors[has]
    cos = np.einsum("nk,nk->n", est[has], v) / (norm[has] * np.linalg.norm(v, axis=1))
    return float(np.median(cos))


def _num(x: float) -> str:
    """Format a quantile: integers without decimals, others with one."""
    return f"{int(x):,}" if float(x).is_integer() else f"{x:,.1f}"


def _true_tag_share(dataset: SparrowLens) -> float:
    """Return the share of tags.csv rows naming one of the movie's catalogue tags (movie_tags.csv)."""
    tags = dataset.tags
    if len(tags) == 0:
        return float("nan")
    truth = dataset.truth
    item = truth.item_index(tags["movieId"].to_numpy())
    col = pd.Index(truth.catalogue_tag_names).get_indexer(tags["tag"])
    return float((truth.item_catalogue_relevance[item, col] > 0).mean())


def update_card(directory: str | os.PathLike[str], dataset: SparrowLens) -> bool:
    """Refresh the generated-statistics block of ``directory/README.md``; return False if it has none."""
    card = Path(directory) / "README.md"
    if not card.exists():
        return False
    text = card.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(CARD_BEGIN) + r"\n.*?" + re.escape(CARD_END), re.DOTALL)
    if not pattern.search(text):
        return False
    block = f"{CARD_BEGIN}\n{card_statistics_markdown(dataset)}{CARD_END}"
    _write_files_atomically(card.parent, {card.name: pattern.sub(lambda _: block, text).encode("utf-8")})
    return True


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Regenerate SparrowLens: ``python -m sparrow_course.sparrowlens [--out data] [--seed N]``."""
    parser = argparse.ArgumentParser(prog="python -m sparrow_course.sparrowlens", description=main.__doc__)
    parser.add_argument("--out", default="data", help="folder to write the CSV files into (default: data)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default: {DEFAULT_SEED})")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    dataset = generate(args.seed)
    t1 = time.perf_counter()
    sums = dataset.write(args.out)
    card = update_card(args.out, dataset)
    print(f"generated SparrowLens (seed {args.seed}) in {t1 - t0:.1f} s")
    for name, digest in sums.items():
        size = (Path(args.out) / name).stat().st_size
        print(f"  {name:<18} {size / 1e6:6.2f} MB  sha256 {digest[:16]}...")
    print("  README.md statistics refreshed" if card else "  (no README.md statistics block to refresh)")
    return 0
