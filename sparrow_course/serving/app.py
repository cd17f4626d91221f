"""The ASGI app: SparrowRecSys's endpoints as JSON, and a page of movie cards.

* ``GET /getrecforyou?id=<userId>&size=<n>[&page=<p>]``: a user's recommendations (JSON);
* ``GET /getsimilarmovie?movieId=<id>&size=<n>``: the movies nearest to one (JSON);
* ``GET /?id=<userId>&size=<n>``: the same recommendations as an HTML page of movie cards;
* ``GET /health`` and ``GET /stats`` (cache hits and misses, lists computed) for operators.

A bad request gets a 400 with a JSON ``{"error": message}`` that says what is wrong and what is
expected; an unexpected error a 500 with a short message, never a traceback. Every
recommendation carries a ``Server-Timing`` header with the milliseconds of each stage.
"""
from __future__ import annotations

import html
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from .service import STAGES, Recommender, RequestError

__all__ = ["make_app"]

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sparrow recommendations</title>
<style>
body {{ font-family: sans-serif; margin: 2em; }}
.cards {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(180px, 1fr)); gap: 1em; }}
.card {{ border: 1px solid #ccc; border-radius: 8px; padding: 0.8em; }}
.card h3 {{ font-size: 1em; margin: 0 0 0.4em 0; }}
.genres {{ color: #555; font-size: 0.85em; }}
.score {{ color: #888; font-size: 0.8em; }}
</style></head><body>
<h1>Recommended for you</h1>
<form method="get" action="/"><label>User id <input name="id" value="{user}"></label>
<label>How many <input name="size" value="{size}" size="3"></label> <button>Show</button></form>
<p id="path">{note}</p>
<div class="cards">{cards}</div>
</body></html>"""


def _timing(ms: dict[str, float]) -> str:
    return ", ".join(f"{stage};dur={ms.get(stage, 0.0):.3f}" for stage in STAGES)


def _bad(exc: Exception) -> JSONResponse:
    return JSONResponse({"error": str(exc)}, status_code=400)


def make_app(recommender: Recommender, *, name: str = "worker") -> Starlette:
    """The Starlette app serving ``recommender`` (``name`` is reported by /health, to tell workers apart)."""

    def recommend(request: Request) -> tuple[Any, ...]:
        query = request.query_params
        movies, hit, ms = recommender.recommend(query.get("id"), query.get("size", "10"), page=query.get("page", "1"))
        return int(query.get("id")), movies, hit, ms

    async def getrecforyou(request: Request) -> JSONResponse:
        try:
            user, movies, hit, ms = recommend(request)
        except RequestError as exc:
            return _bad(exc)
        body = {"userId": user, "path": "cold start" if recommender.is_new(user) else "personal", "cached": hit,
                "worker": name, "movies": movies}
        return JSONResponse(body, headers={"Server-Timing": _timing(ms)})

    async def getsimilarmovie(request: Request) -> JSONResponse:
        query = request.query_params
        try:
            movies = recommender.similar(query.get("movieId"), query.get("size", "10"))
        except RequestError as exc:
            return _bad(exc)
        return JSONResponse({"movieId": int(query.get("movieId")), "movies": movies})

    async def page(request: Request) -> HTMLResponse:
        query = request.query_params
        if query.get("id") is None:
            return HTMLResponse(_PAGE.format(user="", size=12, note="Enter a user id.", cards=""))
        try:
            user, movies, hit, ms = recommend(request)
        except RequestError as exc:
            return HTMLResponse(_PAGE.format(user=html.escape(query.get("id", "")), size=12,
                                             note=html.escape(str(exc)), cards=""), status_code=400)
        cards = "".join(
            f'<div class="card" data-movie-id="{m["movieId"]}"><h3>{html.escape(m["title"])}</h3>'
            f'<div class="genres">{html.escape(m["genres"].replace("|", ", "))}</div>'
            f'<div class="score">score {m["score"]:.3f}</div></div>' for m in movies)
        path = "new user: cold-start path" if recommender.is_new(user) else "returning user: personal list"
        note = f"User {user} ({path}; {'from the cache' if hit else 'computed'})."
        return HTMLResponse(_PAGE.format(user=user, size=len(movies), note=html.escape(note), cards=cards),
                            headers={"Server-Timing": _timing(ms)})

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "worker": name})

    async def stats(request: Request) -> JSONResponse:
        cache = recommender.cache
        counts = cache.stats() if cache is not None else {"hits": 0, "misses": 0}
        return JSONResponse({"worker": name, **counts, "computed": recommender.computed,
                             "cache": getattr(cache, "kind", "none")})

    async def server_error(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"error": f"internal error ({type(exc).__name__}); the request was not served"},
                            status_code=500)

    routes = [Route("/", page), Route("/getrecforyou", getrecforyou), Route("/getsimilarmovie", getsimilarmovie),
              Route("/health", health), Route("/stats", stats)]
    return Starlette(routes=routes, exception_handlers={500: server_error})
