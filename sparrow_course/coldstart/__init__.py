"""Chapter 04: cold start (冷启动), recommending to new users and placing new items.

One module a job: ``users`` holds new users out as if new and serves them through
cold-start recall channels (popularity, clusters, a feature model, item-to-item once they
have rated a little); ``items`` gives new movies vectors from their most similar warm
movies. Both are re-exported here, so ``coldstart.fit_clusters`` and
``coldstart.item_cold_start`` work as before.
"""
from .items import (COLD_ITEM_METHODS, ITEM_FEATURE_METHODS, SIDE_FEATURES, compare_item_tricks, ItemColdStart, ItemHoldout, cold_item_vectors, hold_out_items,
                    item_cold_start, neighbour_k_sweep, projection, rarity_table, side_features, similar_warm_items)
from .regimes import REGISTRATION_FEATURES, segment_signal_sweep
from .users import (CONTEXT_FEATURES, ClusterChannel, FeatureChannel, ItemItemChannel, UserHoldout, available_features,
                    choose_n_clusters, cluster_profiles, compare_feature_sets, compare_user_approaches, fit_clusters,
                    fit_feature_model, fit_item_item, first_visit_context, history_length_quality, hold_out_users,
                    typicality_table, user_features, warm_up_curve)

__all__ = [
    # new users
    "CONTEXT_FEATURES", "UserHoldout", "hold_out_users", "first_visit_context", "available_features", "user_features",
    "ClusterChannel", "fit_clusters", "choose_n_clusters", "cluster_profiles", "compare_feature_sets",
    "FeatureChannel", "fit_feature_model", "ItemItemChannel", "fit_item_item", "compare_user_approaches",
    "warm_up_curve", "history_length_quality", "typicality_table",
    # when clusters pay
    "REGISTRATION_FEATURES", "segment_signal_sweep",
    # new items
    "COLD_ITEM_METHODS", "ITEM_FEATURE_METHODS", "compare_item_tricks", "SIDE_FEATURES", "ItemHoldout", "hold_out_items", "side_features", "similar_warm_items",
    "cold_item_vectors", "ItemColdStart", "item_cold_start", "neighbour_k_sweep", "rarity_table", "projection",
]
