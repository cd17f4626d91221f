"""SparrowLens: a deterministic, MovieLens-shaped dataset with planted structure.

Real MovieLens publishes no registration features, no tag hierarchy and, of
course, no ground truth. SparrowLens keeps the ml-latest-small file layout
(``movies.csv``, ``ratings.csv``, ``tags.csv``) and adds ``users.csv``,
``tag_hierarchy.csv`` and ``movie_tags.csv`` (second edition: catalogue tags of every
movie with a relevance, as MovieLens's tag genome), generated from a small, documented
model so that every chapter can compare what it learns against what was planted:

* items: latent factors built from their genres, sub-genre (parent tag) and
  themes (leaf tags), a long-tailed popularity and a bias;
* users: registration features -> one of a dozen taste segments (softmax over
  feature effects) -> an early and a late taste vector (interest drift);
* exposure: per phase of a user's active window, items are drawn without
  replacement (Gumbel-top-k) by popularity, affinity and recency;
* ratings: ``mu + b_u + b_i + z_u(t) . v_i + noise``, rounded to half stars,
  with whole stars more common than half stars.
* catalogue tags: leaves of a wide hierarchy (15 per sub-genre), parent and root
  names and generic descriptors, chosen with Zipf-like priors and a noisy score
  ``v_i . w_t`` on each tag's direction; drawn from a stream of their own, so the
  first edition's ratings, users and movies are unchanged byte for byte.

``generate()`` returns a :class:`SparrowLens` with the frames and the planted
truth (:class:`SparrowLensTruth`); ``SparrowLens.write`` writes the CSV files
byte for byte reproducibly. Regenerate the bundled copy with::

    python -m sparrow_course.sparrowlens --out data

One module a job: ``vocabulary`` (genres, tags, features, segments), ``generator`` (the
planted model and the files) and ``card`` (the data card and the command line);
everything public is re-exported here.
"""
from ..seeding import DEFAULT_SEED
from .card import card_statistics_markdown, main, tag_signal_cosine, update_card
from .generator import DATA_END, DATA_START, FILE_NAMES, SparrowLens, SparrowLensTruth, generate
from .vocabulary import (AGE_GROUPS, EXTRA_LEAVES, GENERIC_TAGS, GENRES, OCCUPATIONS, PLATFORMS, REGIONS, SEGMENT_NAMES,
                         TAG_TREE)

__all__ = [
    "AGE_GROUPS", "DATA_END", "DATA_START", "DEFAULT_SEED", "EXTRA_LEAVES", "FILE_NAMES", "GENERIC_TAGS", "GENRES",
    "OCCUPATIONS", "PLATFORMS", "REGIONS", "SEGMENT_NAMES", "SparrowLens", "SparrowLensTruth", "TAG_TREE",
    "card_statistics_markdown", "generate", "main", "tag_signal_cosine", "update_card",
]
