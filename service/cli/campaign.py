"""``pigen campaign ...``: define, run and watch batch campaigns.

Heavy imports (torch, pandas, Ray) happen inside the commands.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pigen.service.cli import common as cli

if TYPE_CHECKING:
    from pydantic import ValidationError

    from pigen.service.campaigns.store import CampaignProgress

campaign_app = typer.Typer(help="Batch campaigns: images made for every user of a segment.",
                           no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]


@campaign_app.command("create")
def create(
    name: Annotated[str, typer.Option(help="A name marketers recognise.")],
    output: Annotated[Path, typer.Option(help="New (or empty) folder for images, manifest "
                                         "and contact sheet.")],
    segment: Annotated[str, typer.Option(help="all | active-since=DATE | category=NAME[:MIN_STARS]"
                                         " | top=N | ids=A,B,... | ids=@FILE | a JSON object."
                                         )] = "all",
    images_per_user: Annotated[int, typer.Option(help="Images made for each user.")] = 4,
    diversity: Annotated[float, typer.Option(help="0: each user's favourite; 1: their taste "
                                             "as it is; >1: broader.")] = 1.0,
    seed: Annotated[int, typer.Option(help="Same seed, same images.")] = 0,
    shard_size: Annotated[int, typer.Option(help="Users per shard (unit of resumption).")] = 256,
    batch_size: Annotated[int, typer.Option(help="Images per generator forward pass.")] = 256,
    generator_version: Annotated[int | None, typer.Option(
        help="Generator model version to pin (default: the active one).")] = None,
    recsys_version: Annotated[int | None, typer.Option(
        help="ALS model version to pin (default: the active one).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Define a campaign: resolve the segment, pin the models, check the output folder."""
    from pydantic import ValidationError

    from pigen.service.campaigns.definition import CampaignSpec, parse_segment
    from pigen.service.campaigns.store import CampaignError, campaign_progress, create_campaign

    try:
        spec = CampaignSpec(name=name, segment=parse_segment(segment), output_dir=output,
                            images_per_user=images_per_user, diversity=diversity, seed=seed,
                            shard_size=shard_size, batch_size=batch_size,
                            generator_version_id=generator_version,
                            recsys_version_id=recsys_version)
    except ValidationError as error:
        raise cli.fail(f"bad campaign definition:\n{_errors(error)}", 2) from None
    except ValueError as error:
        raise cli.fail(f"bad campaign definition: {error}", 2) from None
    engine = cli.open_database()
    try:
        campaign = create_campaign(engine, spec)
    except CampaignError as error:
        raise cli.fail(str(error)) from None
    if as_json:
        typer.echo(json.dumps(campaign_progress(engine, campaign.id).to_dict(), indent=2))
        return
    typer.echo(f"campaign {campaign.id} created: {campaign.n_users:,} users "
               f"({campaign.describe_segment()}), {campaign.n_images:,} images in "
               f"{campaign.n_shards:,} shards -> {campaign.output_dir}")
    typer.echo(f"pinned generator version {campaign.generator.id}, ALS version "
               f"{campaign.recsys.id}; run it with `pigen campaign run {campaign.id}`")


@campaign_app.command("run")
def run(
    campaign_id: Annotated[int, typer.Argument(help="Campaign id.")],
    backend: Annotated[str, typer.Option(help="local (this process) or ray (actor pool).")
                       ] = "local",
    workers: Annotated[int, typer.Option(help="ray: generator actors (0: one per GPU, else "
                                         "per CPU); local: PNG threads (0: auto).")] = 0,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Make every image not made yet; safe to rerun after a crash or kill (resumes).

    Refused while another run (a worker's) holds the campaign's lease.
    """
    from pigen.service.campaigns.runner import BACKENDS, run_campaign
    from pigen.service.campaigns.store import CampaignError

    if backend not in BACKENDS:
        raise cli.fail(f"--backend must be local or ray, not {backend!r}", 2)
    if workers < 0:
        raise cli.fail("--workers must be 0 (auto) or more", 2)
    settings = cli.load_settings()
    engine = cli.open_database()
    try:
        report = run_campaign(engine, campaign_id, backend=backend,  # type: ignore[arg-type]
                              workers=workers, progress=progress, device=settings.device,
                              lease_seconds=settings.campaign_lease_seconds)
    except (CampaignError, LookupError) as error:
        raise cli.fail(str(error)) from None
    stages = ", ".join(f"{k} {v:.1f}s" for k, v in report.seconds.items())
    typer.echo(f"campaign {campaign_id}: {report.images_made:,} images made in "
               f"{report.shards_run:,} shards" + (f" ({stages})" if stages else ""))
    if report.outputs is not None:
        typer.echo(f"manifest  {report.outputs.manifest} ({report.outputs.images:,} images)")
        typer.echo(f"look      {report.outputs.contact_sheet}")


@campaign_app.command("status")
def status(campaign_id: Annotated[int, typer.Argument(help="Campaign id.")],
           as_json: JsonOption = False) -> None:
    """Definition, pinned models and progress of one campaign."""
    from pigen.service.campaigns.store import campaign_progress

    try:
        progress = campaign_progress(cli.open_database(), campaign_id)
    except LookupError as error:
        raise cli.fail(str(error)) from None
    if as_json:
        typer.echo(json.dumps(progress.to_dict(), indent=2))
        return
    c = progress.campaign
    typer.echo(f"campaign {c.id} {c.name!r}: {c.status}")
    typer.echo(f"  segment    {c.describe_segment()}: {c.n_users:,} users x "
               f"{c.images_per_user} images, diversity {c.diversity:g}, seed {c.seed}")
    typer.echo(f"  models     generator version {c.generator.id}, ALS version {c.recsys.id}")
    typer.echo(f"  progress   {_bar(progress.fraction)} {progress.shards_done:,}/"
               f"{c.n_shards:,} shards, {progress.images_done:,}/{c.n_images:,} images")
    typer.echo(f"  output     {c.output_dir}")
    if c.error:
        typer.echo(f"  error      {c.error}")


@campaign_app.command("list")
def list_command() -> None:
    """Every campaign, newest first."""
    from pigen.service.campaigns.store import list_campaigns

    for progress in list_campaigns(cli.open_database()):
        typer.echo(_line(progress))


def _line(progress: CampaignProgress) -> str:
    c = progress.campaign
    return (f"{c.id:>5}  {c.status:<9} {progress.fraction:>6.1%}  {c.n_images:>9,} images  "
            f"{c.name}")


def _bar(fraction: float, width: int = 20) -> str:
    filled = round(fraction * width)
    return "[" + "#" * filled + "." * (width - filled) + f"] {fraction:.0%}"


def _errors(error: ValidationError) -> str:
    return "\n".join(f"  {'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}"
                     for e in error.errors())
