"""Loading a checkpoint or policy bundle never unpickles it, and leaves nothing behind in the temp dir.

A crafted bundle carries a pickle payload in every member (vecnormalize.pkl, an object array in
vecnormalize.npz, a ":serialized:" value in SB3's data JSON, policy.pth / policy.optimizer.pth / amp.pt
holding a pickled object instead of tensors); unpickling any of them would create a marker file. Each
loader (training/evaluate.py in a subprocess, --init-from, gait_report, reference/smoke_test) must not
create it, and its error names the file.
"""
from __future__ import annotations

import base64
import io
import json
import os
import pickle
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from wildrobot_gym.checkpoints import (  # noqa: E402
    BundleCheckpoint, LEGACY_VECNORM_FILE, VECNORM_FILE, convert_legacy_checkpoint, resolve_checkpoint,
)
from wildrobot_gym.config import CONFIG_DIR, load_config  # noqa: E402
from wildrobot_gym.policy_io import LegacyCheckpointError, load_vecnormalize, save_vecnormalize  # noqa: E402


class Payload:
    """Unpickling this creates `marker` (open(marker, "w")): proof that something was unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def tiny_cfg() -> dict:
    cfg = load_config(CONFIG_DIR / "phase1e.yaml")
    cfg["ppo"].update(n_steps=64, batch_size=64, n_epochs=1, pi_net=[16], vf_net=[16])
    cfg["training"].update(n_envs=2, n_workers=1, total_timesteps=128, checkpoint_interval=128, start_method="fork")
    cfg["env"]["max_episode_steps"] = 30
    return cfg


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> dict:
    """A valid tiny bundle's members (new format), built once."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    from training.common import ppo_kwargs
    from wildrobot_gym.policy_io import model_meta
    from wildrobot_gym.wrappers import make_phase_env

    cfg = tiny_cfg()
    venv = VecNormalize(DummyVecEnv([lambda: make_phase_env(cfg)]))
    model = PPO("MlpPolicy", venv, device="cpu", seed=0, **ppo_kwargs(cfg))
    buf = io.BytesIO()
    model.save(buf)
    npz = io.BytesIO()
    save_vecnormalize(venv, npz)
    venv.close()
    state = {"num_timesteps": 0, "phase": cfg["phase"], "config": cfg, "model": model_meta(model)}
    return {"cfg": cfg, "model.zip": buf.getvalue(), VECNORM_FILE: npz.getvalue(),
            "state.json": json.dumps(state).encode()}


def _torch_bytes(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def _poisoned_npz(clean_npz: bytes, marker: Path) -> bytes:
    with np.load(io.BytesIO(clean_npz)) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["obs_mean"] = np.array([Payload(marker)] * len(arrays["obs_mean"]), dtype=object)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _poisoned_data(data: bytes, marker: Path) -> bytes:
    d = json.loads(data)
    b64 = base64.b64encode(pickle.dumps(Payload(marker))).decode()
    for key in ("policy_class", "observation_space", "action_space", "lr_schedule", "clip_range"):
        d[key] = {":type:": "<class 'x'>", ":serialized:": b64}
    return json.dumps(d).encode()


def make_bundle(clean: dict, path: Path, marker: Path, poison: set[str], new_format: bool = True) -> Path:
    """A bundle from `clean`'s members, with a payload in each member named in `poison` ("data",
    "policy.pth", "policy.optimizer.pth", VECNORM_FILE, LEGACY_VECNORM_FILE, "amp.pt")."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(clean["model.zip"])) as src, zipfile.ZipFile(out, "w") as z:
        for name in src.namelist():
            data = src.read(name)
            if name in poison and name == "data":
                data = _poisoned_data(data, marker)
            elif name in poison:
                data = _torch_bytes(Payload(marker))
            z.writestr(name, data)
        z.writestr("state.json", clean["state.json"])
        if new_format:
            z.writestr(VECNORM_FILE, _poisoned_npz(clean[VECNORM_FILE], marker) if VECNORM_FILE in poison
                       else clean[VECNORM_FILE])
        z.writestr(LEGACY_VECNORM_FILE, pickle.dumps(Payload(marker)))  # ignored (new) or refused (old format)
        z.writestr("amp.pt", _torch_bytes(Payload(marker)))
    path.write_bytes(out.getvalue())
    return path


ALL = {"data", "policy.pth", "policy.optimizer.pth", VECNORM_FILE, "amp.pt"}


def test_payloads_work_when_unpickled(tmp_path: Path):
    """The payloads are real: unpickling one creates the marker (so the tests below mean something)."""
    marker = tmp_path / "marker"
    pickle.loads(pickle.dumps(Payload(marker))).close()
    assert marker.exists()


def test_evaluate_subprocess_refuses_the_crafted_bundle_naming_the_file(clean: dict, tmp_path: Path):
    marker = tmp_path / "marker"
    bundle = make_bundle(clean, tmp_path / "evil.zip", marker, ALL)
    r = subprocess.run([sys.executable, "training/evaluate.py", str(bundle), "--episodes", "1"], cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode != 0
    assert "evil.zip:vecnormalize.npz" in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert not marker.exists()


@pytest.mark.parametrize("poison, named", [
    ({VECNORM_FILE}, "evil.zip:vecnormalize.npz"),
    ({"policy.pth"}, "policy.pth"),
])
def test_in_process_loaders_refuse_a_poisoned_member(clean: dict, tmp_path: Path, poison, named):
    from reference.smoke_test import checkpoint_policy
    from training import evaluate, gait_report, train_ppo
    from wildrobot_gym.amp import AMPFeatureObservation
    from wildrobot_gym.env import WildRobotWalkEnv

    marker = tmp_path / "marker"
    bundle = make_bundle(clean, tmp_path / "evil.zip", marker, poison | {"data", "amp.pt"})
    with pytest.raises(SystemExit, match=named.replace(".", r"\.")):
        evaluate.main([str(bundle), "--episodes", "1"])
    with pytest.raises(SystemExit, match=named.replace(".", r"\.")):
        gait_report.main([str(bundle)])
    cfg_path = tmp_path / "tiny.yaml"
    cfg = tiny_cfg()
    cfg["training"]["logdir"] = str(tmp_path / "run")
    cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    with pytest.raises(SystemExit, match=r"--init-from.*" + named.replace(".", r"\.")):
        train_ppo.main(["--config", str(cfg_path), "--init-from", str(bundle), "--no-progress-bar"])
    env = AMPFeatureObservation(WildRobotWalkEnv(**{k: v for k, v in clean["cfg"]["env"].items()}))
    with pytest.raises(SystemExit, match=r"--policy.*" + named.replace(".", r"\.")):
        checkpoint_policy(bundle, env)
    env.close()
    assert not marker.exists()


def test_init_from_refuses_a_poisoned_optimizer_state(clean: dict, tmp_path: Path):
    from training import train_ppo

    marker = tmp_path / "marker"
    bundle = make_bundle(clean, tmp_path / "evil.zip", marker, {"policy.optimizer.pth", "data", "amp.pt"})
    cfg = tiny_cfg()
    cfg["training"]["logdir"] = str(tmp_path / "run")
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    with pytest.raises(SystemExit, match=r"--init-from.*policy\.optimizer\.pth"):
        train_ppo.main(["--config", str(tmp_path / "tiny.yaml"), "--init-from", str(bundle), "--no-progress-bar"])
    assert not marker.exists()


def test_serialized_data_pickle_and_amp_pt_are_never_read(clean: dict, tmp_path: Path):
    """With valid weights and statistics, a bundle whose SB3 data JSON, vecnormalize.pkl and amp.pt carry
    payloads loads and evaluates: those members are never decoded. The discriminator loader refuses amp.pt."""
    from training import evaluate
    from training.common import load_amp_run_config, load_discriminator

    marker = tmp_path / "marker"
    bundle = make_bundle(clean, tmp_path / "evil.zip", marker, {"data", "amp.pt"})
    result = evaluate.main([str(bundle), "--episodes", "1"])
    assert result["episodes"] == 1
    with pytest.raises(ValueError, match=r"evil\.zip:amp\.pt"):
        load_discriminator(resolve_checkpoint(bundle), load_amp_run_config(None))
    assert not marker.exists()


def test_old_format_is_refused_naming_the_file_and_the_conversion(clean: dict, tmp_path: Path):
    marker = tmp_path / "marker"
    bundle = make_bundle(clean, tmp_path / "old.zip", marker, set(), new_format=False)
    with pytest.raises(LegacyCheckpointError, match=r"old\.zip.*vecnormalize\.pkl.*--convert-legacy-trusted"):
        resolve_checkpoint(bundle)
    r = subprocess.run([sys.executable, "training/evaluate.py", str(bundle), "--episodes", "1"], cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode != 0 and "old.zip" in r.stderr and "--convert-legacy-trusted" in r.stderr, r.stderr
    # a checkpoint directory of the old format too
    d = tmp_path / "old_ckpt"
    d.mkdir()
    (d / "model.zip").write_bytes(clean["model.zip"])
    (d / "state.json").write_bytes(clean["state.json"])
    (d / LEGACY_VECNORM_FILE).write_bytes(pickle.dumps(Payload(marker)))
    with pytest.raises(LegacyCheckpointError, match=r"old_ckpt.*--convert-legacy-trusted"):
        resolve_checkpoint(d)
    # the conversion refuses without trust, and the CLI without its flag
    with pytest.raises(PermissionError, match="trust"):
        convert_legacy_checkpoint(bundle, tmp_path / "new.zip")
    from training import export_policy

    with pytest.raises(SystemExit, match=r"old\.zip.*--convert-legacy-trusted"):
        export_policy.main([str(bundle), str(tmp_path / "new.zip")])
    assert not marker.exists()


def test_convert_legacy_trusted_keeps_statistics_and_weights(clean: dict, tmp_path: Path):
    """Conversion (of a trusted file: real VecNormalize pickle) keeps the statistics and the weights."""
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    from training import export_policy
    from wildrobot_gym.wrappers import make_phase_env

    cfg = clean["cfg"]
    vn = VecNormalize(DummyVecEnv([lambda: make_phase_env(cfg)]))
    vn.obs_rms.mean[:] = np.arange(vn.observation_space.shape[0])
    vn.obs_rms.count = 42.0
    legacy = tmp_path / "legacy.zip"
    with zipfile.ZipFile(io.BytesIO(clean["model.zip"])) as src, zipfile.ZipFile(legacy, "w") as z:
        for name in src.namelist():
            z.writestr(name, src.read(name))
        z.writestr("state.json", json.dumps({k: v for k, v in json.loads(clean["state.json"]).items() if k != "model"}))
        z.writestr(LEGACY_VECNORM_FILE, pickle.dumps(vn))
    new = export_policy.main(["--convert-legacy-trusted", str(legacy), str(tmp_path / "new.zip")])
    ckpt = resolve_checkpoint(new)
    assert isinstance(ckpt, BundleCheckpoint)
    assert {m.name for m in ckpt.iterdir()} == {"model.zip", VECNORM_FILE, "state.json"}
    assert json.loads((ckpt / "state.json").read_text())["model"]["action_shape"] == [8]
    loaded = load_vecnormalize(ckpt / VECNORM_FILE, DummyVecEnv([lambda: make_phase_env(cfg)]))
    assert np.array_equal(loaded.obs_rms.mean, vn.obs_rms.mean) and loaded.obs_rms.count == 42.0
    with zipfile.ZipFile(new) as a, zipfile.ZipFile(io.BytesIO(clean["model.zip"])) as b:
        assert a.read("policy.pth") == b.read("policy.pth")
    vn.close()
    loaded.close()


def test_loading_a_bundle_leaves_no_temp_folder(clean: dict, tmp_path: Path):
    marker = tmp_path / "marker"
    bundle = make_bundle(clean, tmp_path / "ok.zip", marker, set())
    # in this process
    from training.evaluate import load_policy

    before = set(os.listdir(tempfile.gettempdir()))
    _, venv, _, _ = load_policy(resolve_checkpoint(bundle))
    venv.close()
    with pytest.raises((ValueError, FileNotFoundError)):  # a failed load neither
        half = tmp_path / "half.zip"
        half.write_bytes(bundle.read_bytes()[: len(bundle.read_bytes()) // 2])
        resolve_checkpoint(half)
    assert set(os.listdir(tempfile.gettempdir())) - before == set()
    # a subprocess with its own, fresh TMPDIR: still empty after a full evaluation
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    r = subprocess.run([sys.executable, "training/evaluate.py", str(bundle), "--episodes", "1"], cwd=ROOT,
                       capture_output=True, text=True, timeout=300, env={**os.environ, "TMPDIR": str(tmpdir)})
    assert r.returncode == 0, r.stderr
    assert list(tmpdir.iterdir()) == []
    assert not marker.exists()


def test_human_like_pickle_reader_refuses_a_payload(tmp_path: Path):
    """`human_like.load_pickle_dict` (clip statistics) reads with the clip loader's restricted unpickler."""
    from reference import human_like

    marker = tmp_path / "marker"
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps({"fps": 30.0, "payload": Payload(marker)}))
    with pytest.raises(ValueError, match="evil.pkl"):
        human_like.load_pickle_dict(evil)
    assert not marker.exists()
