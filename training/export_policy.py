"""Export a checkpoint as one small file: a policy bundle for `training/evaluate.py` and `--init-from`,
or (``--onnx``) one ONNX graph for the robot.

    python training/export_policy.py runs/phase1e/checkpoints/step_0002511296 policies/phase1e.zip
    python training/export_policy.py policies/phase2.zip policies/phase2.onnx --onnx   # + policies/phase2.json
    python training/export_policy.py --convert-legacy-trusted OLD.zip NEW.zip          # old pickle format, trusted

The bundle is the checkpoint's Stable-Baselines3 ``model.zip`` with ``vecnormalize.npz`` (observation
normalisation statistics, plain arrays), ``state.json`` (config, step count, what rebuilds the PPO) and,
for Phase 3, ``amp.pt`` added as extra entries. ``PPO.load("policies/phase1e.zip")`` still loads the
policy alone (for a file one trusts: SB3 unpickles); the project's loaders never unpickle.

``--onnx``: observation normalisation + actor MLP + deterministic action (clipped to [-1, 1]) as one
graph, with the runtime's metadata (observation layout, joint order, home pose, ranges, action scale,
50 Hz) in its ``metadata_props`` and in ``OUTPUT`` with ``.json`` (`wildrobot_gym.onnx_export`); run it
with ``examples/run_onnx.py`` (numpy + onnxruntime). Needs ``pip install -e .[deploy]``.

``--convert-legacy-trusted``: a checkpoint or bundle of the old format (``vecnormalize.pkl``, which the
loaders refuse because unpickling can run code) rewritten in the current one. It unpickles the file:
use it only on files you trust. OUTPUT: a bundle (``.zip``) or a checkpoint directory.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from training.common import export_policy, open_checkpoint, read_state  # noqa: E402


def main(argv: list[str] | None = None) -> Path:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint", type=Path, help="a checkpoint directory, a run directory (its latest) or a bundle")
    p.add_argument("output", type=Path, help="the file to write: a bundle (policies/phase1e.zip) or, with --onnx, "
                   "a graph (policies/phase1e.onnx)")
    p.add_argument("--onnx", action="store_true", help="write the deterministic policy as ONNX (+ OUTPUT.json)")
    p.add_argument("--convert-legacy-trusted", action="store_true",
                   help="convert an old-format (vecnormalize.pkl) checkpoint or bundle: UNPICKLES it, so only "
                        "for a file you trust")
    args = p.parse_args(argv)
    if args.onnx and args.convert_legacy_trusted:
        raise SystemExit("--onnx and --convert-legacy-trusted: one at a time (convert first, then export)")
    if args.convert_legacy_trusted:
        from wildrobot_gym.checkpoints import convert_legacy_checkpoint

        try:
            out = convert_legacy_checkpoint(args.checkpoint, args.output, trust=True)
        except (FileNotFoundError, ValueError) as e:
            raise SystemExit(f"checkpoint {args.checkpoint}: {e}") from None
        state = read_state(open_checkpoint("output", out))
        print(f"{out}: converted (phase {state['phase']}, {state['num_timesteps']} steps)")
        return out
    if (args.output.suffix == ".onnx") != args.onnx:
        raise SystemExit(f"output {args.output}: an .onnx file is written with --onnx (and --onnx writes an .onnx file)")
    ckpt = open_checkpoint("checkpoint", args.checkpoint)
    if args.onnx:
        try:
            from wildrobot_gym.onnx_export import export_onnx
        except ImportError as e:
            raise SystemExit(f"--onnx needs onnx ({e}): pip install -e .[deploy]") from None
        try:
            out, meta = export_onnx(ckpt, args.output)
        except ImportError as e:
            raise SystemExit(f"--onnx needs onnx ({e}): pip install -e .[deploy]") from None
        except ValueError as e:
            raise SystemExit(f"checkpoint {args.checkpoint}: {e}") from None
        print(f"{out} (+ {out.with_suffix('.json').name}): phase {meta['phase']}, {meta['num_timesteps']} steps, "
              f"input {meta.get('input_dim', meta['observation_dim'])} -> action {len(meta['joint_names'])}, {out.stat().st_size / 1e3:.0f} kB")
        return out
    out = export_policy(ckpt, args.output)
    state = read_state(ckpt)
    print(f"{out}: phase {state['phase']}, {state['num_timesteps']} steps, {out.stat().st_size / 1e6:.2f} MB")
    return out


if __name__ == "__main__":
    main()
