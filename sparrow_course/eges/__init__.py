"""Chapter 06: EGES (graph embedding with side information), why it trains slowly, and two remedies.

EGES (Wang et al., KDD 2018) gives item v one embedding per source, W_v^0 for its id and
W_v^1..W_v^n for its side information (genres, release-year bucket, top tag), and mixes
them with the item's own softmax weights::

    H_v = sum_j exp(a_v^j) W_v^j / sum_j exp(a_v^j)

trained by skip-gram with negative sampling on (centre, context) pairs from random walks
over the item graph. GES is the same model with every a_v frozen at zero (a plain mean);
a cold item, with no id embedding worth the name, is the mean of its side-information
embeddings. The pipeline::

    side = side_information(ml)                        # per-movie field values
    split = link_prediction_split(positive_sequences(ml.ratings), seed=1)
    walks = random_walks(split.graph, n_walks=20_000, length=10, seed=1)
    model = train_eges(walks, side, method="eges", seed=1)
    link_prediction_auc(model, split)                  # overall, long tail, cold items
    channel = fit_recall(ml, train)                    # a user-level recall channel
    channel.recall(user_ids, k=20)                     # DataFrame[userId, movieId, score]

``compare_methods`` trains every variant to convergence: a validation slice carved from
the training graph (``link_prediction_split(..., exclude_edges=split.excluded)``) decides the
epoch (:func:`epochs_to_converge`), and :func:`remedies` reports time per epoch, epochs to
converge and total training time beside the AUC.

Why it is slow, as this package measures it: Adam (as most embedding trainers) updates
every row of every trainable table at every step (its moment estimates decay everywhere),
so a step costs time in proportion to the number of item ids. The two remedies take the
id-sized tables out: ``method="pretrained"`` feeds fixed DeepWalk vectors through small
dense maps; ``method="clustered"`` trains one id per k-means cluster of items.

One module a job: ``model`` (side information, the model, its training), ``link_prediction``
(the paper's evaluation), ``experiments`` (the chapter's tables) and ``channel`` (EGES
vectors as a recall channel). Everything is re-exported here.
"""
from .channel import RECALL_METHODS, fit_recall, recall_experiment, recency_user_vectors
from .experiments import (attention_by_popularity, compare_methods, epoch_time_by_id_count, neighbour_agreement,
                          planted_subgenre, remedies, sequences_against_walks, side_mean_for_cold,
                          side_quality_sweep, cluster_count_sweep, grown_id_space)
from .link_prediction import LinkSplit, link_prediction_auc, link_prediction_split, uniform_negatives
from .model import (FIELDS, METHODS, OPTIMIZERS, EGESModel, SideInformation, cluster_items, degrade_side_information, epochs_to_converge, side_information,
                    skipgram_pairs, train_eges)

__all__ = [
    "FIELDS", "METHODS", "OPTIMIZERS", "SideInformation", "side_information", "degrade_side_information", "skipgram_pairs", "cluster_items", "EGESModel",
    "train_eges", "epochs_to_converge",
    "LinkSplit", "link_prediction_split", "uniform_negatives", "link_prediction_auc",
    "compare_methods", "remedies", "attention_by_popularity", "epoch_time_by_id_count", "neighbour_agreement",
    "planted_subgenre", "sequences_against_walks", "side_mean_for_cold", "side_quality_sweep",
    "cluster_count_sweep", "grown_id_space",
    "RECALL_METHODS", "recency_user_vectors", "fit_recall", "recall_experiment",
]
