"""The experiment report: a plain-text table and a PNG of the lift over time."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pigen.service.experiments.analysis import ExperimentResults, TimelinePoint
from pigen.service.experiments.stats import Interval


def _pct(value: float, signed: bool = False) -> str:
    if not math.isfinite(value):
        return "n/a"
    return f"{value:+.2%}" if signed else f"{value:.2%}"


def _ci(interval: Interval) -> str:
    if not (math.isfinite(interval.low) and math.isfinite(interval.high)):
        return "[-inf, +inf]" if math.isfinite(interval.estimate) else "n/a"
    return f"[{interval.low:+.2%}, {interval.high:+.2%}]"


def _p(value: float) -> str:
    return "n/a" if not math.isfinite(value) else ("<0.0001" if value < 1e-4 else f"{value:.4f}")


def format_table(results: ExperimentResults) -> str:
    """The report as text: arms, each variant vs control per metric, decisions, then checks."""
    plan = results.plan
    lines = [f"experiment {results.key} ({results.status}) as of "
             f"{results.as_of.strftime('%Y-%m-%d %H:%M UTC')}, control = {results.control}",
             f"plan: primary {plan['primary']}; correction {plan['correction']}; "
             f"minimum effect +-{plan['minimum_effect']:.0%}; guardrails "
             f"{', '.join(plan['guardrails']) or 'none'}",
             "",
             f"{'variant':<16}{'share':>7}{'users':>9}{'conv.':>8}{'conv. rate':>12}"
             f"{'revenue':>12}{'rev/user':>10}{'cart rate':>11}"]
    for arm in results.arms:
        rpu = f"{arm.revenue_per_user:.3f}" if math.isfinite(arm.revenue_per_user) else "n/a"
        lines.append(f"{arm.name:<16}{arm.share:>7.0%}{arm.users:>9,}{arm.conversions:>8,}"
                     f"{_pct(arm.conversion_rate):>12}{arm.revenue:>12,.2f}{rpu:>10}"
                     f"{_pct(arm.add_to_cart_rate):>11}")
    lines += ["", f"{'metric':<21}{'role':<10}{'variant':<14}{'lift':>9}  "
              f"{'corrected CI':<20}{'p':>8}{'p adj.':>8}  {'verdict':<13}"
              f"{'always-valid CI':<20}"]
    for c in results.comparisons:
        lines.append(f"{c.metric:<21}{c.role:<10}{c.variant:<14}{_pct(c.lift.estimate, True):>9}"
                     f"  {_ci(c.corrected_lift):<20}{_p(c.p_value):>8}"
                     f"{_p(c.adjusted_p_value):>8}  {c.verdict:<13}{_ci(c.sequential_lift):<20}")
    lines.append("")
    for d in results.decisions:
        lines.append(f"decision  {d.variant}: {d.decision.upper()} - {'; '.join(d.reasons)}")
    srm = results.srm
    verdict = "MISMATCH - do not trust these results" if srm.flagged else "ok"
    observed = " / ".join(f"{o:,}" for o in srm.observed)
    expected = " / ".join(f"{e:,.0f}" for e in srm.expected)
    lines += ["", f"sample ratio check: observed {observed} vs expected {expected}: "
              f"chi2 {srm.chi2:.2f}, p {_p(srm.p_value)} -> {verdict}",
              f"excluded: {results.excluded_multi_exposed:,} users exposed to more than one "
              "variant"]
    if results.breakdown is not None:
        b = results.breakdown
        lines.append(f"breakdown by {b.dimension} ({b.metric}; SRM flagged at p < "
                     f"{b.srm_threshold:.2g}, Bonferroni over {len(b.segments)} values):")
        for seg in b.segments:
            effects = ", ".join(f"{e.variant} {e.difference:+.4g} (p adj. "
                                f"{_p(e.adjusted_p_value)})" for e in seg.effects)
            lines.append(f"  {seg.value:<12} users {'/'.join(map(str, seg.users)):<14} SRM p "
                         f"{_p(seg.srm_p_value)}{' MISMATCH' if seg.srm_flagged else ''}; "
                         f"{effects}")
        for h in b.heterogeneity:
            lines.append(f"  heterogeneity {h.variant}: Q {h.q:.2f} (df {h.df}), p adj. "
                         f"{_p(h.adjusted_p_value)} -> "
                         f"{'HETEROGENEOUS' if h.heterogeneous else 'consistent'}")
    cu = results.cuped
    if cu.method != "none":
        parts = ", ".join(f"{m} -{cu.single[m]:.1%} (single) / -{cu.multi[m]:.1%} (multi)"
                          for m in cu.multi)
        lines.append(f"CUPED ({cu.method} used) variance removed: {parts}")
    lines.append(f"intervals and p come from one test; corrected intervals agree with the "
                 f"adjusted p; the always-valid interval (mSPRT, tau = "
                 f"{results.tau_relative:.0%} of the mean) holds at every look")
    return "\n".join(lines)


def plot_timeline(points: Sequence[TimelinePoint], title: str = "",
                  path: Path | None = None) -> bytes:
    """PNG of the relative lift over time: fixed-horizon and always-valid intervals.

    Returns the PNG bytes and writes them to ``path`` when given. Draws on an Agg
    canvas through the object API, not pyplot: no display is needed and there is
    no global figure state, so server threads can plot at the same time.
    """
    from matplotlib import rcParams
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    variants = sorted({p.variant for p in points})
    colours = rcParams["axes.prop_cycle"].by_key()["color"]
    for k, name in enumerate(variants):
        ps = [p for p in points if p.variant == name]
        days: list[Any] = [datetime.fromtimestamp(p.at, UTC) for p in ps]
        colour = colours[k % len(colours)]

        def finite(values: list[float]) -> list[float]:
            return [v if math.isfinite(v) else math.nan for v in values]

        ax.plot(days, finite([p.lift.estimate * 100 for p in ps]), color=colour, marker="o",
                label=f"{name}: lift")
        ax.fill_between(days, finite([p.lift.low * 100 for p in ps]),
                        finite([p.lift.high * 100 for p in ps]), color=colour, alpha=0.25,
                        label=f"{name}: 95% CI (fixed horizon)")
        ax.plot(days, finite([p.sequential_lift.low * 100 for p in ps]), color=colour,
                linestyle="--", label=f"{name}: always-valid 95% CI")
        ax.plot(days, finite([p.sequential_lift.high * 100 for p in ps]), color=colour,
                linestyle="--")
    ax.axhline(0.0, color="black", linewidth=0.8)
    ax.set_ylabel("relative lift vs control (%)")
    ax.set_xlabel("date (UTC)")
    ax.set_title(title or "lift over time")
    if points:
        ax.legend(loc="best", fontsize="small")
        # Infinite early sequential bounds (no information yet) would flatten the plot.
        lows = [v * 100 for p in points for v in (p.lift.low, p.sequential_lift.low)
                if math.isfinite(v)]
        highs = [v * 100 for p in points for v in (p.lift.high, p.sequential_lift.high)
                 if math.isfinite(v)]
        if lows and highs:
            span = max(highs) - min(lows)
            ax.set_ylim(min(lows) - 0.05 * span - 1, max(highs) + 0.05 * span + 1)
    else:
        ax.text(0.5, 0.5, "no exposures yet", transform=ax.transAxes, ha="center")
    fig.autofmt_xdate()
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    data = buffer.getvalue()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return data
