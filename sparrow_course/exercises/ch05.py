"""Chapter 05 exercises: a hierarchy-expanded cosine by hand, and three transfer tasks checked against the package's own runs."""
from __future__ import annotations

import math
from functools import lru_cache

from .core import ChoiceQuestion, FunctionQuestion, MultipartQuestion, ThoughtQuestion, ValueQuestion, questions


@lru_cache(maxsize=2)
def _experiment(k: int = 20):
    from ..datasets import load_movielens
    from ..tags import prepare_experiment

    return prepare_experiment(load_movielens(), k=k)


# --------------------------------------------------------------------------- q1: a decayed cosine by hand

_TREE = {"kung fu": "martial arts", "sword fight": "martial arts", "martial arts": "action",
         "car chase": "heist", "heist": "action", "first date": "romcom", "romcom": "romance"}


def _expanded(tags: list, parent: dict, decay: float) -> dict:
    weights: dict = {}
    for tag in tags:
        weight, node = 1.0, tag
        weights[node] = max(weights.get(node, 0.0), weight)
        while node in parent:
            node, weight = parent[node], weight * decay
            weights[node] = max(weights.get(node, 0.0), weight)
    return {t: w for t, w in weights.items() if w > 0}


def _cosine(a: dict, b: dict) -> float:
    dot = sum(w * b.get(t, 0.0) for t, w in a.items())
    norm = math.sqrt(sum(w * w for w in a.values())) * math.sqrt(sum(w * w for w in b.values()))
    return dot / norm if norm else 0.0


def _decayed_cosine(tags_a: list, tags_b: list, parent: dict, decay: float) -> float:
    """Cosine of two movies' multi-hot vectors with ancestors at decay**distance (the larger weight wins)."""
    return _cosine(_expanded(tags_a, parent, decay), _expanded(tags_b, parent, decay))


def _summed_ancestors(tags_a, tags_b, parent, decay):  # adds an ancestor's weight once per child
    def expand(tags):
        out: dict = {}
        for tag in tags:
            weight, node = 1.0, tag
            out[node] = out.get(node, 0.0) + weight
            while node in parent:
                node, weight = parent[node], weight * decay
                out[node] = out.get(node, 0.0) + weight
        return {t: w for t, w in out.items() if w > 0}
    return _cosine(expand(tags_a), expand(tags_b))


def _flat_decay(tags_a, tags_b, parent, decay):  # every ancestor at decay, the root not at decay**2
    def expand(tags):
        out: dict = {}
        for tag in tags:
            out[tag] = 1.0
            node = tag
            while node in parent:
                node = parent[node]
                out[node] = max(out.get(node, 0.0), decay)
        return {t: w for t, w in out.items() if w > 0}
    return _cosine(expand(tags_a), expand(tags_b))


def _no_expansion(tags_a, tags_b, parent, decay):  # forgets the ancestors
    return _cosine({t: 1.0 for t in tags_a}, {t: 1.0 for t in tags_b})


q1 = FunctionQuestion(
    """Write `decayed_cosine(tags_a, tags_b, parent, decay)`: the cosine of two movies' hierarchy-expanded
    multi-hot vectors. `tags_a` and `tags_b` are lists of the tags each movie carries; `parent` is a dict
    from a tag to its parent (a tag absent from the keys has none: a root or a generic tag). Each tag
    weighs 1 and switches on its ancestors with weight `decay ** distance` (parent 1, root 2); when
    several of a movie's tags switch on one ancestor, it keeps the largest weight, not the sum. Return
    the cosine as a float (0.0 if a movie has no tags).""",
    reference=_decayed_cosine,
    cases=[(["kung fu"], ["sword fight"], _TREE, 0.5), (["kung fu", "sword fight"], ["car chase"], _TREE, 0.5),
           (["kung fu"], ["first date"], _TREE, 1.0), (["kung fu", "atmospheric"], ["atmospheric"], _TREE, 0.0),
           (["martial arts"], ["sword fight", "heist"], _TREE, 0.25), (["kung fu"], [], _TREE, 0.5)],
    hints=["Build each movie's weights as a dict {tag: weight} first, walking up `parent` from every tag; "
           "then take the cosine of the two dicts.",
           "Two sibling leaves meet only at their parent and root: at decay 0.5 they share weights 0.5 and 0.25."],
    wrong_answers=[_summed_ancestors, _flat_decay, _no_expansion],
    decimals=6,
    explanation="tags.item_vectors does the same for every movie at once: multi-hot per distance, then the "
                "elementwise maximum of weight * decay**distance, rows scaled to length 1.",
)


# --------------------------------------------------------------------------- q2: decay with relevance

_DECAYS = (0.0, 0.25, 0.5, 0.75, 1.0)


@lru_cache(maxsize=1)
def _relevance_sweep() -> dict:
    from ..tags import decay_sweep

    table, _ = decay_sweep(_experiment(20), _DECAYS, relevance=True)
    overall = table[table["activity"] == "all"].set_index("decay")["recall@20"]
    return {float(d): float(v) for d, v in overall.items()}


def _best_relevance_decay() -> float:
    sweep = _relevance_sweep()
    return max(sweep, key=lambda d: (round(sweep[d], 6), -d))


q2 = MultipartQuestion(
    """Rerun the hierarchy decay sweep with the catalogue's relevance in place of the ones:
    `tags.decay_sweep(exp, (0.0, 0.25, 0.5, 0.75, 1.0), relevance=True)` on the chapter's experiment with
    its default parameters. (a) Which decay gives the highest recall@20 over all users? (b) That
    recall@20, to 3 decimals.""",
    parts={
        "a": ChoiceQuestion(
            "the decay with the highest overall recall@20",
            options=dict(zip("abcde", (f"{d:g}" for d in _DECAYS))),
            answer=lambda: "abcde"[_DECAYS.index(_best_relevance_decay())],
            why_wrong=lambda letter: "not the highest: read the whole 'all' column of the table, not the row you "
                                     "expected to win (ties go to the smaller decay)",
            hints=["Read the rows with activity 'all' of the first table decay_sweep returns."],
            explanation="Relevance changes how much each tag weighs, not which levels exist.",
        ),
        "b": ValueQuestion(
            "its recall@20 to 3 decimals",
            expected=lambda: round(_relevance_sweep()[_best_relevance_decay()], 3),
            decimals=3,
            wrong_answers=lambda: [round(_relevance_sweep()[_best_relevance_decay()] * 100, 3)],
            hints=["A fraction between 0 and 1, not a percentage."],
            explanation="Compare it with the sweep without relevance in the chapter.",
        ),
    },
    hints=["`table, per_user = tags.decay_sweep(...)`; then `table[table['activity'] == 'all']`."],
    explanation="Relevance weighting is a knob of its own: it can move the best decay.",
    reruns_experiment=True,
)


# --------------------------------------------------------------------------- q3: recency-weighted profiles

@lru_cache(maxsize=1)
def _recency_gain() -> tuple[float, float]:
    from ..tags import compare_vectorisers

    table = compare_vectorisers(_experiment(20), {"equal": dict(weighting="tf-idf"),
                                                  "recency": dict(weighting="tf-idf", profile_weights="recency")})
    equal = float(table.loc[(table["variant"] == "equal") & (table["activity"] == "all"), "recall@20"].iloc[0])
    recent = float(table.loc[(table["variant"] == "recency") & (table["activity"] == "all"), "recall@20"].iloc[0])
    return recent - equal, recent


def _recency_wrong() -> list:
    gain, recent = _recency_gain()
    candidates = [round(-gain, 3), round(recent, 3), round(gain * 100, 3)]
    return [c for c in candidates if abs(c - round(gain, 3)) > 0.0015]


q3 = ValueQuestion(
    """Weight each user's liked movies by recency: the latest like weighs 1 and each earlier one halves
    every 10 likes. The weighting is a setting of the matcher, `profile_weights="recency"` (default
    `"equal"`): it goes into a variant's settings dict, beside `weighting`, in
    `tags.compare_vectorisers(exp, {name: settings, ...})` (or as a keyword of `tags.fit_matcher`).
    With TF-IDF at decay 0 on the chapter's experiment (default parameters), what is recall@20 over all
    users with recency weights **minus** recall@20 with equal weights, as a float to 3 decimals
    (negative if recency hurts)?""",
    expected=lambda: round(_recency_gain()[0], 3),
    decimals=3,
    wrong_answers=_recency_wrong,
    hints=["Two variants that differ only in how the profile is built, measured on the same users: one table "
           "holds both, and the row you need is the one over all users.",
           "Take the rows with activity 'all'; the answer is a difference of two fractions, not either one.",
           "`tags.compare_vectorisers(exp, {'equal': dict(weighting='tf-idf'), "
           "'recency': dict(weighting='tf-idf', profile_weights='recency')})`, then recency minus equal."],
    explanation="Tastes drift (chapter 00 measured it): a profile that leans on recent likes is closer to the "
                "later likes the test holds out, if the drift is large enough to show.",
    reruns_experiment=True,
)


# --------------------------------------------------------------------------- q4: the blend at K = 10

_BLENDS = (0.25, 0.5, 0.75)


@lru_cache(maxsize=1)
def _best_blend_at_10() -> float:
    from ..tags import blend_sweep

    table = blend_sweep(_experiment(10), _BLENDS)
    values = dict(zip(table["blend"].astype(float), table["recall@10"].round(6)))
    return max(values, key=lambda b: (values[b], -b))


q4 = ChoiceQuestion(
    """Shorter lists: build the experiment with `k=10` (`exp10 = tags.prepare_experiment(ml, k=10)`) and
    blend TF-IDF tag scores (decay 0) with log-popularity at weights 0.25, 0.5 and 0.75
    (`tags.blend_sweep(exp10, (0.25, 0.5, 0.75))`). Predict first, then measure: which blend weight
    gives the highest recall@10? Answer with the option's letter.""",
    options=dict(zip("abc", (f"{b:g}" for b in _BLENDS))),
    answer=lambda: "abc"[_BLENDS.index(_best_blend_at_10())],
    why_wrong={"a": "0.25 leaves the tag score in charge; with only ten slots, is that what wins the head of "
                    "the list? Check the recall@10 column again.",
               "b": "the middle weight is not the best one at K = 10: compare its recall@10 with both neighbours.",
               "c": "0.75 leans hard on popularity; compare its recall@10 with the other two rows."},
    hints=["Predict first: with only 10 slots, does popularity or the tag score matter more?",
           "blend_sweep returns one row per weight with a recall@10 column."],
    solution="`exp10 = tags.prepare_experiment(ml, k=10)`, then `tags.blend_sweep(exp10, (0.25, 0.5, 0.75))`: "
             "the row with the largest recall@10 (ties to the smaller weight).",
    explanation="Where the best blend sits depends on K: the head of the list is where popularity is strongest.",
)


q5 = ThoughtQuestion(
    """On real MovieLens ml-latest-small (free-text user tags on a few movies, no hierarchy, no catalogue
    tags), which levels would `tags.catalogue_from` find, what stands in for the parent level, and what do
    you expect the decay sweep to show there?""",
    solution="""Only users' free-text tags (normalised for case and spacing) and, as the only level above,
the movie's genres (`genre: comedy`, ...): `catalogue.levels` is `('tags as applied', 'genres (as the level
above)')`. Most movies carry no user tag at all, so at decay 0 many users' profiles and most movies'
vectors are empty or nearly so; switching genres on (decay > 0) gives every movie a vector, so coverage
jumps and recall should rise with decay, until genres, coarse and few, swamp the tags and the matcher
drifts towards a genre-popularity list. Unlike the planted SparrowLens tree, there is no parent between
a tag and its genre, so the sweep measures "tags plus genres", not a hierarchy.""",
    hints=["Run `tags.catalogue_from(ml).levels` in your head for a dataset without tag_hierarchy.csv."],
    explanation="What a level above buys depends on what the data has below it: few tags make any level above matter more.",
)


QUESTIONS = questions(globals())
