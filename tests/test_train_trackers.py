"""The one-command tracker recipe (reference/train_trackers.py): three chained runs, their bundles, the written
reference.yaml and --resume."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from reference import train_trackers
from wildrobot_gym.config.reference import DEFAULT_REFERENCE_CONFIG, load_generation_config
from wildrobot_gym.config.tracker import load_tracker_config, validate_tracker_config


def shrink(stage: train_trackers.Stage, out: Path, **reference) -> Path:
    """`stage`'s shipped config on one clip, one variant, 4-s timelines, small nets and 128 steps, written to `out`
    (the fast stage starts from the library stage's weights, so both keep the same nets)."""
    cfg = load_tracker_config(stage.config)
    cfg["reference"].update(timeline_seconds=4.0, variants=[{"name": "base"}], **reference)
    cfg["ppo"].update(n_steps=64, batch_size=64, n_epochs=1, pi_net=[16, 16], vf_net=[16, 16])
    cfg["training"].update(n_envs=2, vec_env="dummy", n_workers=0, checkpoint_interval=128, total_timesteps=128,
                           torch_threads=1)
    path = out / f"{stage.name}.yaml"
    path.write_text(yaml.safe_dump(validate_tracker_config(cfg)))
    return path


def stage(name: str) -> train_trackers.Stage:
    return next(s for s in train_trackers.STAGES if s.name == name)


@pytest.fixture(scope="module")
def configs(tmp_path_factory) -> list[str]:
    root = tmp_path_factory.mktemp("configs")
    general, lib, fast = (stage(n) for n in ("tracker_general", "tracker", "tracker_fast"))
    return ["--library-config", str(shrink(lib, root, clips=["walk_v030_l080"], human_like_clips=0)),
            "--fast-config", str(shrink(fast, root, clips=["walk_v060_l140"], human_like_clips=0)),
            "--general-config", str(shrink(general, root, clips=[], human_like_clips=1, human_like_seconds=4.0)),
            "--log-every", "0", "--no-progress-bar"]


def test_shipped_recipe_configs_chain():
    """The fast specialist fine-tunes the library tracker: same observation and networks, its own clips."""
    lib, fast, general = (load_tracker_config(stage(n).config) for n in ("tracker", "tracker_fast", "tracker_general"))
    assert train_trackers.STAGES[-1].name == "tracker_fast"  # the stage --max-minutes cuts
    assert lib["env"] == fast["env"] and lib["ppo"]["pi_net"] == fast["ppo"]["pi_net"]
    assert fast["reference"]["clips"] and all(c >= "walk_v055" for c in fast["reference"]["clips"])
    assert lib["reference"]["clips"] is None and general["reference"]["clips"] == []
    assert lib["training"]["total_timesteps"] + fast["training"]["total_timesteps"] < 20_000_000


def test_recipe_trains_three_trackers_and_names_them(tmp_path, configs, capsys):
    out = tmp_path / "trackers"
    reference = train_trackers.main(["--outdir", str(out), *configs])
    assert "initialised from" in capsys.readouterr().out  # the fast stage started from the library tracker
    for name in ("tracker", "tracker_fast", "tracker_general"):
        assert (out / f"{name}.zip").is_file()
    recipe = json.loads((out / "recipe.json").read_text())
    assert {s: v["num_timesteps"] for s, v in recipe["stages"].items()} == {
        "tracker": 128, "tracker_fast": 128, "tracker_general": 128}
    assert recipe["total_minutes"] == pytest.approx(sum(v["minutes"] for v in recipe["stages"].values()), abs=0.01)
    # --max-minutes (60 by default) caps the last stage only, at what the others left of it
    assert recipe["stages"]["tracker"]["max_minutes"] is None
    assert 59.0 < recipe["stages"]["tracker_fast"]["max_minutes"] <= 60.0
    generation = load_generation_config(reference)
    assert Path(generation.tracker_path) == (out / "tracker.zip").resolve()
    assert Path(generation.fast_tracker_path) == (out / "tracker_fast.zip").resolve()
    assert Path(generation.adapt_from) == (out / "tracker_general.zip").resolve()
    default = load_generation_config(DEFAULT_REFERENCE_CONFIG)
    assert generation.fast_tracker_min_speed == default.fast_tracker_min_speed  # the rest is the base config's
    text = reference.read_text()
    assert "# the tracker of the fast clips" in text  # comments kept

    with pytest.raises(SystemExit, match="not empty: --resume"):
        train_trackers.main(["--outdir", str(out), *configs])

    # A run stopped before its last bundle: --resume trains only that stage further, from its checkpoints.
    (out / "tracker_general.zip").unlink()
    library_bundle = (out / "tracker.zip").stat().st_mtime_ns
    train_trackers.main(["--outdir", str(out), "--resume", "--total-timesteps", "256", "--max-minutes", "0", *configs])
    recipe = json.loads((out / "recipe.json").read_text())
    assert recipe["stages"]["tracker_general"]["num_timesteps"] == 256
    assert recipe["stages"]["tracker"]["num_timesteps"] == 128
    assert (out / "tracker.zip").stat().st_mtime_ns == library_bundle and (out / "tracker_general.zip").is_file()


def test_bad_arguments_name_themselves(tmp_path, configs):
    args = list(configs)
    args[args.index("--fast-config") + 1] = str(tmp_path / "missing.yaml")
    with pytest.raises(SystemExit, match=r"--fast-config: .*missing\.yaml is not a file"):
        train_trackers.main(["--outdir", str(tmp_path / "o"), *args])
    with pytest.raises(SystemExit, match=r"--max-minutes: expected minutes >= 0"):
        train_trackers.main(["--outdir", str(tmp_path / "o"), "--max-minutes", "-1", *configs])
    with pytest.raises(SystemExit, match=r"x\.yaml: expected one 'generation\.adapt_from:' line, found 0"):
        train_trackers.point_generation_at("generation:\n  tracker_path: null\n", {"adapt_from": Path("a.zip")}, "x.yaml")
    text = train_trackers.point_generation_at("generation:\n  tracker_path: null   # why\n  fast_tracker_path: x\n",
                                              {"tracker_path": Path("a b.zip")}, "x.yaml")
    assert yaml.safe_load(text)["generation"]["tracker_path"] == str(Path("a b.zip").resolve())
    assert "   # why" in text and "fast_tracker_path: x" in text
