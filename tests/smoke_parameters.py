"""Small values for each notebook's `parameters` cell, injected by the smoke run (tests/test_notebook_smoke.py).

One entry per notebook, keyed by its file name without ``.ipynb``. Each value replaces the knob of
the same name after the cell's defaults, as papermill does; knobs left out keep their defaults.
The smoke run proves that a learner who shrinks the knobs gets a notebook that still runs (claims
included) in a fraction of the time. Chapter authors: add your notebook here when it lands, with
values that make it run in well under a minute.
"""
from __future__ import annotations

SMOKE_PARAMETERS: dict[str, dict] = {
    "00_welcome_and_data": {"MIN_RELEVANCE": 0.5},
    "01_network_depth": {
        "TRAIN_ROWS": 8_000,
        "SWEEP_ROWS": 4_000,
        "DEPTHS": [0, 1, 2],
        "SEEDS": [0, 1],
        "TRAIN_SIZES": [2_000],
        "SIZE_DEPTHS": [0, 1],
        "TRAINING": dict(steps=60, batch_size=512, learning_rate=1e-2, eval_every=20),
        "USERS": 300,
        "LENS_DEPTHS": [0, 1],
        "LENS_TRAINING": dict(steps=30, batch_size=512, learning_rate=1e-2, eval_every=10),
        "BASE_RATES": [0.04, 0.53],
    },
    "02_load_balancing": {
        "N_REQUESTS": 20_000,
        "N_KEYS": 10_000,
        "RING_SEEDS": 2,
        "VNODES": 40,
        "MAGLEV_TABLE": 251,
        "RESIZE_SECONDS": 120,
        "PEAK_RATE": 150,
    },
    "03_caching": {
        "N_KEYS": 2_000,
        "N_REQUESTS": 20_000,
        "N_SESSIONS": 3_000,
    },
    "04_cold_start": {
        "CLUSTER_COUNTS": (1, 4),
        "WARM_UP_STEPS": (1, 5),
        "N_NEW_ITEMS": 30,
        "N_BOOT": 50,
        "SIGNAL_STRENGTHS": (0.0, 1.6),
        "SIGNAL_USERS": 800,
    },
    "05_tag_matching": {
        "K": 10,
        "MAX_USERS": 500,
        "DECAYS": (0.0, 1.0),
        "BLENDS": (0.0, 0.5),
        "N_BOOT": 100,
    },
    "06_graph_embedding_eges": {
        "N_WALKS": 2_000,
        "W2V_EPOCHS": 2,
        "DIM": 8,
        "MAX_EPOCHS": 2,
        "PATIENCE": 1,
        "N_CLUSTERS": 50,
        "RECALL_K": 5,
        "ID_COPIES": (1, 4),
    },
    "07_lsh_and_user_embeddings": {
        "N_USERS": 300,
        "FIX_EPOCHS": 5,
        "N_TRIALS": 2_000,
        "N_REPEATS": 3,
        "N_SYNTHETIC": 10_000,
        "N_QUERIES": 50,
        "OFFSET_REPEATS": 2,
        "SCALING_SIZES": (2_000, 8_000),
    },
    "08_scaling_out_with_spark": {
        "MAX_ITER": 1,
        "LSH_QUERIES": 30,
        "SCALE_FACTORS": (2,),
    },
    "09_capstone_serving": {
        "N_EVAL_USERS": 200,
        "N_TUNE_USERS": 200,
        "EGES_WALKS": 1000,
        "RANK_STEPS": 200,
        "TRACE_REQUESTS": 80,
        "JOIN_REQUESTS": 80,
        "JOIN_USERS": 40,
        "LOAD_REQUESTS": 200,
        "TIME_SCALE": 0.003,
        "WORKERS": 2,
    },
}
