"""Chapter 06 exercises: node2vec's return parameter, the EGES mix by hand, Airbnb-style types, the id-table cost,
and the recency of a user's vector in the recall channel."""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from .core import FunctionQuestion, ThoughtQuestion, ValueQuestion, questions

SEED = 2024


@lru_cache(maxsize=1)
def _data():
    from ..datasets import load_movielens
    from ..embeddings import positive_sequences, transition_graph

    ml = load_movielens()
    return ml, transition_graph(positive_sequences(ml.ratings))


# --------------------------------------------------------------------------- q1: node2vec's return parameter

def _return_share(p: float) -> float:
    from ..embeddings import random_walks

    _, graph = _data()
    walks = random_walks(graph, n_walks=5000, length=10, p=p, q=1.0, seed=SEED)
    back, valid = walks[:, 2:] == walks[:, :-2], walks[:, 2:] >= 0
    return round(float((back & valid).sum() / valid.sum()), 4)


q1 = ValueQuestion(
    """Rerun the walks with node2vec's return parameter p = 0.25 (q = 1): on the chapter's full item graph
    (`transition_graph(positive_sequences(ml.ratings))`), draw `random_walks(graph, n_walks=5000, length=10,
    p=0.25, q=1.0, seed=2024)`. What share of the steps from the third position on go straight back to the
    node visited two steps before (`walks[:, t] == walks[:, t - 2]`, counting only positions that are not
    -1 padding)? Give a fraction, to 4 decimals.""",
    expected=lambda: _return_share(0.25),
    decimals=4,
    hints=["Compare `walks[:, 2:]` with `walks[:, :-2]` element by element, and divide by the number of "
           "valid (non -1) positions in `walks[:, 2:]`.",
           "A step back has weight 1/p; with p = 0.25 it is four times as likely as with p = 1, relative to "
           "any other neighbour. Measure p = 1 too, to see how far it moved."],
    wrong_answers=[0.0023, 0.93, 0.25],
    explanation="A small p makes walks hop back and forth: they stay near their start, as a breadth-first "
                "search does, and the context of an item becomes its immediate neighbourhood.",
    reruns_experiment=True,
)


# --------------------------------------------------------------------------- q2: the EGES mix

def _eges_mix(parts: np.ndarray, logits: np.ndarray) -> np.ndarray:
    """H = sum_j softmax(a)_j W_j: the EGES mix of one item's embeddings (rows of parts)."""
    parts, logits = np.asarray(parts, float), np.asarray(logits, float)
    weights = np.exp(logits - logits.max())
    weights /= weights.sum()
    return weights @ parts


_P1 = np.array([[1.0, 0.0, 2.0], [0.0, 1.0, -1.0], [3.0, 3.0, 0.0]])
_P2 = np.array([[0.5, -0.5], [1.5, 2.0], [-1.0, 0.0], [2.0, 2.0]])

q2 = FunctionQuestion(
    """Write `eges_mix(parts, logits)`: `parts` is an array (n_sources, dim) holding one item's embeddings
    (row 0 its id embedding, then one row per side-information field) and `logits` its attention values
    a^0 .. a^n (length n_sources). Return the item's EGES vector
    H = sum_j exp(a^j) W^j / sum_j exp(a^j), an array of length dim. Large logits such as 1000 must not
    overflow.""",
    reference=_eges_mix,
    cases=[(_P1, np.array([0.0, 0.0, 0.0])), (_P1, np.array([1.0, -1.0, 0.5])), (_P2, np.array([0.2, 2.0, -3.0, 0.0])),
           (_P2, np.array([1000.0, 999.0, 0.0, 0.0]))],
    hints=["The weights are a softmax of the logits: exponentiate, then divide by their sum, so they add up to one.",
           "Subtract the largest logit before `np.exp`: the softmax does not change, and exp(1000) no longer "
           "overflows. Then `weights @ parts`."],
    wrong_answers=[lambda parts, logits: np.asarray(parts, float).mean(axis=0),
                   lambda parts, logits: np.asarray(logits, float) @ np.asarray(parts, float),
                   lambda parts, logits: np.exp(logits) @ np.asarray(parts, float)],
    explanation="With all logits equal the mix is GES's plain mean; EGES learns, item by item, which source to trust.",
)


# --------------------------------------------------------------------------- q3: Airbnb-style types

def _types_factor() -> float:
    from ..eges import cluster_items, side_information

    ml, _ = _data()
    side = side_information(ml, fields=["genres", "year"])
    types = cluster_items(side, 0, by="types")
    return round(len(side) / len(np.unique(types)), 1)


q3 = ValueQuestion(
    """Remedy 2 the Airbnb way: instead of k-means, give every movie the type of its attribute combination.
    Build `side = eges.side_information(ml, fields=["genres", "year"])` (genres and a 5-year release bucket,
    no tag) and `types = eges.cluster_items(side, 0, by="types")`. By what factor does this cut the id
    vocabulary, that is, the number of movies divided by the number of distinct types? To 1 decimal.""",
    expected=_types_factor,
    decimals=1,
    hints=["`len(np.unique(types))` distinct types stand for `len(side)` movies.",
           "The factor is movies / types, larger than 1; the inverse is the share of ids that remain."],
    wrong_answers=[0.4, 1.0, 3000.0],
    explanation="Few fields with few values collapse many items into one id; each added field (the top tag) "
                "multiplies the combinations and shrinks the factor.",
)


# --------------------------------------------------------------------------- q4: what the id table costs

def _eges_parameters(copies: int) -> int:
    from ..eges import side_information, train_eges
    from ..embeddings import random_walks

    ml, graph = _data()
    side = side_information(ml)
    walks = random_walks(graph, n_walks=200, length=10, seed=SEED)
    return train_eges(walks, side, dim=16, epochs=1, max_batches=1, id_copies=copies, seed=SEED).n_parameters


q4 = ValueQuestion(
    """Grow the id space: train end-to-end EGES with `dim=16` on the chapter's side information (genres, year,
    top tag) with every movie split into 10 ids (`id_copies=10`; `max_batches=1` is enough, only the size
    matters). How many trainable parameters does the model have (`model.n_parameters`)? Predict it first
    from the tables it holds (item ids x (id embedding + context embedding + attention logits), plus one
    embedding per side-information value), then check. An integer.""",
    expected=lambda: _eges_parameters(10),
    hints=["Per id: 16 numbers of id embedding, 16 of context embedding and 1 + (number of fields) attention "
           "logits; the side-information tables do not grow with the ids.",
           "`len(side) * 10` ids; the side-information vocabularies are `[len(v) for v in side.vocabulary]`, "
           "16 numbers each."],
    wrong_answers=[115_488, 607_488, 967_488],
    explanation="The id-sized tables are nearly all of the model, and Adam updates every row of them at every "
                "step: that is where the time per epoch goes as the catalogue grows.",
    reruns_experiment=True,
)


# --------------------------------------------------------------------------- q5: thought

q5 = ThoughtQuestion(
    """In the chapter's link-prediction table DeepWalk (BGE) scores exactly 0.5 on cold items, and EGES well
    above it. Why exactly 0.5? And which would you expect to gain more from a richer top tag (say the top
    three catalogue tags instead of one): popular items or long-tail items? Argue from the attention weights
    the chapter measured.""",
    solution="""A cold item never appears in a walk, so DeepWalk has no vector for it: every pair involving it,
    held-out edge or non-edge, gets the same similarity (0), and tied scores give an AUC of exactly 0.5.
    EGES builds a cold item from its side-information embeddings alone, which were trained on other
    items with the same genres, year and tag. Long-tail items gain more from richer side information:
    their id embeddings see few training pairs, and the chapter's attention table shows the weight on
    the id falling and the weight on the side information rising as popularity falls, so what the side
    information says is what a rare item's vector mostly is. Popular items already have a well-trained
    id embedding.""",
    hints=["What does a tie between every positive and every negative score do to an AUC?"],
)

# --------------------------------------------------------------------------- q6: recency in the recall channel

@lru_cache(maxsize=4)
def _blended_recall(half_life: int) -> float:
    from ..eges import recall_experiment

    ml, _ = _data()
    table, _ = recall_experiment(ml, methods=("bge",), half_life=half_life, seed=SEED)
    return round(float(table.set_index("channel").loc["DeepWalk + popularity (blend 0.5)", "recall@20"]), 3)


q6 = ValueQuestion(
    """Make the user vectors forget faster. The chapter's recall channel weighs a user's latest like 1 and
    halves the weight of earlier likes every 10 likes (`half_life=10`). Rerun its experiment with DeepWalk
    vectors only and a half-life of one like: `table, _ = eges.recall_experiment(ml, methods=("bge",),
    half_life=1, seed=2024)`. What recall@20 does the row "DeepWalk + popularity (blend 0.5)" reach? Predict
    first whether it rises or falls against the chapter's half-life of 10, then give it to 3 decimals.""",
    expected=lambda: _blended_recall(1),
    decimals=3,
    hints=["Read the row by its name: `table.set_index(\"channel\").loc[...]`, column `recall@20`.",
           "With a half-life of one like, the like before last weighs a half, the one before a quarter: the "
           "user vector is mostly the latest liked movie. Does one movie say more about the next likes than "
           "the whole history?"],
    wrong_answers=[0.140, 0.121, 0.039],
    explanations={0.140: "that is close to the chapter's row with a half-life of 10; rerun with half_life=1",
                  0.121: "that looks like the popularity row, which does not depend on the half-life",
                  0.039: "that looks like the DeepWalk row without popularity blended in"},
    explanation="Recency trades the whole history for the latest taste: it pays where tastes drift fast, and "
                "costs where a single movie is a noisy summary of a user; the table says which holds here.",
    reruns_experiment=True,
)


QUESTIONS = questions(globals())
