"""A ranking model beside the taste model: registered, served and rolled back apart.

Both databases (the ``engine`` fixture), real implicit ALS on the two-tribes store.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from pigen.data.history import read_user_history
from pigen.data.model_registry import (
    activate_model_version,
    active_model_version,
    register_model_version,
)
from pigen.recsys.config import ALSConfig
from pigen.service.model_loading import ModelLoadError, load_checked
from pigen.service.recsys_serving import (
    RANKING_KIND,
    TASTE_KIND,
    recommend_for_user,
    train_and_register,
)
from pigen.service.taste import taste_for_user
from tests.service.test_recsys_serving import CONFIG, two_tribes


def test_each_purpose_has_its_own_active_version(engine: Engine, tmp_path: Path) -> None:
    two_tribes(engine)
    taste = train_and_register(engine, tmp_path, CONFIG, purpose="taste")
    ranking = train_and_register(engine, tmp_path, CONFIG.replace(factors=3), purpose="ranking")
    assert (taste.kind, ranking.kind) == (TASTE_KIND, RANKING_KIND)
    assert taste.is_active and ranking.is_active  # one active per kind, both stay
    assert active_model_version(engine, TASTE_KIND).id == taste.id  # type: ignore[union-attr]
    assert ranking.config["factors"] == 3 and ranking.config["model"] == "als"

    # Recommendations come from the ranking model, images from the taste model.
    assert recommend_for_user(engine, "a0", n=3).model_version == ranking.id
    assert taste_for_user(engine, "a0", n=1).model_version == taste.id


def test_rolling_back_one_purpose_leaves_the_other(engine: Engine, tmp_path: Path) -> None:
    two_tribes(engine)
    taste_1 = train_and_register(engine, tmp_path, CONFIG, purpose="taste")
    ranking_1 = train_and_register(engine, tmp_path, CONFIG, purpose="ranking")
    taste_2 = train_and_register(engine, tmp_path, CONFIG.replace(factors=3), purpose="taste")
    ranking_2 = train_and_register(engine, tmp_path, CONFIG.replace(factors=3),
                                   purpose="ranking")

    activate_model_version(engine, ranking_1.id, check=load_checked)  # ranking rollback
    assert active_model_version(engine, RANKING_KIND).id == ranking_1.id  # type: ignore[union-attr]
    assert active_model_version(engine, TASTE_KIND).id == taste_2.id  # type: ignore[union-attr]
    assert recommend_for_user(engine, "b1", n=2).model_version == ranking_1.id
    assert taste_for_user(engine, "b1", n=1).model_version == taste_2.id

    activate_model_version(engine, taste_1.id, check=load_checked)  # taste rollback
    assert active_model_version(engine, RANKING_KIND).id == ranking_1.id  # type: ignore[union-attr]
    assert active_model_version(engine, TASTE_KIND).id == taste_1.id  # type: ignore[union-attr]
    assert ranking_2.id not in {taste_1.id, ranking_1.id}


def test_an_old_store_recommends_from_its_als_versions(engine: Engine, tmp_path: Path) -> None:
    """Stores from before ranking models hold only 'als' versions: they serve as before."""
    two_tribes(engine)
    old = train_and_register(engine, tmp_path, CONFIG)  # the default purpose: taste, kind als
    assert old.kind == "als" and active_model_version(engine, RANKING_KIND) is None
    answer = recommend_for_user(engine, "a0", n=3, explain=True)
    assert answer.model_version == old.id and answer.source == "model"
    assert all(int(item.item_id[1:]) < 10 for item in answer.items)
    assert taste_for_user(engine, "a0", n=1).model_version == old.id


def test_the_popularity_model_serves_as_the_ranking_model(engine: Engine,
                                                          tmp_path: Path) -> None:
    two_tribes(engine)
    train_and_register(engine, tmp_path, CONFIG, purpose="taste")
    popular = train_and_register(engine, tmp_path, purpose="ranking", model="popularity")
    assert popular.config["model"] == "popularity" and "factors" not in popular.config
    assert type(load_checked(popular)).__name__ == "PopularityRecommender"

    known = recommend_for_user(engine, "a0", n=25)
    assert known.model_version == popular.id and known.source == "model"
    rated = set(read_user_history(engine, "a0").item_ids)
    served = [item.item_id for item in known.items]
    assert len(served) == 20 - len(rated) and not rated & set(served)  # rated ones filtered
    scores = [item.score for item in known.items]
    assert scores == sorted(scores, reverse=True)
    cold = recommend_for_user(engine, "stranger", n=3)
    assert cold.source == "prior" and len(cold.items) == 3 and cold.history_size == 0


def test_bad_purposes_and_models_are_refused(engine: Engine, tmp_path: Path) -> None:
    two_tribes(engine)
    with pytest.raises(ValueError, match="taste model must be ALS"):
        train_and_register(engine, tmp_path, purpose="taste", model="popularity")
    with pytest.raises(ValueError, match="purpose must be"):
        train_and_register(engine, tmp_path, CONFIG, purpose="images")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no settings"):
        train_and_register(engine, tmp_path, CONFIG, purpose="ranking", model="popularity")
    with pytest.raises(ValueError, match="unknown model"):
        train_and_register(engine, tmp_path, purpose="ranking", model="ease")


def test_a_ranking_version_whose_file_is_not_a_model_is_refused(engine: Engine,
                                                                tmp_path: Path) -> None:
    two_tribes(engine)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a model")
    version = register_model_version(engine, RANKING_KIND, junk, {}, activate=False)
    with pytest.raises(ModelLoadError, match="junk.npz"):
        activate_model_version(engine, version.id, check=load_checked)
    assert active_model_version(engine, RANKING_KIND) is None


def test_no_config_trains_the_als_defaults(engine: Engine, tmp_path: Path) -> None:
    """No config: ALS's defaults, recorded with the version (the CLI picks per purpose)."""
    two_tribes(engine)
    version = train_and_register(engine, tmp_path, purpose="ranking")
    assert version.config["factors"] == ALSConfig().factors
