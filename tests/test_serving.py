"""Chapter 09: merge rules, the ranking step, the app, the caches and the worker processes.

One small SparrowLens world, its channels fitted once per module (EGES vectors and the ranking
model train in TensorFlow: those tests are marked ``tensorflow``). Every service a test starts
listens on loopback, every loop is bounded, and every process is stopped by a fixture's
finalizer, so a failing test leaves nothing behind either.
"""
from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from sparrow_course import serving, sparrowlens
from sparrow_course.datasets import positive, user_time_split
from sparrow_course.metrics import RECOMMENDATION_COLUMNS
from sparrow_course.serving.merge import MERGED_COLUMNS


def _frame(rows):
    return pd.DataFrame(rows, columns=list(RECOMMENDATION_COLUMNS))


A = _frame([(1, 10, 0.9), (1, 11, 0.8), (1, 12, 0.7), (2, 10, 0.5)])
B = _frame([(1, 11, 5.0), (1, 13, 4.0), (1, 14, 1.0), (2, 20, 3.0), (2, 21, 2.0)])
FRAMES = {"a": A, "b": B}


# --------------------------------------------------------------------------- merge rules

def test_quotas_take_each_channels_best_unseen_then_fill_by_rank():
    merged = serving.merge_quotas(FRAMES, 4, quotas={"a": 1, "b": 1})
    one = merged[merged["userId"] == 1]
    # a gives 10; b's best (11) is new, so b gives 11; then rank 2: a's 11 taken -> b's 13; rank 3: a's 12
    assert one["movieId"].tolist() == [10, 11, 13, 12]
    assert one["channel"].tolist() == ["a", "b", "b", "a"]
    assert (np.diff(one["score"]) < 0).all()
    assert tuple(merged.columns) == MERGED_COLUMNS


def test_a_taken_movie_does_not_use_a_later_channels_quota():
    frames = {"a": _frame([(1, 10, 1.0)]), "b": _frame([(1, 10, 2.0), (1, 30, 1.0)])}
    merged = serving.merge_quotas(frames, 2, quotas={"a": 1, "b": 1})
    assert merged["movieId"].tolist() == [10, 30] and merged["channel"].tolist() == ["a", "b"]


def test_weighted_normalises_each_channel_per_user():
    merged = serving.merge_weighted(FRAMES, 3)
    one = merged[merged["userId"] == 1]
    # a: 10 -> 1, 11 -> 0.5, 12 -> 0; b: 11 -> 1, 13 -> 0.75, 14 -> 0; 11 sums to 1.5
    assert one["movieId"].tolist() == [11, 10, 13]
    assert one["score"].tolist() == pytest.approx([1.5, 1.0, 0.75])
    heavy = serving.merge_weighted(FRAMES, 1, weights={"a": 10.0, "b": 1.0})
    assert heavy.loc[heavy["userId"] == 1, "movieId"].tolist() == [10]


def test_interleave_takes_turns_and_skips_duplicates():
    merged = serving.merge_interleave(FRAMES, 5)
    assert merged.loc[merged["userId"] == 1, "movieId"].tolist() == [10, 11, 13, 12, 14]
    assert merged.loc[merged["userId"] == 2, "movieId"].tolist() == [10, 20, 21]


def test_every_rule_gives_distinct_movies_users_in_order_and_at_most_size():
    for rule in serving.MERGES:
        merged = serving.merge(FRAMES, 2, rule)
        assert not merged.duplicated(["userId", "movieId"]).any()
        assert list(dict.fromkeys(merged["userId"])) == [1, 2]
        assert (merged.groupby("userId").size() <= 2).all()


def test_merge_refuses_bad_input():
    with pytest.raises(ValueError, match=r"\bquotas names unknown channel"):
        serving.merge_quotas(FRAMES, 3, quotas={"c": 1})
    with pytest.raises(ValueError, match=r"\bweights are all 0"):
        serving.merge_weighted(FRAMES, 3, weights={"a": 0.0, "b": 0.0})
    with pytest.raises(ValueError, match=r"\brule must be one of"):
        serving.merge(FRAMES, 3, "sum")
    with pytest.raises(TypeError, match=r"\bframes must be a non-empty mapping"):
        serving.merge_interleave({}, 3)
    with pytest.raises(ValueError, match=r"\bsize must be an integer >= 1"):
        serving.merge_interleave(FRAMES, 0)


def test_leave_one_out_and_tuning_on_a_known_case():
    truth = pd.DataFrame({"userId": [1, 1, 2], "movieId": [13, 14, 21]})
    marginal = serving.leave_one_out(FRAMES, truth, 3, rule="interleave").set_index("channel")
    assert marginal.loc["b", "marginal value"] > 0 and marginal.loc["a", "marginal value"] <= 0
    weights, table = serving.tune_weights(FRAMES, truth, 2, strong=("b",), grid=(1, 2, 8))
    assert weights["a"] == 1.0 and weights["b"] in (1, 2, 8) and len(table) == 3
    best = table["recall@2"].max()
    assert table.loc[table["strong weight"] == weights["b"], "recall@2"].iloc[0] >= best - 0.002


# --------------------------------------------------------------------------- the quota explorer

def _random_frames(n_users=60, per_channel=30, n_movies=200, seed=3):
    rng = np.random.default_rng(seed)
    frames = {}
    for name in ("pop", "tags", "vectors"):
        movies = np.concatenate([rng.choice(n_movies, per_channel, replace=False) for _ in range(n_users)])
        frames[name] = _frame({"userId": np.repeat(np.arange(n_users), per_channel), "movieId": movies,
                               "score": np.tile(np.linspace(1, 0, per_channel), n_users)})
    truth = pd.DataFrame({"userId": np.repeat(np.arange(n_users + 5), 4),   # 5 users no channel answers: recall 0
                          "movieId": rng.integers(0, n_movies, 4 * (n_users + 5))}).drop_duplicates()
    return frames, truth


def test_quota_explorer_default_is_the_quota_merge_and_its_parts_add_up():
    frames, truth = _random_frames()
    explore = serving.QuotaExplorer(frames, truth, 10)
    assert explore.defaults == {"pop": 4, "tags": 4, "vectors": 4}   # an equal share, as merge_quotas's default
    view = explore()
    table = serving.merge_table(frames, truth, 10, 200, {"quotas": {}})
    # recall is the sum of the channels' credited likes; it must match the merge measured by evaluate_top_k
    assert view.recall == pytest.approx(table["recall@10"].iloc[0]) and (view.found >= 0).all()
    assert view.places.sum() == pytest.approx(10 * 60 / 65)              # 10 places for the 60 answered users of 65
    for name, frame in frames.items():
        assert view.alone[name] == pytest.approx(serving.channel_table({name: frame}, truth, 10, 200)["recall@10"].iloc[0])


def test_quota_explorer_all_places_to_one_channel_is_that_channel_alone():
    frames, truth = _random_frames()
    explore = serving.QuotaExplorer(frames, truth, 10)
    view = explore(pop=10, tags=0, vectors=0)
    assert view.recall == pytest.approx(view.alone["pop"]) and view.found["tags"] == view.found["vectors"] == 0
    assert view.places["pop"] == pytest.approx(10 * 60 / 65)
    moved = explore(tags=6)                                               # others keep their default quotas
    assert moved.quotas == {"pop": 4, "tags": 6, "vectors": 4} and moved.places["tags"] > view.places["tags"]


def test_quota_explorer_draws_summarises_and_refuses_bad_quotas():
    from sparrow_course import explorers

    frames, truth = _random_frames()
    explore = serving.QuotaExplorer(frames, truth, 10)
    explorer = explorers.Explorer(explore, serving.draw_quotas, explore.controls(), serving.quota_summary)
    frame = explorer.update(pop=7)
    assert frame.png.startswith(b"\x89PNG") and "quotas: pop 7, tags 4, vectors 4" in frame.text
    assert f"merged recall@10 {explore(pop=7).recall:.3f}" in frame.text
    with pytest.raises(ValueError, match=r"\bquotas names unknown channel"):
        explore(popularity=3)
    with pytest.raises(ValueError, match=r"\bquota of 'pop' must be at most k = 10"):
        explore(pop=11)
    with pytest.raises(ValueError, match=r"\bquotas\['tags'\] must be an integer >= 0"):
        explore(tags=-1)
    with pytest.raises(ValueError, match=r"\btruth is empty"):
        serving.QuotaExplorer(frames, truth.iloc[:0], 10)


# --------------------------------------------------------------------------- a small world, fitted once

@pytest.fixture(scope="module")
def world():
    ml = sparrowlens.generate(n_movies=300, n_users=400, mean_ratings_per_user=15).as_movielens()
    train, test = user_time_split(ml.ratings)
    channels = serving.fit_channels(ml, train, eges_walks=600, dim=8, n_clusters=3, seed=1)
    return ml, train, test, channels


@pytest.fixture(scope="module")
def ranker(world):
    ml, train, _, _ = world
    return serving.fit_ranker(ml, train, steps=60, seed=1)


@pytest.fixture(scope="module")
def recommender(world, ranker):
    ml, _, _, channels = world
    return serving.Recommender(serving.for_serving(channels), ranker, ml.movies, ml.users, per_channel=30,
                               list_size=50)


@pytest.mark.tensorflow
def test_serving_channels_recommend_exactly_what_the_fitted_ones_do(world):
    ml, train, _, channels = world
    users = np.concatenate([np.unique(train["userId"])[:60], [10**9]])
    for name, served in serving.for_serving(channels).items():
        pd.testing.assert_frame_equal(served.recall(users, 20), channels[name].recall(users, 20), obj=name)


@pytest.mark.tensorflow
def test_threads_give_the_same_candidates(world):
    _, train, _, channels = world
    users = np.unique(train["userId"])[:50]
    one, many = serving.recall_all(channels, users, 15), serving.recall_all(channels, users, 15, threads=True)
    for name in channels:
        pd.testing.assert_frame_equal(one[name], many[name])
    table = serving.recall_latency(channels, users, 15, repeats=2)
    assert {"sequential", "threads"} <= set(table["mode"]) and (table["ms"] > 0).all()


@pytest.mark.tensorflow
def test_lsh_channel_recommends_only_bucket_candidates_never_rated(world):
    _, train, _, channels = world
    lsh = channels["LSH user vectors"]
    users = np.unique(train["userId"])[:80]
    recs = lsh.recall(users, 30)
    rows = pd.Index(lsh.user_ids).get_indexer(recs["userId"])
    cols = pd.Index(lsh.item_ids).get_indexer(recs["movieId"])
    assert np.asarray(lsh.candidates[rows, cols]).ravel().all(), "every recommendation shares a bucket with its user"
    rated = set(zip(train["userId"], train["movieId"]))
    assert not set(zip(recs["userId"], recs["movieId"])) & rated


@pytest.mark.tensorflow
def test_numpy_ranker_agrees_with_the_keras_structure(world, ranker):
    from sparrow_course.structures import build_model

    model = build_model(ranker.spec, ranker.depth, kind=ranker.kind, seeds=(0,))
    for name, var in model.w.items():
        var.assign(ranker.weights[name][None])
    _, train, _, _ = world
    users, movies = train["userId"].to_numpy()[:200], train["movieId"].to_numpy()[::-1][:200]
    x = ranker._features(users, movies)
    keras = model({k: v[:, None] for k, v in x.items()}).numpy()[:, 0]
    np.testing.assert_allclose(ranker.logits(users, movies), keras, rtol=1e-4, atol=1e-4)


@pytest.mark.tensorflow
def test_rerank_keeps_the_candidates_and_orders_them(world, ranker):
    _, train, test, channels = world
    users = np.unique(train["userId"])[:40]
    merged = serving.merge(serving.recall_all(channels, users, 20), 30)
    ranked = ranker.rerank(merged)
    assert len(ranked) == len(merged)
    assert set(zip(ranked["userId"], ranked["movieId"])) == set(zip(merged["userId"], merged["movieId"]))
    for _, part in ranked.groupby("userId"):
        assert (np.diff(part["score"].to_numpy()) <= 0).all()
    table = serving.rerank_table(ranker, merged, positive(test), 10)
    assert table["order"].tolist()[0] == "merged order" and len(table) == 2


# --------------------------------------------------------------------------- the app, through an ASGI test client

@pytest.fixture
def client(recommender):
    import warnings

    with warnings.catch_warnings():  # starlette 1.x nudges toward httpx2; the client it ships still works with httpx
        warnings.filterwarnings("ignore", message=r"Using `httpx` with `starlette.testclient`")
        from starlette.testclient import TestClient

    recommender.cache = serving.LocalTTLCache(60)
    with TestClient(serving.make_app(recommender)) as c:
        yield c
    recommender.cache = None


@pytest.mark.tensorflow
def test_getrecforyou_answers_json_then_from_the_cache(client, world):
    user = int(np.unique(world[1]["userId"])[0])
    first = client.get(f"/getrecforyou?id={user}&size=5")
    assert first.status_code == 200
    body = first.json()
    assert body["userId"] == user and body["path"] == "personal" and body["cached"] is False
    assert len(body["movies"]) == 5 and {"movieId", "title", "genres", "score"} <= set(body["movies"][0])
    assert [s.split(";")[0] for s in first.headers["server-timing"].split(", ")] == list(serving.STAGES)
    second = client.get(f"/getrecforyou?id={user}&size=5").json()
    assert second["cached"] is True and second["movies"] == body["movies"]
    page2 = client.get(f"/getrecforyou?id={user}&size=5&page=2").json()
    assert page2["cached"] is True and not {m["movieId"] for m in page2["movies"]} & {m["movieId"] for m in body["movies"]}


@pytest.mark.tensorflow
def test_an_unknown_user_takes_the_cold_start_path(client):
    body = client.get("/getrecforyou?id=99999999&size=4").json()
    assert body["path"] == "cold start" and len(body["movies"]) == 4


@pytest.mark.tensorflow
def test_getsimilarmovie(client, world):
    movie = int(world[0].movies["movieId"].iloc[0])
    body = client.get(f"/getsimilarmovie?movieId={movie}&size=3").json()
    assert len(body["movies"]) == 3 and movie not in [m["movieId"] for m in body["movies"]]
    assert [m["score"] for m in body["movies"]] == sorted([m["score"] for m in body["movies"]], reverse=True)


@pytest.mark.parametrize("query, message", [
    ("/getrecforyou", r"id is missing"),
    ("/getrecforyou?id=abc", r"id must be an integer >= 0, got 'abc'"),
    ("/getrecforyou?id=-3", r"id must be an integer >= 0, got -3"),
    ("/getrecforyou?id=1&size=0", r"size must be an integer >= 1 and <= 50, got 0"),
    ("/getrecforyou?id=1&size=many", r"size must be an integer"),
    ("/getrecforyou?id=1&page=0", r"page must be an integer >= 1"),
    ("/getsimilarmovie?movieId=123456789", r"movieId 123456789 is not in the catalogue"),
    ("/getsimilarmovie", r"movieId is missing"),
])
@pytest.mark.tensorflow
def test_bad_requests_get_a_400_with_a_message(client, query, message):
    import re

    response = client.get(query)
    assert response.status_code == 400
    assert re.search(message, response.json()["error"]), response.json()
    assert "Traceback" not in response.text


@pytest.mark.tensorflow
def test_the_page_shows_movie_cards(client, world):
    user = int(np.unique(world[1]["userId"])[1])
    page = client.get(f"/?id={user}&size=6")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.text.count('class="card"') == 6 and "returning user" in page.text
    assert client.get("/?id=x").status_code == 400
    assert 'class="card"' not in client.get("/").text


# --------------------------------------------------------------------------- caches

def test_lists_round_trip_through_bytes():
    ids, scores = np.array([5, 3, 9]), np.array([0.5, 0.25, -1.0])
    blob = serving.encode_list(ids, scores)
    assert len(blob) == 24
    got_ids, got_scores = serving.decode_list(blob)
    assert got_ids.tolist() == [5, 3, 9] and got_scores.tolist() == [0.5, 0.25, -1.0]


def test_keys_follow_chapter_03s_list_design():
    returning = {"is_new": False, "user": 7, "list_block": 0, "region": "east", "platform": "ios", "daypart": "night"}
    new = dict(returning, is_new=True, user=12345)
    assert serving.list_key(returning) == "rec:returning:7:0"
    assert serving.list_key(new) == serving.list_key(dict(new, user=999)), "new users share their segment's list"
    assert serving.list_key(new) != serving.list_key(dict(new, region="west"))


def test_local_ttl_cache_expires_for_real():
    cache = serving.LocalTTLCache(0.2)
    cache.set("k", b"v")
    assert cache.get("k") == b"v"
    time.sleep(0.3)
    assert cache.get("k") is None and cache.stats() == {"hits": 1, "misses": 1}
    with pytest.raises(ValueError, match=r"\bttl must be a number > 0"):
        serving.LocalTTLCache(0)


@pytest.fixture
def redis_cache():
    cache = serving.RedisCache(0.3)
    yield cache
    cache.close()


def test_real_redis_expires_a_list_after_its_ttl(redis_cache):
    redis_cache.set("rec:returning:1:0", serving.encode_list([1, 2], [0.5, 0.4]))
    assert redis_cache.get("rec:returning:1:0") is not None
    assert 0 < redis_cache.client.pttl("rec:returning:1:0") <= 300, "Redis holds the TTL in milliseconds"
    time.sleep(0.45)
    assert redis_cache.get("rec:returning:1:0") is None, "Redis expired the entry"
    assert redis_cache.stats() == {"hits": 1, "misses": 1}
    redis_cache.set("rec:returning:2:0", serving.encode_list(np.arange(100), np.zeros(100)))
    assert redis_cache.memory_usage("rec:returning:2:0") >= 800


def test_a_private_redis_server_is_stopped_on_close():
    cache = serving.RedisCache(1.0)
    pid = cache.server_pid()
    assert serving.pid_alive(pid)
    cache.close()
    deadline = time.monotonic() + 5
    while serving.pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not serving.pid_alive(pid)


@pytest.mark.tensorflow
def test_replay_through_redis_matches_chapter_03s_replay(recommender, redis_cache, world):
    from sparrow_course import traffic

    ml, train, _, _ = world
    trace = traffic.generate_trace(ml.users, n_sessions=300, seed=3)
    window = serving.trace_window(trace, 60, known=recommender.ranker.user_ids)
    result = serving.cache_experiment(recommender, redis_cache, window, 600, time_scale=0.005, max_seconds=60)
    recommender.cache = None
    assert result["requests"] == 60
    assert abs(result["measured hit ratio"] - result["chapter 03 on the arrival times"]) <= 0.05


# --------------------------------------------------------------------------- worker processes

@pytest.fixture
def pool(recommender, request):
    made = serving.WorkerPool(recommender, 2, ttl=60)
    request.addfinalizer(made.close)   # runs whether the test passes or fails
    return made


def _wait_gone(pids, seconds=10.0):
    deadline = time.monotonic() + seconds
    while any(serving.pid_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return [p for p in pids if serving.pid_alive(p)]


@pytest.mark.slow
@pytest.mark.tensorflow
def test_workers_start_route_join_and_stop_with_nothing_left(pool, world):
    import httpx

    pids = pool.pids()
    assert len(pids) == 2 and all(serving.pid_alive(p) for p in pids)
    assert all(w.url.startswith("http://127.0.0.1:") for w in pool.workers.values())
    users = np.unique(world[1]["userId"])[:40]
    owners = {int(u): pool.owner(int(u)) for u in users}
    for u in users[:6]:
        body = httpx.get(f"{pool.url_for(int(u))}/getrecforyou", params={"id": int(u), "size": 3}, timeout=30).json()
        assert body["worker"] == owners[int(u)], "the client routes each user to its ring owner"
    joined = pool.add_worker()
    pids.append(joined.pid)
    moved = [u for u in owners if pool.owner(u) != owners[u]]
    assert all(pool.owner(u) == joined.name for u in moved), "a join only moves keys to the newcomer"
    assert httpx.get(joined.url + "/health", timeout=10).json()["worker"] == joined.name
    pool.close()
    assert _wait_gone(pids) == []


@pytest.mark.slow
@pytest.mark.tensorflow
def test_a_failing_test_inside_a_pool_leaves_no_process(recommender):
    pids = []
    with pytest.raises(RuntimeError, match="boom"):
        with serving.WorkerPool(recommender, 1, ttl=60) as p:
            pids = p.pids()
            raise RuntimeError("boom")
    assert pids and _wait_gone(pids) == []


@pytest.mark.slow
def test_a_worker_that_cannot_start_is_reported_and_gone(tmp_path):
    bad = tmp_path / "model.pkl"
    bad.write_bytes(b"not a pickle")
    with pytest.raises(RuntimeError, match=r"worker w exited with code"):
        serving.start_worker(bad, "w", timeout=30)


@pytest.mark.slow
@pytest.mark.tensorflow
def test_a_worker_exits_when_its_parent_dies(recommender, tmp_path):
    import pickle

    path = tmp_path / "rec.pkl"
    path.write_bytes(pickle.dumps(recommender))
    code = ("import sys, time; from sparrow_course import serving; "
            f"w = serving.start_worker({str(path)!r}, 'orphan', timeout=60); print(w.pid, flush=True); time.sleep(60)")
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        child = int(parent.stdout.readline())
        parent.kill()
        parent.wait(10)
        assert _wait_gone([child], 15) == [], "the orphaned worker stopped itself"
    finally:
        if parent.poll() is None:
            parent.kill()
        parent.stdout.close()
        if serving.pid_alive(locals().get("child", -1)):
            os.kill(child, 9)


@pytest.mark.slow
@pytest.mark.tensorflow
def test_the_load_test_counts_and_times_every_request(pool, world):
    users = np.unique(world[1]["userId"])[:10]
    urls = [f"{pool.url_for(int(u))}/getrecforyou?id={int(u)}&size=5" for u in np.resize(users, 60)]
    result = serving.load_test(urls, concurrency=4, max_seconds=60)
    assert len(result.latency_ms) == 60 and (result.status == 200).all()
    summary = result.summary()
    assert summary["p50 ms"] <= summary["p95 ms"] <= summary["p99 ms"] and summary["hit ratio"] >= 0.5
    budget = serving.stage_budget(result)
    assert list(budget.index[:4]) == list(serving.STAGES) and budget["share"].sum() == pytest.approx(1.0)
    with pytest.raises(ValueError, match=r"\burls is empty"):
        serving.load_test([], concurrency=2)


@pytest.mark.slow
@pytest.mark.tensorflow
def test_join_experiment_measures_moved_keys_and_follows_the_simulation(recommender, world):
    from sparrow_course import traffic

    users = recommender.ranker.user_ids
    stream = traffic.poisson_traffic(40.0, 2.0, n_users=40, user_skew=0.9, user_offset=5.0, seed=1)
    stream = dataclasses.replace(stream, user=users[stream.user % len(users)])
    table, summary = serving.join_experiment(recommender, stream, 2, at=0.5, seed=1)
    assert len(table) == len(stream)
    assert (table["hit"] == table["simulated hit"]).mean() > 0.95
    assert summary["theory 1/(N+1)"] == pytest.approx(1 / 3)
    assert abs(summary["keys moved"] - 1 / 3) < 4 * summary["standard error"]


# --------------------------------------------------------------------------- the load client

@pytest.fixture(scope="module")
def tiny_server():
    """A Starlette app on a free loopback port, in a thread: JSON, chunked, closing and slow answers."""
    import asyncio
    import threading

    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
    from starlette.routing import Route

    async def json_body(request):
        return JSONResponse({"cached": request.query_params.get("hit") == "1", "n": 3},
                            headers={"Server-Timing": "cache;dur=0.250, recall;dur=1.5"})

    async def chunked(request):
        async def parts():
            for word in (b"{\"cached\": ", b"true", b", \"x\": 1}"):
                yield word
        return StreamingResponse(parts(), media_type="application/json")

    async def closing(request):
        return PlainTextResponse("bye", headers={"Connection": "close"})

    async def slow(request):
        await asyncio.sleep(0.02)
        return JSONResponse({"cached": False})

    app = Starlette(routes=[Route("/json", json_body), Route("/chunked", chunked), Route("/close", closing),
                            Route("/slow", slow)])
    port = serving.free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the test server did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def test_the_time_limit_stops_a_load_test(tiny_server):
    # 100 answers of at least 20 ms each, two in flight, need at least a second; the limit is 0.3 s
    # (the cached capstone path is too fast to test this on: 3,000 requests ended within half a second)
    cut = serving.load_test([f"{tiny_server}/slow"] * 100, concurrency=2, max_seconds=0.3)
    assert 0 < len(cut.latency_ms) < 100, "the time limit stops the test"
    assert (cut.status == 200).all()


def test_the_load_client_reads_length_chunked_and_closing_answers(tiny_server):
    import asyncio

    port = int(tiny_server.rsplit(":", 1)[1])

    async def run():
        conn = serving.Connection("127.0.0.1", port)
        try:
            answers = [await conn.get(target) for target in ("/json?hit=1", "/chunked", "/close", "/json")]
        finally:
            conn.close()
        return answers

    (s1, h1, b1), (s2, h2, b2), (s3, h3, b3), (s4, _, b4) = asyncio.run(run())
    assert (s1, s2, s3, s4) == (200, 200, 200, 200)
    assert b1 == b'{"cached":true,"n":3}' and h1["server-timing"].startswith("cache;dur=0.250")
    assert h2["transfer-encoding"] == "chunked" and b2 == b'{"cached": true, "x": 1}'
    assert b3 == b"bye" and b4 == b'{"cached":false,"n":3}'  # the closed connection was opened again


def test_a_closed_loop_counts_hits_and_stage_timings(tiny_server):
    result = serving.load_test([f"{tiny_server}/json?hit={i % 2}" for i in range(40)], concurrency=4, max_seconds=30)
    assert len(result.latency_ms) == 40 and (result.status == 200).all() and result.rate is None
    assert result.cached.sum() == 20
    assert result.stages["cache"].tolist() == [0.25] * 40 and result.stages["recall"].tolist() == [1.5] * 40


def test_an_open_loop_keeps_its_rate_and_counts_latency_from_when_a_request_was_due(tiny_server):
    paced = serving.load_test([f"{tiny_server}/slow"] * 30, concurrency=8, rate=100, max_seconds=30)
    assert len(paced.latency_ms) == 30 and (paced.status == 200).all() and paced.rate == 100
    assert paced.seconds >= 0.29, "30 requests at 100 a second take at least 0.29 s: they were paced"
    assert paced.latency_ms.min() >= 19, "every answer takes the server's 20 ms (its timer: 1-ms resolution)"
    # one request in flight and one due every 5 ms, each answered in 20 ms: the backlog grows, and so do
    # the latencies counted from when each was due (a closed loop would report 20 ms for every one)
    behind = serving.load_test([f"{tiny_server}/slow"] * 20, concurrency=1, rate=200, max_seconds=30)
    assert behind.latency_ms[-1] > 150 and behind.latency_ms[-1] > 5 * behind.latency_ms[0]
    closed = serving.load_test([f"{tiny_server}/slow"] * 20, concurrency=1, max_seconds=30)
    assert closed.latency_ms.max() < behind.latency_ms[-1]


def test_the_load_client_reports_a_refused_connection_and_refuses_bad_arguments(tiny_server):
    down = serving.load_test([f"http://127.0.0.1:{serving.free_port()}/json"] * 3, concurrency=1, max_seconds=10)
    assert down.status.tolist() == [599, 599, 599] and down.summary()["errors"] == 1.0
    with pytest.raises(ValueError, match="plain HTTP to host:port URLs"):
        serving.load_test(["https://127.0.0.1:1/json"])
    with pytest.raises(ValueError, match="plain HTTP to host:port URLs"):
        serving.load_test(["http://127.0.0.1/json"])
    with pytest.raises(ValueError, match="rate"):
        serving.load_test([f"{tiny_server}/json"], rate=0)
