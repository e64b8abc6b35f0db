"""Open listing cannot grow the database without bound; made images keep their provenance."""

from __future__ import annotations

from sqlalchemy import Engine, func, select

from pigen.data.schema import GeneratedImage
from pigen.service.image_store import prune_unfetched

KEPT, N = 20, 4


def _rows(engine: Engine, fetched: bool | None = None) -> int:
    query = select(func.count()).select_from(GeneratedImage)
    if fetched is not None:
        query = query.where(GeneratedImage.path.is_not(None) if fetched
                            else GeneratedImage.path.is_(None))
    with engine.connect() as connection:
        return int(connection.execute(query).scalar_one())


def _urls(client, user: str) -> list[str]:  # type: ignore[no-untyped-def]
    response = client.get(f"/v1/users/{user}/images", params={"n": N, "seed": 7})
    assert response.status_code == 200, response.text
    return [image["url"] for image in response.json()["images"]]


def test_listing_for_many_unknown_shoppers_keeps_the_table_bounded(
        make_client, store_engine: Engine) -> None:  # type: ignore[no-untyped-def]
    client = make_client(max_unfetched_images=KEPT)
    fetched_url = _urls(client, "anon-fetched")[0]
    fetched_png = client.get(fetched_url).content
    early_urls = _urls(client, "anon-early")  # listed, never fetched, soon pruned
    for k in range(60):  # 240 listed images, 60 made-up shoppers
        _urls(client, f"anon-{k}")
    # At most KEPT never-fetched rows, plus what was listed since the last pruning
    # (a tenth of KEPT, rounded to whole listings); the fetched image's row stays.
    assert _rows(store_engine, fetched=False) <= KEPT + KEPT // 10 + N
    assert _rows(store_engine, fetched=True) == 1
    assert client.get(fetched_url).content == fetched_png

    # A restarted server (no memory of listings): the fetched image is the same
    # bytes; a pruned, never-fetched one is 404 until it is listed again.
    restarted = make_client(max_unfetched_images=KEPT)
    assert restarted.get(fetched_url).content == fetched_png
    assert restarted.get(early_urls[0]).status_code == 404
    assert _urls(restarted, "anon-early") == early_urls  # same ids: a hash of the inputs
    relisted_png = restarted.get(early_urls[0])
    assert relisted_png.status_code == 200 and relisted_png.content.startswith(b"\x89PNG")
    # The first server still remembers that listing: it makes the same bytes, and
    # an image made after its row was pruned gets its row back, path and all.
    assert client.get(early_urls[1]).content == restarted.get(early_urls[1]).content
    with store_engine.connect() as connection:
        paths = connection.execute(select(GeneratedImage.path).where(
            GeneratedImage.content_key.in_([u.split("/")[-1][:32] for u in early_urls[:2]])
        )).scalars().all()
    assert len(paths) == 2 and all(paths)


def test_prune_keeps_the_newest_unfetched_and_every_fetched_row(
        make_client, store_engine: Engine) -> None:  # type: ignore[no-untyped-def]
    client = make_client(max_unfetched_images=100_000)  # no pruning while listing
    made = _urls(client, "anon-made")
    client.get(made[0])
    for k in range(5):
        _urls(client, f"anon-{k}")
    assert _rows(store_engine) == 6 * N
    newest = [u.split("/")[-1][:32] for u in _urls(client, "anon-4")]
    assert prune_unfetched(store_engine, keep=N) == 6 * N - 1 - N
    assert _rows(store_engine, fetched=True) == 1 and _rows(store_engine, fetched=False) == N
    with store_engine.connect() as connection:
        kept = set(connection.execute(select(GeneratedImage.content_key).where(
            GeneratedImage.path.is_(None))).scalars())
    assert kept == set(newest)
    assert prune_unfetched(store_engine, keep=N) == 0
