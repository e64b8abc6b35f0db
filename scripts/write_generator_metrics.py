"""Write generator/weights/metrics.json: what ships, how it was trained, how it scores.

    python scripts/write_generator_metrics.py --evaluation eval.json --run-dir RUN

``eval.json`` is the output of ``pigen generator evaluate --json`` on the shipped
weights; the run folder gives the training log (steps, wall time). The machine's
hardware is read here, so run this where the model was trained.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from pathlib import Path

import torch

from pigen.generator.checkpoint import load_generator
from pigen.generator.judge import load_judge
from pigen.generator.shipped import SHIPPED_GENERATOR, SHIPPED_JUDGE, WEIGHTS_DIR
from pigen.generator.train import read_metrics


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--evaluation", type=Path, required=True)
    parser.add_argument("--run-dir", type=Path, required=True)
    parser.add_argument("--wall-minutes", type=float, required=True,
                        help="wall-clock minutes of the whole run, pauses included")
    parser.add_argument("--note", default="")
    args = parser.parse_args()
    generator = load_generator(SHIPPED_GENERATOR)
    _, _, judge_metrics = load_judge(SHIPPED_JUDGE)
    rows = read_metrics(args.run_dir / "metrics.jsonl")
    metrics = {
        "generator": {
            "file": SHIPPED_GENERATOR.name,
            "sha256": generator.sha256,
            "config": generator.config.to_dict(),
            "layout": generator.layout.to_dict(),
            "training": {
                **{k: v for k, v in generator.metrics.items()
                   if k in ("steps", "training_seconds", "device")},
                "wall_clock_minutes": args.wall_minutes,
                "hardware": {"cpu": cpu_model(), "cores": os.cpu_count(), "gpu": None,
                             "torch": torch.__version__, "threads": generator.config.num_threads},
                "curve": rows,
                "note": args.note,
            },
            "evaluation": json.loads(args.evaluation.read_text()),
        },
        "judge": {"file": SHIPPED_JUDGE.name, "metrics": judge_metrics},
    }
    out = WEIGHTS_DIR / "metrics.json"
    out.write_text(json.dumps(metrics, indent=2, sort_keys=False) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
