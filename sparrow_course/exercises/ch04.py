"""Chapter 04 exercises: clusters on one feature, centred cosine, the warm-up point against popularity, failing users."""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from .. import coldstart
from ..channels import fit_popularity
from ..datasets import load_movielens
from ..metrics import per_user_metrics
from ..seeding import DEFAULT_SEED
from .core import Case, ChoiceQuestion, FunctionQuestion, ThoughtQuestion, ValueQuestion, questions

K = 20


@lru_cache(maxsize=1)
def _setup():
    """The chapter's default protocol: seed 2024, 20% test users, 10% validation users."""
    ml = load_movielens()
    return ml, coldstart.hold_out_users(ml.ratings, test_fraction=0.2, validation_fraction=0.1, seed=DEFAULT_SEED)


def _test_recall(channel) -> float:
    _, holdout = _setup()
    recs = channel.recall(holdout.test_users, K)
    return float(per_user_metrics(recs, holdout.truth("test"), K)[f"recall@{K}"].mean())


# --------------------------------------------------------------------------- q1: clusters on gender alone

def _gender_clusters_recall() -> float:
    ml, holdout = _setup()
    return round(_test_recall(coldstart.fit_clusters(ml, holdout.train, ["gender"], n_clusters=2,
                                                     seed=DEFAULT_SEED)), 3)


def _popularity_recall() -> float:
    ml, holdout = _setup()
    return round(_test_recall(fit_popularity(holdout.train, catalogue=ml.movies["movieId"])), 3)


q1 = ValueQuestion(
    """Cluster the training users on `gender` alone into 2 clusters (`coldstart.fit_clusters(ml,
    holdout.train, ["gender"], n_clusters=2, seed=SEED)`), serve each test user their cluster's list and
    measure the mean recall@20 over the test users (`metrics.per_user_metrics`). Give it to 3 decimals.""",
    expected=_gender_clusters_recall,
    decimals=3,
    hints=["Recall is measured on the test users, who are held out as if new: the same ones as the tables above.",
           "`model.recall(holdout.test_users, 20)` gives the lists; compare with `holdout.truth('test')`."],
    # a typical mistake: serving everyone the popularity list (one cluster) instead of two
    wrong_answers=[_popularity_recall, 0.0, 13.0],
    explanations={0.0: "Zero hits: did you pass the validation users' lists against the test users' truth?",
                  13.0: "That looks like a percentage; give recall as a fraction between 0 and 1."},
    explanation="Two gender clusters gain little over one list for all: which features you cluster on decides "
                "more than how many clusters you make.",
    reruns_experiment=True,
)


# --------------------------------------------------------------------------- q2: centred cosine

def _centred_cosine(a: np.ndarray, b: np.ndarray, centre: np.ndarray) -> float:
    """Cosine of a and b after subtracting the common centre from both; 0 if either becomes zero."""
    x, y = np.asarray(a, float) - centre, np.asarray(b, float) - centre
    nx, ny = np.linalg.norm(x), np.linalg.norm(y)
    return 0.0 if nx == 0 or ny == 0 else float(x @ y / (nx * ny))


def _raw_cosine(a, b, centre):  # typical mistake: forgets to centre
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def _centre_one_side(a, b, centre):  # typical mistake: centres only the guess
    x, y = np.asarray(a, float) - centre, np.asarray(b, float)
    nx, ny = np.linalg.norm(x), np.linalg.norm(y)
    return 0.0 if nx == 0 or ny == 0 else float(x @ y / (nx * ny))


_C = np.array([1.0, 1.0, 0.5])
q2 = FunctionQuestion(
    """Write `centred_cosine(a, b, centre)`: the cosine between vectors `a` and `b` after subtracting
    `centre` (the mean of the warm item vectors) from both. If either centred vector is all zeros, return 0.0
    (a guess equal to the centre points nowhere).""",
    reference=_centred_cosine,
    cases=[Case((np.array([2.0, 1.0, 0.5]), np.array([3.0, 1.0, 0.5]), _C)),
           Case((np.array([2.0, 2.0, 0.5]), np.array([0.0, 0.0, 0.5]), _C)),
           Case((np.array([1.0, 1.0, 0.5]), np.array([3.0, 2.0, 1.0]), _C)),
           Case((np.array([0.3, -0.2, 0.9, 0.1]), np.array([0.5, 0.1, 0.7, -0.4]), np.array([0.2, 0.0, 0.6, 0.0])))],
    decimals=6,
    hints=["Subtract the centre from both vectors before anything else.",
           "Check the norms of the centred vectors before dividing by them."],
    wrong_answers=[_raw_cosine, _centre_one_side],
    explanation="Word2Vec vectors share a common offset; only after removing it does a cosine compare tastes, "
                "which is why the global mean scores 0 centred but high raw.",
)


# --------------------------------------------------------------------------- q3: warm-up against popularity

def _warm_up_against_popularity() -> int:
    ml, holdout = _setup()
    popularity = coldstart.fit_clusters(ml, holdout.train, ["gender"], n_clusters=1, seed=DEFAULT_SEED)
    items = coldstart.fit_item_item(ml, holdout.train)
    curve = coldstart.warm_up_curve(ml, holdout, popularity, items, steps=range(1, 11), k=K, n_boot=10,
                                    seed=DEFAULT_SEED)
    ahead = curve.loc[curve["difference"] > 0, "ratings seen"]
    return int(ahead.min()) if len(ahead) else 11


_Q3_OPTIONS = {"a": "after 1 rating", "b": "after 2 or 3 ratings", "c": "after 4 or 5 ratings",
               "d": "after 6 to 10 ratings", "e": "not within 10 ratings"}


def _q3_letter() -> str:
    n = _warm_up_against_popularity()
    return "a" if n == 1 else "b" if n <= 3 else "c" if n <= 5 else "d" if n <= 10 else "e"


def _q3_why_wrong(letter: str) -> str:
    return {"a": "One rating gives the personal model one like at most to sum similarities over; read the "
                 "`difference` of your run at 1 again.",
            "b": "Read the `difference` column of your run row by row: is it above zero at 2 or 3?",
            "c": "Popularity is a weaker opponent than the cluster list; check whether your run's `difference` "
                 "turns positive at 4 or 5, or earlier.",
            "d": "With clusters as the opponent the crossover came at 5 ratings or so; against a weaker list it "
                 "cannot come later. Check your run's `difference` again.",
            "e": "Look at the last rows of your run: the personal model is well ahead there."}[letter]


q3 = ChoiceQuestion(
    """Replace the cluster list of the warm-up experiment by global popularity (a single cluster:
    `coldstart.fit_clusters(ml, holdout.train, ["gender"], n_clusters=1, seed=SEED)`) and rerun
    `coldstart.warm_up_curve` with `steps=range(1, 11)`. When is the personal model's mean recall@20 first
    above popularity's? Pick one option by its letter (a string such as "c").""",
    options=_Q3_OPTIONS,
    answer=_q3_letter,
    why_wrong=_q3_why_wrong,
    hints=["Think about what the shared list is now: is it a stronger or a weaker opponent than the clusters?",
           "Read the `difference` column (personal minus the shared list) and find its first positive row."],
    explanation="A weaker shared list is overtaken sooner: every approach's crossover depends on what it is "
                "compared with, so measure it for your own fallback.",
)


# --------------------------------------------------------------------------- q4: users unlike their cluster

q4 = ThoughtQuestion(
    """The last section showed that the users least like their cluster gain nothing from it. You run a
    site where a third of new users are like that. Name two changes to the cold-start design that would
    help them, and how you would measure each on this chapter's holdout.""",
    solution="""Two families of fixes, each measurable with the same held-out users:

1. *Hedge the cluster list.* Blend it with global popularity (score = w x cluster + (1 - w) x popularity)
   or shrink small clusters harder; choose w on the validation users and report recall@20 of the
   atypical quartile on the test users next to the typical ones.
2. *Ask, or learn faster.* An onboarding question (pick three films or genres) gives the personal
   model its first ratings at once; the warm-up curve already shows how much a few ratings buy. Or
   explore: show a mix of the cluster list and diverse items (a bandit) and switch to the personal
   model as soon as it is ahead. Measure recall after n onboarding answers against the cluster list,
   as in `warm_up_curve`, for the atypical quartile.

A feature model that weighs each feature separately also helps users whose features put them
between clusters; compare it per quartile too.""",
    hints=["Think of two levers: how much the design trusts the cluster, and how fast it stops needing it."],
    explanation="A cold-start list is a prior: hedge it where it is weak, and replace it with evidence as fast "
                "as the user gives some.",
)

QUESTIONS = questions(globals())
