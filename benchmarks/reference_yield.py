"""Tier 0+ yield of reference generation on (a) the project's gait library and (b) human-like clips.

(b) are synthetic stand-ins for retargeted human walking clips (`reference.human_like`: the
project's gaits degraded to the documented pathologies: 33.3 fps, walking toward -x with some
curving, stiff-kneed, hip pitch clamped at its limit, asymmetric). The robot's earlier attempt got
0.0 s of Tier 0+ from 68 s of real ones; the seed's target is >= 60 s.

Runs `python -m reference.generate` (in this process, `--workers` processes, default 1) on each
set in a temporary folder and prints, per set: Tier 0+ seconds, WALKING Tier 0+ seconds (what the
go / no-go counts; `reference.walking`), walking seconds per 0.1 m/s speed band, mean walking speed /
clip speed, double support of the walking frames, segments, clips contributing, harness p90/p95
(fraction of m g), unloaded fraction, pooled slip rate, alternation and the forward progress between
restarts (tracked / reference). For the library it also prints the support overlap with a walking
policy (`reference.overlap`: the forward-velocity AUC of the walking Tier 0+ frames against the policy's
frames; issue 10's target <= 0.7).

    python benchmarks/reference_yield.py [--config configs/reference.yaml] [--workers 1] [--keep DIR]
        [--overlap-policy policies/phase2.zip] [--library-only]

The last lines are ``human-like tier0+ seconds: X`` and ``human-like walking seconds: Y``.
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from reference import generate, human_like, overlap
from reference.rollout import DEFAULT_CONFIG


def run_set(input_dir: Path, output_dir: Path, config: str, workers: int) -> dict:
    """Generate + mine + analyse one clip folder; return the headline figures."""
    args = ["--input-dir", str(input_dir), "--output-dir", str(output_dir), "--config", config,
            "--workers", str(workers), "--no-progress", "--no-plots"]
    if generate.main(args) != 0:
        raise RuntimeError(f"reference.generate failed on {input_dir}")
    report = json.loads((output_dir / "analysis.json").read_text())
    summary = json.loads((output_dir / "generation_summary.json").read_text())
    tracked = sum(r["progress_tracked_m"] for r in summary["rollouts"])
    reference = sum(r["progress_reference_m"] for r in summary["rollouts"])
    return {
        "input_clips": len({r["clip"] for r in summary["rollouts"]}),
        "input_seconds": None,
        "tier0plus_seconds": report["total_tier0plus_seconds"],
        "walking_seconds": report.get("walking_seconds"),
        "walking_bands": (report.get("walking") or {}).get("seconds_by_speed_band") or {},
        "speed_ratio": (report.get("walking") or {}).get("speed_ratio_mean"),
        "double_support": (report.get("walking") or {}).get("double_support_fraction"),
        "segments": report["num_segments"],
        "clips_contributing": report["num_clips_contributing"],
        "harness_p90": report["harness"]["p90"],
        "harness_p95": report["harness"]["p95"],
        "unloaded_fraction": report["unloaded_fraction"],
        "slip_pooled": report["slip"]["pooled_rate"],
        "alternation": report["alternation_rate"],
        "falls": sum(r["falls"] for r in summary["rollouts"]),
        "progress_ratio": tracked / reference if reference > 0 else float("nan"),
        "decision": report.get("decision"),
    }


def format_row(name: str, r: dict) -> str:
    """One line of figures for a set."""
    def f(x: float | None, fmt: str) -> str:
        return "n/a" if x is None else format(x, fmt)

    bands = " ".join(f"{b}:{v:.1f}" for b, v in r["walking_bands"].items()) or "none"
    return (f"{name}: Tier 0+ {r['tier0plus_seconds']:.1f} s, walking {f(r['walking_seconds'], '.1f')} s "
            f"(by band, m/s: {bands}; speed ratio {f(r['speed_ratio'], '.2f')}, double support "
            f"{f(r['double_support'], '.2f')}), {r['segments']} segments, "
            f"{r['clips_contributing']}/{r['input_clips']} clips, harness p90 {f(r['harness_p90'], '.3f')} "
            f"p95 {f(r['harness_p95'], '.3f')} mg, unloaded {f(r['unloaded_fraction'], '.3f')}, "
            f"slip {f(r['slip_pooled'], '.3f')}, alternation {f(r['alternation'], '.3f')}, falls {r['falls']}, "
            f"progress {r['progress_ratio']:.2f}, decision {r['decision']}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--config", default=str(DEFAULT_CONFIG))
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--num-clips", type=int, default=14, help="human-like clips to synthesise")
    p.add_argument("--total-seconds", type=float, default=68.0, help="their total length, s")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--keep", type=Path, default=None, help="write everything here instead of a temp folder")
    p.add_argument("--overlap-policy", type=Path, default=overlap.DEFAULT_POLICY,
                   help="walking policy of the support-overlap figure")
    p.add_argument("--library-only", action="store_true", help="skip the human-like set")
    args = p.parse_args(argv)
    if not args.overlap_policy.exists():
        raise SystemExit(f"--overlap-policy: no such file or folder {args.overlap_policy}")
    with tempfile.TemporaryDirectory(prefix="reference_yield_") as tmp:
        root = args.keep if args.keep is not None else Path(tmp)
        results = {"library": run_set(generate.CLIP_LIBRARY, root / "library", args.config, args.workers)}
        overlap_auc = overlap.velocity_overlap(root / "library", args.overlap_policy)["forward_velocity_auc"]
        if not args.library_only:
            clips_dir = root / "human_like_clips"
            paths = human_like.synthesize(clips_dir, args.num_clips, args.total_seconds, args.seed)
            seconds = sum(human_like.clip_stats(human_like.load_pickle_dict(q))["duration_s"] for q in paths)
            results["human-like"] = run_set(clips_dir, root / "human_like", args.config, args.workers)
            results["human-like"]["input_seconds"] = seconds
        print()
        for name, r in results.items():
            print(format_row(name, r))
        print(f"library support overlap AUC (forward velocity, walking Tier 0+ vs {args.overlap_policy}): "
              f"{overlap_auc:.3f}")
        if args.library_only:
            return 0
        print(f"human-like input: {len(paths)} synthetic clips, {seconds:.1f} s")
        print(f"human-like tier0+ seconds: {results['human-like']['tier0plus_seconds']:.1f}")
        ws = results["human-like"]["walking_seconds"]
        print(f"human-like walking seconds: {'n/a' if ws is None else f'{ws:.1f}'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
