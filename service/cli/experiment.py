"""``pigen experiment ...``: create, start, stop, list and report A/B experiments.

Heavy imports (SQLAlchemy, numpy, scipy, matplotlib) happen inside the commands.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from pigen.service.cli import common as cli

experiment_app = typer.Typer(help="A/B experiments: variants, assignment, results.",
                             no_args_is_help=True)

KeyArgument = Annotated[str, typer.Argument(help="The experiment's key, e.g. hero-image.")]


@experiment_app.command("create")
def create(
    key: KeyArgument,
    variant: Annotated[list[str] | None, typer.Option(
        "--variant", "-v",
        help='An arm: name=weight[:json-config], e.g. control=1:\'{"mode": "catalog"}\' '
             "(repeat; the one named control, else the first, is the control).")] = None,
    compare_generators: Annotated[tuple[int, int] | None, typer.Option(
        "--compare-generators", metavar="OLD NEW",
        help="A/B-test two registered generator versions (ids from pigen models list): "
             "control serves OLD, treatment serves NEW, 50/50.")] = None,
    description: Annotated[str, typer.Option(help="What is tested and why.")] = "",
    coverage: Annotated[float, typer.Option(help="Share of users in the experiment, 0-1.")
                        ] = 1.0,
    primary: Annotated[str, typer.Option(help="The metric the decision rests on.")
                       ] = "conversion",
    secondary: Annotated[list[str] | None, typer.Option(
        help="A secondary metric (repeat; default: every other metric).")] = None,
    guardrail: Annotated[list[str] | None, typer.Option(
        help="A metric that must not get significantly worse (repeat).")] = None,
    correction: Annotated[str, typer.Option(help="holm, bh or none (secondary metrics x "
                                                 "variants; the primary is its own family).")
                          ] = "holm",
    minimum_effect: Annotated[float, typer.Option(
        help="Relative effect below which a change does not matter (neutral results).")
                              ] = 0.02,
) -> None:
    """Create an experiment in draft with its analysis plan (start it to serve traffic)."""
    from pigen.service.experiments.assignment import Variant, parse_variant
    from pigen.service.experiments.metrics import METRICS
    from pigen.service.experiments.plan import AnalysisPlan
    from pigen.service.experiments.store import ExperimentConflict, create_experiment

    try:
        if compare_generators is not None and variant:
            raise ValueError("give --variant or --compare-generators, not both")
        if compare_generators is not None:
            old, new = compare_generators
            if old == new:
                raise ValueError("--compare-generators needs two different versions")
            variants = [Variant("control", 1, {"mode": "generated", "generator_version": old}),
                        Variant("treatment", 1, {"mode": "generated",
                                                 "generator_version": new})]
        elif variant:
            variants = [parse_variant(v) for v in variant]
        else:
            raise ValueError("give the arms with --variant (twice or more) or "
                             "--compare-generators OLD NEW")
        others = [m for m in METRICS if m != primary]
        plan = AnalysisPlan.from_dict({
            "primary": primary, "secondary": secondary if secondary is not None else others,
            "guardrails": guardrail or [], "correction": correction,
            "minimum_effect": minimum_effect})
        info = create_experiment(
            cli.open_database(), key, variants, description=description, coverage=coverage,
            max_images_per_request=cli.load_settings().max_images_per_request, plan=plan)
    except ValueError as error:
        raise cli.fail(str(error), 2) from None
    except ExperimentConflict as error:
        raise cli.fail(str(error)) from None
    arms = ", ".join(f"{v.name} {s:.0%}" for v, s in zip(info.variants, info.design.shares,
                                                           strict=True))
    typer.echo(f"experiment {info.key} created (draft): {arms}; coverage {info.coverage:.0%}")


def _transition(key: str, action: str) -> None:
    from pigen.service.experiments import store

    do = {"start": store.start_experiment, "stop": store.stop_experiment}[action]
    try:
        info = do(cli.open_database(), key)
    except store.UnknownExperiment as error:
        raise cli.fail(str(error)) from None
    except store.ExperimentConflict as error:
        raise cli.fail(str(error)) from None
    typer.echo(f"experiment {info.key} {info.status}")


@experiment_app.command("start")
def start(key: KeyArgument) -> None:
    """Start serving the experiment (draft -> running)."""
    _transition(key, "start")


@experiment_app.command("stop")
def stop(key: KeyArgument) -> None:
    """Stop the experiment (running -> stopped); its results freeze at this time."""
    _transition(key, "stop")


@experiment_app.command("coverage")
def coverage_command(
    key: KeyArgument,
    share: Annotated[float, typer.Argument(help="New share of users, 0-1.")],
) -> None:
    """Change traffic coverage; users already assigned keep their variant."""
    from pigen.service.experiments import store

    try:
        info = store.set_coverage(cli.open_database(), key, share)
    except ValueError as error:
        raise cli.fail(str(error), 2) from None
    except store.UnknownExperiment as error:
        raise cli.fail(str(error)) from None
    typer.echo(f"experiment {info.key} coverage {info.coverage:.0%}")


@experiment_app.command("list")
def list_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List experiments, newest first."""
    from pigen.service.experiments.store import list_experiments

    infos = list_experiments(cli.open_database())
    if as_json:
        typer.echo(json.dumps([i.to_dict() for i in infos], indent=2))
        return
    if not infos:
        typer.echo("no experiments")
    for info in infos:
        arms = ", ".join(f"{v.name}={v.weight:g}" for v in info.variants)
        typer.echo(f"{info.key:<24} {info.status:<8} coverage {info.coverage:>4.0%}  {arms}"
                   + (f"  - {info.description}" if info.description else ""))


@experiment_app.command("report")
def report(
    key: KeyArgument,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")
                       ] = False,
    plot: Annotated[Path | None, typer.Option(help="Write the lift-over-time PNG here "
                                              "(default: <storage>/experiments/KEY.png).")
                    ] = None,
    cuped: Annotated[str, typer.Option(
        help="CUPED: none, single (each metric's own pre-period) or multi (every metric's "
             "pre-period plus assignment-time attributes).")] = "none",
    alpha: Annotated[float, typer.Option(help="1 - confidence level.")] = 0.05,
    dimension: Annotated[str, typer.Option(
        help="Break down by new_vs_returning or a users column.")] = "new_vs_returning",
) -> None:
    """Every planned metric with corrected intervals, decisions, SRM per dimension; a PNG plot."""
    from pigen.service.experiments.analysis import report_for
    from pigen.service.experiments.report import format_table, plot_timeline
    from pigen.service.experiments.store import UnknownDimension, UnknownExperiment

    if not 0.0 < alpha < 0.5:
        raise cli.fail("--alpha must be in (0, 0.5)", 2)
    if cuped not in ("none", "single", "multi"):
        raise cli.fail("--cuped must be none, single or multi", 2)
    settings = cli.load_settings()
    try:
        result = report_for(cli.open_database(), key, cuped=cuped,  # type: ignore[arg-type]
                            alpha=alpha, dimension=dimension)
    except UnknownExperiment as error:
        raise cli.fail(str(error)) from None
    except UnknownDimension as error:
        raise cli.fail(str(error), 2) from None
    path = plot or settings.storage_dir / "experiments" / f"{result.info.key}.png"
    plot_timeline(result.timeline, title=f"{result.info.key}: {result.info.plan.primary} lift",
                  path=path)
    if as_json:
        out = result.results.to_dict()
        out["plot"] = str(path)
        typer.echo(json.dumps(out, indent=2))
        return
    typer.echo(format_table(result.results))
    typer.echo(f"plot      {path}")
