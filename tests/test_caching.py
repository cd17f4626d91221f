"""Chapter 03: cache policies, the all-sizes LRU curve, Che's approximation, traces, keys, TTL and staleness."""
from __future__ import annotations

import re

import math

import numpy as np
import pandas as pd
import pytest

from sparrow_course import caching, traffic
from sparrow_course.exercises import ch03


@pytest.fixture(scope="module")
def users() -> pd.DataFrame:
    """A small synthetic users table (the chapter's notebook uses the bundled one)."""
    rng = np.random.default_rng(0)
    n = 300
    return pd.DataFrame({
        "userId": np.arange(1, n + 1),
        "region": rng.choice(["east", "west", "north"], size=n, p=[0.5, 0.3, 0.2]),
        "signup_platform": rng.choice(["web", "ios", "android", "tv"], size=n, p=[0.6, 0.2, 0.15, 0.05]),
        "age_group": "25-34",
    })


@pytest.fixture(scope="module")
def trace(users) -> pd.DataFrame:
    return traffic.generate_trace(users, n_sessions=3000, seed=5)


# --------------------------------------------------------------------------- policies (cachetools)

def test_lru_evicts_the_least_recently_used():
    # a b a c b, 2 entries: the hit on a makes b the oldest, so c evicts b and b misses
    result = caching.serve(list("abacb"), "lru", 2)
    assert result.hit.tolist() == [False, False, True, False, False]


def test_fifo_ignores_hits_when_evicting():
    # same trace: a stays the oldest despite its hit, so c evicts a and b hits
    result = caching.serve(list("abacb"), "fifo", 2)
    assert result.hit.tolist() == [False, False, True, False, True]


def test_lfu_evicts_the_least_frequently_used():
    # a a b c a, 2 entries: LRU evicts a for c (a is older than b), LFU evicts b (used once)
    assert caching.serve(list("aabca"), "lfu", 2).hit.tolist() == [False, True, False, False, True]
    assert caching.serve(list("aabca"), "lru", 2).hit.tolist() == [False, True, False, False, False]


def test_ttl_expires_entries_ttl_after_insertion_and_reports_their_age():
    times = [0.0, 5.0, 10.0, 10.0, 19.0, 20.0]
    result = caching.serve(["a"] * 6, "ttl", 10, times=times, ttl=10)
    # inserted at 0, expires at 10 (a request at exactly 10 misses); a hit does not extend the life
    assert result.hit.tolist() == [False, True, False, True, True, False]
    assert result.born.tolist() == [0.0, 0.0, 10.0, 10.0, 10.0, 20.0]
    assert result.age.tolist() == [0.0, 5.0, 0.0, 0.0, 9.0, 0.0]
    assert result.hits == 3 and result.hit_ratio == pytest.approx(0.5)


def test_ttl_cache_also_evicts_when_full():
    # never expires within the trace, but holds one entry: a b a -> all misses
    assert caching.serve(list("aba"), "ttl", 1, times=[0, 1, 2], ttl=100).hits == 0
    assert caching.serve(list("aba"), "ttl", 2, times=[0, 1, 2], ttl=100).hits == 1


@pytest.mark.parametrize("policy", ["lru", "lfu", "fifo", "ttl"])
def test_a_cache_of_size_zero_never_hits(policy):
    ttl = 5.0 if policy == "ttl" else None
    result = caching.serve(list("aaaa"), policy, 0, ttl=ttl)
    assert result.hits == 0 and result.requests == 4


@pytest.mark.parametrize("policy", ["lru", "lfu", "fifo"])
def test_a_cache_larger_than_the_key_set_misses_only_first_requests(policy):
    keys = traffic.zipf_trace(2000, 50, 0.9, seed=1)
    assert caching.serve(keys, policy, 50).hits == 2000 - len(set(keys.tolist()))


def test_warmup_requests_are_not_counted():
    result = caching.serve(list("abab"), "lru", 2, warmup=2)
    assert result.requests == 2 and result.hits == 2 and result.hit_ratio == 1.0


# --------------------------------------------------------------------------- the all-sizes LRU curve

def test_stack_distances_of_a_small_trace():
    d = caching.lru_stack_distances(list("abacbada"))
    assert d.tolist() == [math.inf, math.inf, 2, math.inf, 3, 3, math.inf, 2]


@pytest.mark.parametrize("seed", range(8))
def test_vectorised_stack_distances_equal_the_fenwick_tree(seed):
    rng = np.random.default_rng(seed)
    keys = rng.integers(0, rng.integers(1, 60), size=int(rng.integers(1, 800)))
    np.testing.assert_array_equal(caching.lru_stack_distances(keys), caching.lru_stack_distances_fenwick(keys))


def test_stack_distance_curve_equals_cachetools_lru_at_several_sizes():
    keys = traffic.zipf_trace(30_000, 3_000, 0.8, seed=11)
    sizes = [1, 7, 50, 333, 1000, 2999, 5000]
    counts = caching.lru_hit_counts(keys, sizes)
    assert counts.tolist() == [caching.serve(keys, "lru", s).hits for s in sizes]
    warm = caching.lru_hit_counts(keys, sizes[:4], warmup=10_000)
    assert warm.tolist() == [caching.serve(keys, "lru", s, warmup=10_000).hits for s in sizes[:4]]


def test_hit_ratio_curve_is_counts_over_counted_requests_and_rises_with_size():
    keys = traffic.zipf_trace(5_000, 500, 1.0, seed=3)
    sizes = list(range(0, 600, 25))
    curve = caching.lru_hit_ratio_curve(keys, sizes, warmup=1000)
    np.testing.assert_allclose(curve, caching.lru_hit_counts(keys, sizes, warmup=1000) / 4000)
    assert curve[0] == 0 and (np.diff(curve) >= 0).all()


def test_stack_distances_accept_strings_and_tuples():
    assert caching.lru_stack_distances([("u", 1), ("u", 2), ("u", 1)]).tolist() == [math.inf, math.inf, 2]
    assert caching.lru_hit_counts(["x", "y", "x", "x"], [1, 2]).tolist() == [1, 2]


# --------------------------------------------------------------------------- Che's approximation

def _brute_force_root(q: np.ndarray, c: float) -> float:
    """Scan T on a fine grid for the sign change of sum(1 - exp(-q T)) - C, then refine the bracket by scanning again."""
    lo, hi = 0.0, 1.0
    while np.sum(1 - np.exp(-q * hi)) < c:
        hi *= 2.0
    for _ in range(6):
        grid = np.linspace(lo, hi, 1_001)
        f = (1 - np.exp(-np.outer(grid, q))).sum(axis=1) - c
        k = int(np.argmax(f >= 0))
        lo, hi = grid[max(k - 1, 0)], grid[k]
    return (lo + hi) / 2


@pytest.mark.parametrize("n,alpha,c", [(200, 0.8, 20), (1000, 1.0, 5), (50, 0.0, 25), (500, 1.2, 300)])
def test_che_characteristic_time_matches_a_brute_force_root_search(n, alpha, c):
    q = traffic.zipf_probabilities(n, alpha)
    T = caching.che_characteristic_time(q, c)
    assert T == pytest.approx(_brute_force_root(q, c), rel=1e-6)
    assert np.sum(-np.expm1(-q * T)) == pytest.approx(c, rel=1e-9)


def test_che_uniform_popularity_has_a_closed_form():
    n, c = 100, 40
    q = np.full(n, 1 / n)
    assert caching.che_characteristic_time(q, c) == pytest.approx(-n * math.log(1 - c / n), rel=1e-10)
    assert caching.che_hit_ratio(q, c) == pytest.approx(c / n, rel=1e-10)  # uniform: every policy holds C/N


def test_che_edges_empty_and_full_cache():
    q = traffic.zipf_probabilities(10, 0.8)
    assert caching.che_characteristic_time(q, 0) == 0.0 and caching.che_hit_ratio(q, 0) == 0.0
    assert caching.che_characteristic_time(q, 10) == math.inf and caching.che_hit_ratio(q, 12) == 1.0


def test_che_predicts_measured_lru_on_independent_requests():
    q = traffic.zipf_probabilities(2_000, 0.8)
    keys = np.random.default_rng(4).choice(len(q), size=200_000, p=q)
    sizes = [10, 100, 500, 1500]
    measured = caching.lru_hit_ratio_curve(keys, sizes, warmup=20_000)
    np.testing.assert_allclose(measured, caching.che_hit_ratio_curve(q, sizes), atol=0.005)


def test_static_top_bounds_lru_and_che_from_above():
    q = traffic.zipf_probabilities(1_000, 0.9)
    for c in (1, 10, 100, 900):
        assert caching.static_top_hit_ratio(q, c) >= caching.che_hit_ratio(q, c)
    assert caching.static_top_hit_ratio(q, 1) == pytest.approx(q[0])


def test_zipf_popularity():
    q = traffic.zipf_probabilities(100, 0.8)
    assert q.sum() == pytest.approx(1.0) and (np.diff(q) < 0).all()
    assert q[0] / q[9] == pytest.approx(10 ** 0.8)
    np.testing.assert_allclose(traffic.zipf_probabilities(4, 0), 0.25)


# --------------------------------------------------------------------------- the request trace

def test_trace_is_deterministic_for_a_seed_and_changes_with_it(users):
    a = traffic.generate_trace(users, n_sessions=500, seed=9)
    b = traffic.generate_trace(users, n_sessions=500, seed=9)
    pd.testing.assert_frame_equal(a, b)
    c = traffic.generate_trace(users, n_sessions=500, seed=10)
    assert not a[["time", "user"]].equals(c[["time", "user"]])


def test_trace_shape_and_invariants(trace, users):
    n = len(traffic.TRACE_COLUMNS)
    assert tuple(trace.columns[:n]) == traffic.TRACE_COLUMNS and set(trace.columns[n:]) <= set(traffic.REGISTRATION)
    assert (np.diff(trace["time"].to_numpy()) >= 0).all()
    assert trace["session"].nunique() == 3000
    assert trace["hour"].between(0, 23).all() and set(trace["daypart"]) <= set(traffic.DAYPARTS)
    assert (trace["daypart"] == [traffic.daypart(h) for h in trace["hour"]]).all()
    # returning users are known users; new users have fresh ids, one per session, features from the table
    known = set(users["userId"])
    ret, new = trace[~trace["is_new"]], trace[trace["is_new"]]
    assert set(ret["user"]) <= known and not set(new["user"]) & known
    assert new.groupby("user")["session"].nunique().max() == 1
    assert set(new["region"]) <= set(users["region"]) and set(trace["platform"]) <= set(users["signup_platform"])
    # a session starts on page 1 and moves at most one page forward per request
    by_session = trace.sort_values(["session", "time"], kind="stable").groupby("session")["page"]
    assert (by_session.first() == 1).all()
    assert by_session.diff().dropna().isin([0, 1]).all()
    assert (trace["list_block"] == (trace["page"] - 1) // traffic.PAGES_PER_LIST).all()


def test_trace_parameters_do_what_they_say(users):
    base = dict(n_sessions=4000, seed=2)
    t0 = traffic.generate_trace(users, share_new=0.0, **base)
    t1 = traffic.generate_trace(users, share_new=1.0, **base)
    assert not t0["is_new"].any() and t1["is_new"].all()
    sessions = traffic.generate_trace(users, share_new=0.4, **base).drop_duplicates("session")
    assert sessions["is_new"].mean() == pytest.approx(0.4, abs=0.03)
    long = traffic.generate_trace(users, requests_per_session=8.0, **base)
    assert len(long) / 4000 == pytest.approx(8.0, rel=0.05)
    no_revisit = traffic.generate_trace(users, revisit_rate=0.0, **base).sort_values(["session", "time"])
    assert no_revisit.groupby("session")["page"].diff().dropna().eq(1).all()  # every request opens a new page
    # skew: with sigma 0 visits spread evenly, with sigma 2 a few users take many sessions
    flat = traffic.generate_trace(users, activity_skew=0.0, share_new=0.0, **base).drop_duplicates("session")
    skewed = traffic.generate_trace(users, activity_skew=2.0, share_new=0.0, **base).drop_duplicates("session")
    assert skewed["user"].value_counts().max() > 3 * flat["user"].value_counts().max()


@pytest.mark.parametrize("kwargs,match", [
    ({"share_new": 1.5}, "share_new"), ({"revisit_rate": 1.0}, "revisit_rate"),
    ({"requests_per_session": 0.5}, "requests_per_session"), ({"think_time": 0}, "think_time"),
    ({"n_sessions": 0}, "n_sessions"), ({"activity_skew": -1}, "activity_skew"),
])
def test_trace_rejects_bad_parameters(users, kwargs, match):
    with pytest.raises(ValueError, match=match):
        traffic.generate_trace(users, **kwargs)


def test_trace_rejects_bad_users_tables(users):
    with pytest.raises(TypeError, match="DataFrame"):
        traffic.generate_trace(users.to_dict())
    with pytest.raises(ValueError, match="lacks column"):
        traffic.generate_trace(users.drop(columns="region"))
    with pytest.raises(ValueError, match="empty"):
        traffic.generate_trace(users.iloc[:0])
    with pytest.raises(ValueError, match="duplicate"):
        traffic.generate_trace(pd.concat([users, users.iloc[:1]]))


# --------------------------------------------------------------------------- keys

@pytest.mark.parametrize("name", list(caching.DESIGNS))
def test_vectorised_keys_partition_requests_like_the_per_request_key(trace, name):
    sample = trace.iloc[:1500]
    codes = caching.cache_keys(sample, name)
    tuples = [caching.cache_key(row, name) for row in sample.to_dict("records")]
    # same key <=> same code: numbering tuples by first appearance gives the identical array
    np.testing.assert_array_equal(codes, pd.factorize(pd.Series(tuples))[0])


def test_key_designs_say_what_they_contain(trace):
    row = trace[trace["is_new"]].iloc[0].to_dict()
    key = caching.cache_key(row, "segment (new) + user + page")
    assert key == ("new", row["region"], row["platform"], row["daypart"], row["page"])
    row = trace[~trace["is_new"]].iloc[0].to_dict()
    assert caching.cache_key(row, "segment (new) + user + page") == ("returning", row["user"], row["page"])
    # the raw key is the finest: every raw key lies inside one user + page key
    raw = caching.cache_keys(trace, "raw request")
    user_page = caching.cache_keys(trace, "user + page")
    assert pd.Series(user_page).groupby(raw).nunique().max() == 1


def test_segments_and_coarser_keys_hit_more(trace):
    ratio = {n: caching.replay_ttl(caching.cache_keys(trace, n), trace["time"], 600).hit_ratio for n in caching.DESIGNS}
    assert ratio["raw request"] < ratio["user + page"] < ratio["segment (new) + user + page"]
    assert ratio["segment (new) + user + page"] <= ratio["segment (new) + user list"]


def test_bad_key_designs_are_rejected(trace):
    with pytest.raises(ValueError, match="unknown key design"):
        caching.cache_keys(trace, "by horoscope")
    with pytest.raises(ValueError, match="elements must be"):
        caching.KeyDesign("odd", ("user", "zodiac"), ("segment",))
    with pytest.raises(ValueError, match="lacks"):
        caching.cache_keys(trace.drop(columns="page"), "user + page")
    with pytest.raises(ValueError, match="lacks"):
        caching.cache_key({"is_new": True, "page": 1}, "segment (new) + user + page")


# --------------------------------------------------------------------------- TTL replay and staleness

@pytest.mark.parametrize("ttl", [0.5, 3.0, 17.0, 400.0])
def test_replay_ttl_equals_cachetools_request_by_request(ttl):
    keys = traffic.zipf_trace(8_000, 300, 0.9, seed=6)
    times = np.floor(np.cumsum(np.random.default_rng(6).exponential(0.5, size=8_000)))  # many ties
    fast = caching.replay_ttl(keys, times, ttl)
    slow = caching.serve(keys, "ttl", 10**6, times=times, ttl=ttl)
    np.testing.assert_array_equal(fast.hit, slow.hit)
    np.testing.assert_array_equal(fast.born, slow.born)


def test_replay_ttl_on_a_realistic_trace_equals_cachetools(trace):
    keys = caching.cache_keys(trace, "segment (new) + user + page")
    fast = caching.replay_ttl(keys, trace["time"], 600)
    slow = caching.serve(keys, "ttl", 10**6, times=trace["time"], ttl=600)
    np.testing.assert_array_equal(fast.hit, slow.hit)


def test_stale_share_by_hand():
    # one key, ttl 100, model refreshed every 60: lists born at 0 served at 10, 50, 70 (stale at 70)
    result = caching.replay_ttl(["k"] * 4, [0.0, 10.0, 50.0, 70.0], 100)
    assert result.hit.tolist() == [False, True, True, True]
    assert result.stale_share(60, phase=0) == pytest.approx(1 / 4)
    assert result.stale_share(60, phase=5) == pytest.approx(3 / 4)  # a refresh at 5 outdates every hit
    # expected over a random refresh moment: ages 0, 10, 50, 70 -> min(a/60, 1)
    assert result.stale_share(60) == pytest.approx((0 + 10 / 60 + 50 / 60 + 1) / 4)


def test_hit_ratio_and_staleness_grow_with_ttl(trace):
    keys = caching.cache_keys(trace, "segment (new) + user + page")
    runs = [caching.replay_ttl(keys, trace["time"], ttl) for ttl in (60, 300, 1200, 3600)]
    hits = [r.hit_ratio for r in runs]
    stale = [r.stale_share(3600) for r in runs]
    assert hits == sorted(hits) and stale == sorted(stale) and stale[0] < stale[-1]


def test_mean_live_entries_of_a_ttl_cache():
    result = caching.replay_ttl(["a", "b", "a", "a"], [0.0, 0.0, 50.0, 100.0], 30)
    # a: inserted 0, 50, 100; b: 0 -> lifetimes 30 + 30 + 30 + 0 (the trace ends at 100) over 100 s
    assert caching.mean_live_entries(result, 30) == pytest.approx(0.9)
    # counted from the third request (t = 50): entries inserted at 50 and 100 -> 30 + 0 over 50 s
    warm = caching.replay_ttl(["a", "b", "a", "a"], [0.0, 0.0, 50.0, 100.0], 30, warmup=2)
    assert caching.mean_live_entries(warm, 30) == pytest.approx(30 / 50)


def test_backend_load_and_servers_needed():
    result = caching.replay_ttl(["a"] * 4 + ["b"] * 2, [0, 1, 2, 3, 3600, 3601], 10_000)
    load = caching.backend_load(result, bin_seconds=3600)
    assert load["requests"].tolist() == [4, 2] and load["hits"].tolist() == [3, 1]
    assert load["backend_per_s"].tolist() == pytest.approx([1 / 3600, 1 / 3600])
    assert caching.servers_needed(1000, 100, utilisation=0.5) == 20
    assert caching.servers_needed(0, 100) == 0 and caching.servers_needed(70, 100) == 1
    with pytest.raises(ValueError, match="utilisation"):
        caching.servers_needed(10, 100, utilisation=0)


# --------------------------------------------------------------------------- errors

def test_clear_errors_for_bad_sizes_ttls_and_traces():
    with pytest.raises(ValueError, match="(size|sizes) must be an integer >= 0"):
        caching.serve(["a"], "lru", -1)
    with pytest.raises(ValueError, match="(size|sizes) must be an integer >= 0"):
        caching.lru_hit_counts(["a", "a"], [1, -3])
    with pytest.raises(TypeError, match="integer"):
        caching.serve(["a"], "lru", 2.5)
    for bad in (0, -5, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="ttl must be"):
            caching.serve(["a"], "ttl", 2, ttl=bad)
        with pytest.raises(ValueError, match="ttl must be"):
            caching.replay_ttl(["a"], [0.0], bad)
    for empty in ([], np.array([]), pd.Series([], dtype=object)):
        with pytest.raises(ValueError, match="empty"):
            caching.serve(empty, "lru", 2)
        with pytest.raises(ValueError, match="empty"):
            caching.lru_stack_distances(empty)
    with pytest.raises(ValueError, match="empty"):
        caching.lru_hit_counts(["a"], [])
    with pytest.raises(ValueError, match="missing values"):
        caching.serve(["a", None], "lru", 2)
    with pytest.raises(TypeError, match="sequence of cache keys"):
        caching.serve("abc", "lru", 2)


def test_clear_errors_for_policies_times_and_popularity():
    with pytest.raises(ValueError, match="unknown policy"):
        caching.serve(["a"], "mru", 2)
    with pytest.raises(ValueError, match="needs a ttl"):
        caching.serve(["a"], "ttl", 2)
    with pytest.raises(ValueError, match="only to policy 'ttl'"):
        caching.serve(["a"], "lru", 2, ttl=5)
    with pytest.raises(ValueError, match="non-decreasing"):
        caching.serve(["a", "b"], "lru", 2, times=[5, 1])
    with pytest.raises(ValueError, match="one timestamp per request"):
        caching.replay_ttl(["a", "b"], [0.0], 5)
    with pytest.raises(ValueError, match="warmup"):
        caching.serve(["a", "b"], "lru", 2, warmup=2)
    with pytest.raises(ValueError, match="sum to 1"):
        caching.che_hit_ratio([3, 2, 1], 1)
    with pytest.raises(ValueError, match="non-negative"):
        caching.che_characteristic_time([1.5, -0.5], 1)
    with pytest.raises(ValueError, match="cache_size must be a number >= 0"):
        caching.che_characteristic_time([0.5, 0.5], -1)
    with pytest.raises(ValueError, match="hour must be"):
        traffic.daypart(24)
    with pytest.raises(ValueError, match="refresh_interval"):
        caching.replay_ttl(["a"], [0.0], 5).stale_share(0)


# --------------------------------------------------------------------------- exercises agree with the package

def test_exercise_references_agree_with_the_package():
    keys = traffic.zipf_trace(3_000, 200, 0.9, seed=8).tolist()
    for size in (0, 1, 10, 80):
        assert ch03._lru_hits(keys, size) == caching.serve(keys, "lru", size).hits
    q = traffic.zipf_probabilities(300, 0.7)
    assert ch03._characteristic_time(q, 30) == pytest.approx(caching.che_characteristic_time(q, 30), rel=1e-9)
    request = {"region": "east", "platform": "ios", "hour": 20, "page": 2, "is_new": True,
               "daypart": traffic.daypart(20), "user": 1}
    assert ch03._cold_user_key(request) == caching.cache_key(request, "segment (new) + user + page")[1:]


def test_design_hit_ratios_splits_new_and_returning_users(trace):
    row = caching.design_hit_ratios(trace, "segment (new) + user + page", ttl=600)
    result = caching.replay_ttl(caching.cache_keys(trace, "segment (new) + user + page"), trace["time"], 600)
    new = trace["is_new"].to_numpy()
    assert row["hit ratio"] == result.hit_ratio
    assert row["new users"] == pytest.approx(result.hit[new].mean())
    assert row["returning users"] == pytest.approx(result.hit[~new].mean())
    share_new = new.mean()
    assert row["hit ratio"] == pytest.approx(share_new * row["new users"] + (1 - share_new) * row["returning users"])
    assert row["distinct keys"] < len(trace)
    only_returning = caching.design_hit_ratios(trace[~trace["is_new"]], "user + page", ttl=600)
    assert np.isnan(only_returning["new users"])
    with pytest.raises(ValueError, match="unknown key design"):
        caching.design_hit_ratios(trace, "by horoscope", ttl=600)


# --------------------------------------------------------------------------- experiments as tables

from sparrow_course.datasets import load_movielens  # noqa: E402


@pytest.fixture(scope="module")
def ml():
    return load_movielens()


@pytest.fixture(scope="module")
def day_trace(ml):
    return traffic.generate_trace(ml.users, n_sessions=3_000, seed=5)


def test_policy_and_ttl_size_tables():
    keys = traffic.zipf_trace(6_000, 300, 0.9, seed=2)
    table = caching.policy_table(keys, traffic.zipf_probabilities(300, 0.9), [10, 50], warmup=1000)
    assert list(table.index) == [10, 50]
    assert table.loc[50, "LRU"] == caching.lru_hit_ratio_curve(keys, [50], warmup=1000)[0]
    assert (table["LFU"] <= table["top-C ceiling"] + 0.02).all()
    ttl = caching.ttl_size_table(keys, np.arange(6_000.0), [10, 100], warmup=1000)
    assert ttl["hit ratio"].is_monotonic_increasing and ttl["mean live entries"].is_monotonic_increasing


def test_ttl_sweep_and_choice(day_trace):
    sweep = caching.ttl_sweep(day_trace, ["segment (new) + user list"], [60, 600, 3600], refresh_interval=3600)
    assert sweep["hit ratio"].is_monotonic_increasing and sweep["stale share"].is_monotonic_increasing
    budget = float(sweep["stale share"].iloc[1]) + 1e-9
    assert caching.longest_ttl_within(sweep, "segment (new) + user list", budget) == 600
    with pytest.raises(ValueError, match="stale_budget"):
        caching.longest_ttl_within(sweep, "segment (new) + user list", 0.0 if sweep["stale share"].min() > 0 else -1)


def test_list_staleness_counts_the_requests_a_list_has_not_seen():
    # one returning user, one list key: computed at t=0, served at 10, 20 (2 requests in between -> 0, 1, 2 ignored)
    trace = pd.DataFrame({"time": [0.0, 10.0, 20.0], "session": 0, "user": 7, "is_new": False, "list_block": 0,
                          "region": "r", "platform": "p", "daypart": "night", "page": [1, 2, 3]})
    out = caching.list_staleness(trace, "segment (new) + user list", 600, click_rate=0.5)
    assert out["mean requests ignored"] == pytest.approx((0 + 1 + 2) / 3)
    assert out["served a list that ignores >= 1 request"] == pytest.approx(2 / 3)
    assert out["ignores >= 1 click (click rate 0.5)"] == pytest.approx((0 + 0.5 + 0.75) / 3)


def test_list_cache_ignores_more_than_page_cache(day_trace):
    lst = caching.list_staleness(day_trace, "segment (new) + user list", 600)
    page = caching.list_staleness(day_trace, "segment (new) + user + page", 600)
    assert lst["mean requests ignored"] > page["mean requests ignored"]


def test_capacity_table_binds_below_the_peak(day_trace):
    table = caching.capacity_table(day_trace, "segment (new) + user list", 600, [5, 20])
    assert table["unbounded"].iloc[-1] and not table["unbounded"].iloc[0]
    assert table["hit ratio"].is_monotonic_increasing
    assert table["MiB"].iloc[0] == pytest.approx(5 * caching.list_bytes() / 2**20)
    assert caching.list_bytes(10, id_bytes=4, score_bytes=4, key_bytes=0, overhead_bytes=0) == 80


@pytest.mark.slow   # runs the chapter's segment-list experiment on the bundled data
def test_segment_list_loses_to_personal_list(ml):
    table = caching.segment_list_quality(ml.ratings, ml.users, k=10)
    personal = table.loc["personal list (item-to-item)"]
    assert table["users"].nunique() == 1
    for name in table.index[:2]:
        assert table.loc[name, "recall@10"] < personal["recall@10"]
    assert table["cached lists"].iloc[0] == 1


def test_cached_list_recs_equal_top_k_frame():
    from scipy import sparse

    from sparrow_course.metrics import top_k_frame
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 4, size=(2, 12)).astype(float)     # ties on purpose
    seen = sparse.csr_matrix(rng.random((5, 12)) < 0.3)
    group = np.array([0, 1, 0, 1, 1])
    users, items = np.arange(5) + 10, np.arange(12) + 100
    got = caching._cached_list_recs(users, items, group, scores, seen, 4)
    want = top_k_frame(users, items, scores[group], 4, exclude=seen)
    assert got[["userId", "movieId"]].values.tolist() == want[["userId", "movieId"]].values.tolist()


BAD_INPUTS = [
    (lambda: caching.serve(["a"], "lru", -1), ValueError, "size"),
    (lambda: caching.serve(["a"], "lru", 2.5), TypeError, "size"),
    (lambda: caching.serve([], "lru", 2), ValueError, "empty"),
    (lambda: caching.replay_ttl(["a"], [0.0], float("nan")), ValueError, "ttl"),
    (lambda: caching.replay_ttl(["a"], [0.0], float("inf")), ValueError, "ttl"),
    (lambda: caching.replay_ttl(["a"], [0.0], 0), ValueError, "ttl"),
    (lambda: caching.lru_hit_ratio_curve(["a"], [True]), TypeError, "sizes"),
    (lambda: caching.lru_hit_ratio_curve(["a"], []), ValueError, "sizes"),
    (lambda: caching.che_hit_ratio([0.5, 0.5], float("nan")), ValueError, "cache_size"),
    (lambda: traffic.daypart(24), ValueError, "hour"),
    (lambda: caching.list_bytes(0), ValueError, "n_items"),
    (lambda: caching.list_staleness(pd.DataFrame(), "segment (new) + user list", 60, click_rate=2), ValueError, "click_rate"),
    (lambda: caching.servers_needed(float("inf"), 10), ValueError, "requests_per_second"),
    (lambda: traffic.zipf_probabilities(0), ValueError, "n"),
    (lambda: traffic.zipf_probabilities(10**11), ValueError, "memory"),
    (lambda: traffic.zipf_probabilities(10, float("nan")), ValueError, "s"),
    (lambda: traffic.zipf_trace(10, 5, 1.0, seed=-3), ValueError, "seed"),
    (lambda: traffic.hourly_shares([1.0]), ValueError, "profile"),
]


@pytest.mark.parametrize("call, error, argument", BAD_INPUTS, ids=[f"bad-{i}" for i in range(len(BAD_INPUTS))])
def test_bad_input_gets_a_clear_error(call, error, argument):
    with pytest.raises(error) as info:
        call()
    # the argument's name as a word of its own: "n" must not pass on any message that contains an n
    assert re.search(rf"(?<!\w){re.escape(argument)}(?!\w)", str(info.value)), (argument, str(info.value))


def test_lru_curve_caps_huge_sizes_at_the_distinct_keys():
    keys = traffic.zipf_trace(2_000, 100, 0.9, seed=1)
    big = caching.lru_hit_ratio_curve(keys, [10**10])
    assert big[0] == caching.lru_hit_ratio_curve(keys, [100])[0]


def test_one_daily_profile_for_both_chapters():
    assert traffic.HOURLY_SESSION_SHARE.sum() == pytest.approx(1.0)
    assert int(np.argmax(traffic.HOURLY_SESSION_SHARE)) == int(np.argmax(traffic.DIURNAL_PROFILE))


# --------------------------------------------------------------------------- the chapter's explorer

def test_serve_expiring_agrees_with_plain_lru_when_nothing_expires_and_misses_all_when_everything_does():
    keys = traffic.zipf_trace(5_000, 300, 0.8, seed=3)
    times = np.arange(keys.size, dtype=float)
    assert caching.serve_expiring(keys, "lru", 50, times=times, ttl=1e9).hits == caching.serve(keys, "lru", 50).hits
    assert caching.serve_expiring(keys, "fifo", 50, times=times, ttl=1e9).hits == caching.serve(keys, "fifo", 50).hits
    assert caching.serve_expiring(keys, "lru", 50, times=times, ttl=0.5).hits == 0
    with pytest.raises(ValueError, match="policy"):
        caching.serve_expiring(keys, "ttl", 50, times=times, ttl=10)


def test_explorer_controls_start_at_the_functions_defaults(ml):
    defaults = {name: control.value for name, control in caching.EXPLORER_CONTROLS.items()}
    assert defaults == {"cache_size": 200, "ttl": 600, "sessions_per_user": 2.5, "policy": "lru"}
    view = caching.explore_cache(users=ml.users, **defaults)
    assert 0.5 < view.hit_ratio < 1 and 0 < view.stale_share < 0.2
    assert view.memory_mib == pytest.approx(200 * caching.list_bytes(200) / 2**20)
    assert caching.cache_summary(view) == caching.cache_summary(caching.explore_cache(users=ml.users, **defaults))


def test_explorer_curves_are_the_package_measurements_and_sessions_beat_che(ml):
    view = caching.explore_cache(300, 600, "lru", 2.5, users=ml.users)
    assert view.lru_curve.shape == view.che_curve.shape == view.sizes.shape
    assert np.all(np.diff(view.lru_curve) >= 0) and np.all(np.diff(view.che_curve) >= 0)
    # Che assumes independent requests; a session re-requests its own list at once, so LRU does far better
    assert view.lru_hit_ratio > view.che_hit_ratio + 0.2
    # TTL expiry can only cost hits at a size
    assert view.hit_ratio <= view.lru_hit_ratio + 1e-12


def test_explorer_ttl_trades_hits_for_staleness_and_lfu_loses_on_sessions(ml):
    short = caching.explore_cache(200, 120, "lru", 2.5, users=ml.users)
    long = caching.explore_cache(200, 3600, "lru", 2.5, users=ml.users)
    assert long.hit_ratio > short.hit_ratio and long.stale_share > 3 * short.stale_share
    lfu = caching.explore_cache(200, 600, "lfu", 2.5, users=ml.users)
    assert lfu.hit_ratio < 0.5 * caching.explore_cache(200, 600, "lru", 2.5, users=ml.users).hit_ratio


def test_explorer_day_holds_at_most_the_chapters_sessions(ml):
    base, few, more = (caching.explore_cache(200, 600, "lru", spu, users=ml.users) for spu in (2.5, 1.0, 6.0))
    # 1 session a user: 6,000 / 0.7 = 8,571 sessions, under the cap, so fewer requests than the capped default day
    assert few.requests < 0.6 * base.requests
    # 6 sessions a user would be 51,429 sessions: the day keeps 20,000, made by fewer users, so on fewer keys
    assert caching.EXPLORER_SESSIONS == 20_000
    assert abs(more.requests - base.requests) < 0.05 * base.requests and more.distinct_keys < 0.7 * base.distinct_keys
    # more sessions per user at the same TTL: more repeat visits within it
    assert more.hit_ratio > base.hit_ratio


def test_explorer_draws_the_curve_against_che(ml):
    from matplotlib.figure import Figure

    fig = Figure()
    caching.draw_cache(caching.explore_cache(users=ml.users), fig)
    assert len(fig.axes) == 2 and [line.get_linestyle() for line in fig.axes[0].lines][:2] == ["-", "--"]


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(policy="ttl"), ValueError, "policy"),
    (dict(cache_size=0), ValueError, "cache_size"),
    (dict(ttl=-1), ValueError, "ttl"),
    (dict(sessions_per_user="2"), TypeError, "sessions_per_user"),
])
def test_explorer_refuses_bad_settings(ml, kwargs, error, words):
    with pytest.raises(error, match=words):
        caching.explore_cache(users=ml.users, **kwargs)


def test_che_curve_solves_every_size_at_once_as_the_scalar_root_does():
    for n, alpha in [(2_000, 0.8), (300, 1.2), (1_000, 0.4)]:
        q = traffic.zipf_probabilities(n, alpha)
        sizes = [0, 1, 7, n // 3, n - 1, n, n + 5]
        curve = caching.che_hit_ratio_curve(q, sizes)
        np.testing.assert_allclose(curve, [caching.che_hit_ratio(q, s) for s in sizes], rtol=0, atol=1e-9)
        assert curve[0] == 0 and curve[-1] == curve[-2] == 1


def test_trace_carries_registration_features_without_changing_its_other_columns(ml):
    users = ml.users
    with_reg = traffic.generate_trace(users, n_sessions=2_000, seed=9)
    without = traffic.generate_trace(users.drop(columns=["age_group", "gender", "occupation"]), n_sessions=2_000, seed=9)
    assert {"age_group", "gender", "occupation"} <= set(with_reg.columns)
    pd.testing.assert_frame_equal(with_reg.drop(columns=["age_group", "gender", "occupation"]), without)
    known = with_reg[~with_reg["is_new"]].merge(users, left_on="user", right_on="userId", suffixes=("", "_u"))
    assert (known["age_group"] == known["age_group_u"]).all()


def test_segment_definitions_are_measured_both_ways(ml, day_trace):
    table = caching.segment_definitions_table(day_trace, ml.ratings, ml.users, ttl=600, k=10)
    assert list(table.index) == ["region x platform x daypart", "age_group x gender x daypart", "(one global list)",
                                 "(a personal list)"]
    seg, taste = table.iloc[0], table.iloc[1]
    assert 0 < seg["new users' hit ratio"] <= 1 and 0 < taste["new users' hit ratio"] <= 1
    assert taste["segments seen"] <= 7 * 2 * 4 and seg["segments seen"] <= 6 * 4 * 4
    # SparrowLens plants taste on registration features, not on region
    assert taste["recall@10"] > seg["recall@10"]
    assert table.loc["(a personal list)", "recall@10"] > taste["recall@10"]
