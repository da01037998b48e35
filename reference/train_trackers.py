"""Train every tracker reference generation uses, from scratch, in one command (issue 10: <= 60 min on 2 cores).

    python -m reference.train_trackers [--outdir runs/trackers] [--seed 0] [--max-minutes 60] [--resume]
    python -m reference.generate --config runs/trackers/reference.yaml --output-dir data/tier0plus

The recipe of docs/results/tracker.md ("The recipe in one command"), three `reference.train_tracker` runs one after the
other, each exported as a policy bundle in ``--outdir``:

===================  ============================  =================================  =====================
stage                config                        starts from                        generation key
===================  ============================  =================================  =====================
``tracker_general``  configs/tracker_general.yaml  scratch (4.0M steps, 10-12 min)    ``adapt_from``
``tracker``          configs/tracker_library.yaml  scratch (8.0M steps, 16-22 min)    ``tracker_path``
``tracker_fast``     configs/tracker_fast.yaml     ``tracker`` (11.7M, 24-32 min)     ``fast_tracker_path``
===================  ============================  =================================  =====================

It then writes ``OUTDIR/reference.yaml``: ``--reference-config`` (configs/reference.yaml) with the three keys above
pointing at the new bundles, comments kept, and ``OUTDIR/recipe.json`` (each stage's minutes, steps, bundle).

``--max-minutes`` (default 60, issue 10's target; 0: none) caps the whole recipe's wall time: the last stage, the fast
specialist, stops when it is reached (`train_tracker`'s ``--max-minutes``) and still exports its final checkpoint. Its
walking data levels off after 5-9M of its 11.7M steps (tracker.md), so a slower machine loses little.

``--resume`` continues a recipe run: a stage whose bundle exists is skipped, one with checkpoints but no bundle
resumes from its latest checkpoint (``train_tracker --resume``), the rest start. The draw matters: in four samples of
the recipe the library's walking data at 0.7-0.8 m/s came out 56.8, 7.2, 78.6 and 23.6 s (issue 10 asks >= 30), set
mostly by the library tracker's draw; ``--seed`` draws it (every stage gets it; a resumed stage keeps its own).
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from reference import train_tracker
from wildrobot_gym.atomic_io import atomic_write_json, atomic_write_text
from wildrobot_gym.config.reference import DEFAULT_REFERENCE_CONFIG, load_generation_config
from wildrobot_gym.paths import CONFIG_DIR


@dataclass(frozen=True)
class Stage:
    """One tracker of the recipe: its config (and the option that replaces it), the stage whose final checkpoint
    it starts from (None: scratch), and the key of reference.yaml's ``generation:`` section that names its bundle."""
    name: str
    config: Path
    config_flag: str
    init_from: str | None
    generation_key: str


#: In order; the last one is the stage ``--max-minutes`` cuts.
STAGES: tuple[Stage, ...] = (
    Stage("tracker_general", CONFIG_DIR / "tracker_general.yaml", "--general-config", None, "adapt_from"),
    Stage("tracker", CONFIG_DIR / "tracker_library.yaml", "--library-config", None, "tracker_path"),
    Stage("tracker_fast", CONFIG_DIR / "tracker_fast.yaml", "--fast-config", "tracker", "fast_tracker_path"),
)
#: The least the last stage is given when the stages before it used up --max-minutes.
MIN_LAST_STAGE_MINUTES = 5.0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--outdir", type=Path, default=Path("runs/trackers"), help="the recipe's run directory")
    p.add_argument("--resume", action="store_true", help="continue a recipe run in --outdir (finished stages are kept)")
    p.add_argument("--seed", type=int, default=0, help="PPO and env seed of every stage")
    p.add_argument("--max-minutes", type=float, default=60.0,
                   help="wall-time cap of the whole recipe: the last stage stops when it is reached; 0: none")
    for stage in STAGES:
        p.add_argument(stage.config_flag, dest=stage.name, metavar="YAML", type=Path, default=stage.config,
                       help=f"config of stage {stage.name} (default: %(default)s)")
    p.add_argument("--reference-config", type=Path, default=DEFAULT_REFERENCE_CONFIG,
                   help="the reference config whose copy names the new trackers (default: %(default)s)")
    p.add_argument("--total-timesteps", type=int, default=None, help="every stage's env steps (default: its config's)")
    p.add_argument("--n-envs", type=int, default=None, help="every stage's parallel envs (default: its config's)")
    p.add_argument("--log-every", type=int, default=5, help="a progress line every N PPO updates; 0: never")
    p.add_argument("--no-progress-bar", action="store_true")
    return p.parse_args(argv)


def stage_configs(args: argparse.Namespace) -> dict[str, Path]:
    """Each stage's config path from the command line; a missing file is an error naming its argument."""
    paths = {s.name: getattr(args, s.name) for s in STAGES}
    for stage in STAGES:
        if not paths[stage.name].is_file():
            raise SystemExit(f"{stage.config_flag}: {paths[stage.name]} is not a file (the config of stage {stage.name})")
    if not (args.max_minutes >= 0):
        raise SystemExit(f"--max-minutes: expected minutes >= 0 (0: no cap), got {args.max_minutes}")
    if not args.reference_config.is_file():
        raise SystemExit(f"--reference-config: {args.reference_config} is not a file")
    return paths


def point_generation_at(text: str, bundles: dict[str, Path], source: str) -> str:
    """`text` (a reference.yaml) with each ``generation:`` key of `bundles` set to its path, comments kept. Each
    key must appear once, indented two spaces (the section's own keys)."""
    for key, path in bundles.items():
        pattern = re.compile(rf"^(  {re.escape(key)}:)[ \t]*[^#\n]*?([ \t]*#.*)?$", re.MULTILINE)
        hits = pattern.findall(text)
        if len(hits) != 1:
            raise SystemExit(f"{source}: expected one 'generation.{key}:' line, found {len(hits)}")
        value = json.dumps(str(path.resolve()))  # a YAML double-quoted string
        text = pattern.sub(lambda m: f"{m.group(1)} {value}{m.group(2) or ''}", text)
    return text


def run_stage(stage: Stage, config: Path, outdir: Path, args: argparse.Namespace,
              max_minutes: float | None = None) -> Path:
    """Train (or resume) one stage, stopped after `max_minutes` when given; returns its final checkpoint directory."""
    logdir = outdir / stage.name
    common = ["--logdir", str(logdir), "--export", str(outdir / f"{stage.name}.zip"), "--log-every", str(args.log_every)]
    if max_minutes is not None:
        common += ["--max-minutes", f"{max_minutes:.3f}"]
    common += ["--no-progress-bar"] * args.no_progress_bar
    common += ["--total-timesteps", str(args.total_timesteps)] * (args.total_timesteps is not None)
    common += ["--n-envs", str(args.n_envs)] * (args.n_envs is not None)
    if (logdir / "checkpoints").is_dir() and any((logdir / "checkpoints").iterdir()):
        if not args.resume:
            raise SystemExit(f"{logdir} already holds checkpoints: --resume continues the recipe run")
        return train_tracker.main([*common, "--resume"])
    init = [] if stage.init_from is None else ["--init-from", str(outdir / stage.init_from)]
    return train_tracker.main(["--config", str(config), "--seed", str(args.seed), *init, *common])


def main(argv: Sequence[str] | None = None) -> Path:
    """Run the recipe; returns the written reference.yaml."""
    args = parse_args(argv)
    configs = stage_configs(args)
    outdir = args.outdir
    summary_path = outdir / "recipe.json"
    summary = json.loads(summary_path.read_text()) if args.resume and summary_path.is_file() else {}
    if not args.resume and outdir.is_dir() and any(outdir.iterdir()):
        raise SystemExit(f"--outdir {outdir} is not empty: --resume continues the recipe run there")
    outdir.mkdir(parents=True, exist_ok=True)
    summary.setdefault("seed", args.seed)
    stages = summary.setdefault("stages", {})
    t_start = time.perf_counter()
    for stage in STAGES:
        bundle = outdir / f"{stage.name}.zip"
        if bundle.is_file():
            print(f"[{stage.name}] done: {bundle}", flush=True)
            continue
        cap = None
        if stage is STAGES[-1] and args.max_minutes > 0:
            used = (time.perf_counter() - t_start) / 60.0  # this invocation's (a resumed run: its part)
            cap = max(args.max_minutes - used, MIN_LAST_STAGE_MINUTES)
        print(f"[{stage.name}] training with {configs[stage.name]}"
              + (f", stopped after {cap:.1f} min (--max-minutes {args.max_minutes:g})" if cap else ""), flush=True)
        t0 = time.perf_counter()
        final = run_stage(stage, configs[stage.name], outdir, args, cap)
        state = json.loads((final / "state.json").read_text())
        minutes = (time.perf_counter() - t0) / 60.0  # of the run that finished the stage (a resumed one: its part)
        stages[stage.name] = {"config": str(configs[stage.name]), "minutes": round(minutes, 2),
                              "num_timesteps": int(state["num_timesteps"]), "final_checkpoint": str(final),
                              "bundle": str(bundle), "max_minutes": cap}
        atomic_write_json(summary_path, summary)
    total = sum(s.get("minutes", 0.0) for s in stages.values())
    summary["total_minutes"] = round(total, 2)
    atomic_write_json(summary_path, summary)

    bundles = {stage.generation_key: outdir / f"{stage.name}.zip" for stage in STAGES}
    text = point_generation_at(args.reference_config.read_text(), bundles, str(args.reference_config))
    header = (f"# Written by python -m reference.train_trackers: {args.reference_config} with the trackers of "
              f"{outdir}.\n")
    reference = atomic_write_text(outdir / "reference.yaml", header + text)
    generation = load_generation_config(reference)  # the copy must still be a valid config, naming the new bundles
    if Path(generation.tracker_path or "") != bundles["tracker_path"].resolve():
        raise SystemExit(f"{reference}: generation.tracker_path reads {generation.tracker_path!r}, not the new tracker")
    for name, s in stages.items():
        print(f"{name}: {s['num_timesteps']:,} steps in {s['minutes']:.1f} min -> {s['bundle']}")
    print(f"all trackers: {total:.1f} min (learning and set-up; issue 10's target: <= 60 min on 2 cores)")
    print(f"next: python -m reference.generate --config {reference} --output-dir data/tier0plus")
    return reference


if __name__ == "__main__":
    main()
    sys.exit(0)
