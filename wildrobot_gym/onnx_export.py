"""A checkpoint's deterministic policy as ONE ONNX graph, for a robot runtime without torch or SB3.

    action = clip(action_net(policy_net(clip((obs - mean) / sqrt(var + eps), -clip_obs, clip_obs))), low, high)

i.e. VecNormalize's observation normalisation (computed in float64, as VecNormalize does) followed by
the actor's MLP and the Gaussian's mean, clipped to the action space ([-1, 1]): exactly what
``model.predict(vecnormalize.normalize_obs(obs), deterministic=True)`` returns. Output ``action``:
float32 (batch, 8), in [-1, 1]. Input ``obs``: float32 (batch, input_dim), the raw values of the
observation entries the actor reads:

* a policy with ``ppo.actor_inputs: all`` (SB3's MlpPolicy; every policy saved before the key): the
  env's whole observation (batch, observation_dim), as before;
* an asymmetric actor-critic (``ppo.actor_inputs: measured``, `wildrobot_gym.policy`): only the measured
  (non-privileged) entries, in OBS_LAYOUT order (batch, 33) -- what the robot has. ``mean`` / ``var``
  are those columns' statistics; the critic, and with it the privileged entries, is not in the graph.
  Its left-right symmetric variant (``measured_symmetric``) takes the same input; the graph runs the actor MLP
  on the normalised input and on its mirror image and averages the two action means (`MirrorAveragedLinear`).

What a runtime needs besides the graph is embedded as JSON under the ``wildrobot`` key of the model's
``metadata_props`` and written next to it as ``OUT.json`` (`policy_metadata`): the observation layout
(`wildrobot_gym.env.OBS_LAYOUT`: names, sizes, offsets, which are privileged), the graph input's layout
(``input_layout``: the entries the input holds, each with its ``offset`` in the input and its
``obs_offset`` in the env's observation; ``input_dim``, ``actor_inputs``), the joint order
(`wildrobot_gym.robot.JOINT_NAMES`), home pose, joint ranges, action offset and scale (joint target = home +
action_offset + action_scale * action, clipped to the range, rad), control rate, gait clock frequency and command range.
Metadata format 2 (format 1, before ``input_layout``: the input is the whole observation).

Needs ``onnx`` (the ``deploy`` extra) to write; the graph is run with ``onnxruntime`` (examples/run_onnx.py).
The checkpoint is read without unpickling anything (`wildrobot_gym.policy_io`).
"""
from __future__ import annotations

import io
import json
import warnings
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
from torch import nn

from wildrobot_gym.atomic_io import atomic_write

METADATA_KEY = "wildrobot"
OPSET = 17
METADATA_FORMAT = 2


class OnnxPolicy(nn.Module):
    """Normalisation + actor MLP + action mean + clip, as one module (see the module docstring)."""

    def __init__(self, policy: Any, vecnorm: Mapping[str, np.ndarray] | None, low: np.ndarray, high: np.ndarray,
                 columns: np.ndarray | None = None) -> None:
        """`columns`: the observation columns the input holds (the asymmetric policy's actor columns);
        None: the whole observation."""
        super().__init__()
        self.policy_net = policy.mlp_extractor.policy_net  # the asymmetric policy's: on its actor columns
        self.action_net = policy.action_net
        # The asymmetric extractors' latent of the actor's columns (the symmetric one's is [h(x), h(M x)]);
        # SB3's MlpExtractor (actor_inputs all) has none: its latent is policy_net's output.
        self.extractor = policy.mlp_extractor if hasattr(policy.mlp_extractor, "actor_latent") else None
        self.normalize = vecnorm is not None and bool(vecnorm["norm_obs"])
        if self.normalize:
            mean, var = np.asarray(vecnorm["obs_mean"], np.float64), np.asarray(vecnorm["obs_var"], np.float64)
            if columns is not None:
                mean, var = mean[columns], var[columns]
            self.register_buffer("mean", torch.as_tensor(mean))
            self.register_buffer("std", torch.as_tensor(np.sqrt(var + float(vecnorm["epsilon"]))))
            clip = float(vecnorm["clip_obs"])
            self.register_buffer("clip_lo", torch.tensor(-clip, dtype=torch.float64))
            self.register_buffer("clip_hi", torch.tensor(clip, dtype=torch.float64))
        self.register_buffer("low", torch.as_tensor(np.asarray(low, np.float32)))
        self.register_buffer("high", torch.as_tensor(np.asarray(high, np.float32)))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        x = obs
        if self.normalize:
            x = torch.max(torch.min((obs.double() - self.mean) / self.std, self.clip_hi), self.clip_lo).float()
        latent = self.extractor.actor_latent(x) if self.extractor is not None else self.policy_net(x)
        mean = self.action_net(latent)
        return torch.max(torch.min(mean, self.high), self.low)


def policy_metadata(cfg: Mapping[str, Any], env: Any, state: Mapping[str, Any], vecnorm: Mapping[str, np.ndarray] | None,
                    source: str, actor_inputs: str = "all") -> dict[str, Any]:
    """The runtime's facts of a policy: observation layout, graph input, joints, action mapping, rates
    (JSON-able). `actor_inputs`: "all" (input = the whole observation), "measured" or "measured_symmetric"
    (the measured entries)."""
    from wildrobot_gym.env import OBS_LAYOUT
    from wildrobot_gym.policy import measured_entries
    from wildrobot_gym.robot import JOINT_NAMES

    base = env.unwrapped
    spec = base.spec_
    include_priv = bool(base.include_privileged)
    include_heading = bool(getattr(base, "include_heading", False))
    layout, i = [], 0
    for name, size, privileged in OBS_LAYOUT:
        if (privileged and not include_priv) or (name == "heading_error" and not include_heading):
            continue
        layout.append({"name": name, "size": int(size), "offset": i, "privileged": bool(privileged)})
        i += size
    measured = actor_inputs in ("measured", "measured_symmetric")
    if measured:
        inputs = [{**e, "privileged": False} for e in measured_entries(include_priv, include_heading)]
    elif actor_inputs == "all":
        inputs = [{"name": e["name"], "size": e["size"], "offset": e["offset"], "obs_offset": e["offset"],
                   "privileged": e["privileged"]} for e in layout]
    else:
        raise ValueError(f"actor_inputs: expected 'all', 'measured' or 'measured_symmetric', got {actor_inputs!r}")
    input_dim = sum(e["size"] for e in inputs)
    has_priv = any(e["privileged"] for e in inputs)
    scale = np.broadcast_to(np.asarray((cfg.get("env") or {}).get("action_scale", 0.5), np.float64), (len(JOINT_NAMES),))
    offset = np.broadcast_to(np.asarray((cfg.get("env") or {}).get("action_offset", 0.0), np.float64), (len(JOINT_NAMES),))
    return {
        "format": METADATA_FORMAT, "source": source, "phase": str(cfg["phase"]),
        "num_timesteps": int(state.get("num_timesteps", 0)),
        "inputs": {"obs": ["batch", input_dim]}, "outputs": {"action": ["batch", len(JOINT_NAMES)]},
        "actor_inputs": actor_inputs, "input_layout": inputs, "input_dim": input_dim,
        "input_note": ("the graph's input: the measured observation entries of input_layout, in order "
                       "(obs[obs_offset:obs_offset + size] of the env's observation)") if measured
        else "the graph's input: the env's whole observation (observation_layout)",
        "observation_layout": layout, "observation_dim": i, "include_privileged": include_priv,
        "include_heading": include_heading,
        "privileged_note": "privileged entries are not measurable on the robot (simulation only)" if has_priv else None,
        "normalisation": "inside the graph: feed the raw observation" if vecnorm is not None and bool(vecnorm["norm_obs"])
        else "none", "clip_obs": float(vecnorm["clip_obs"]) if vecnorm is not None else None,
        "action": "joint target = home + action_offset + action_scale * action, clipped to joint_range (rad); "
                  "action in [-1, 1]",
        "action_low": -1.0, "action_high": 1.0,
        "joint_names": list(JOINT_NAMES),
        "action_scale": [float(s) for s in scale],
        "action_offset": [float(o) for o in offset],
        "home_pose": [float(q) for q in spec.home_qpos[spec.joint_qpos_adr]],
        "joint_range": [[float(lo), float(hi)] for lo, hi in spec.joint_range],
        "control_rate_hz": float(round(1.0 / base.dt, 6)), "control_dt": float(base.dt),
        "gait_frequency_hz": float(base.gait_frequency),
        # the clock quickens above command = 2 max_step_length gait_frequency (None: a fixed frequency)
        "max_step_length_m": base.max_step_length,
        "command_range": [float(c) for c in base.command_range],
        "env_kwargs": json.loads(json.dumps(dict(cfg.get("env") or {}), default=float)),  # WildRobotWalk-v0 as trained
    }


def input_columns(meta: Mapping[str, Any]) -> np.ndarray:
    """The env observation's columns the graph's input holds, in order, from its metadata (numpy only;
    format 1, without ``input_layout``: the whole observation)."""
    entries = meta.get("input_layout")
    if entries is None:
        return np.arange(int(meta["observation_dim"]))
    return np.concatenate([np.arange(e["obs_offset"], e["obs_offset"] + e["size"]) for e in entries]).astype(np.int64)


def export_onnx(ckpt: Any, out: str | Path, sidecar: bool = True) -> tuple[Path, dict[str, Any]]:
    """Write checkpoint `ckpt`'s (a directory or a bundle, `resolve_checkpoint`) deterministic policy as
    ONNX to `out` (atomically) and, with `sidecar`, its metadata to ``out`` with ``.json``; returns
    (path, metadata)."""
    import onnx

    from wildrobot_gym.checkpoints import VECNORM_FILE, read_state
    from wildrobot_gym.config import validate_config
    from wildrobot_gym.policy import actor_columns_of
    from wildrobot_gym.policy_io import load_ppo, model_actor_inputs, read_vecnormalize
    from wildrobot_gym.wrappers import make_phase_env

    out = Path(out)
    state = read_state(ckpt)
    cfg = validate_config(state["config"])
    env = make_phase_env(cfg)  # the policy's observation (Phase 3: without the AMP features)
    try:
        model = load_ppo(ckpt, None, cfg, device="cpu", observation_space=env.observation_space,
                         action_space=env.action_space)
        vecnorm = read_vecnormalize(ckpt / VECNORM_FILE) if (ckpt / VECNORM_FILE).is_file() else None
        # the class the weights were saved as (load_ppo), not only the config's ppo.actor_inputs
        meta = policy_metadata(cfg, env, state, vecnorm, str(ckpt), actor_inputs=model_actor_inputs(model))
    finally:
        env.close()
    if model.policy.squash_output or model.policy.use_sde:
        raise ValueError(f"{ckpt}: only a plain Gaussian MLP policy is exported (no gSDE / squashed output)")
    columns = actor_columns_of(model.policy)  # None: the whole observation
    if columns is not None and not np.array_equal(columns, input_columns(meta)):
        raise RuntimeError(f"the actor's columns {columns.tolist()} are not the metadata's input layout")
    module = OnnxPolicy(model.policy, vecnorm, model.action_space.low, model.action_space.high, columns).eval()
    dummy = torch.zeros(1, meta["input_dim"], dtype=torch.float32)
    buf = io.BytesIO()
    # The TorchScript-based exporter (dynamo=False): the dynamo one needs onnxscript, and this graph (two
    # Linear layers, elementwise ops) needs nothing newer. Its deprecation warning is silenced here.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(module, (dummy,), buf, input_names=["obs"], output_names=["action"],
                          dynamic_axes={"obs": {0: "batch"}, "action": {0: "batch"}}, opset_version=OPSET,
                          dynamo=False)
    proto = onnx.load_from_string(buf.getvalue())
    onnx.checker.check_model(proto)
    del proto.metadata_props[:]
    entry = proto.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(meta)
    proto.doc_string = ("WildRobot policy: raw observation" + (" (measured entries only: metadata input_layout)"
                                                               if columns is not None else "")
                        + " -> normalised -> actor MLP -> mean action clipped to [-1, 1]")
    atomic_write(out, lambda f: f.write(proto.SerializeToString()))
    if sidecar:
        atomic_write(out.with_suffix(".json"), lambda f: f.write((json.dumps(meta, indent=1) + "\n").encode()))
    return out, meta


def read_metadata(onnx_path: str | Path) -> dict[str, Any]:
    """The ``wildrobot`` metadata of an exported graph, with onnxruntime only (no onnx, no torch)."""
    import onnxruntime as ort

    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    return json.loads(sess.get_modelmeta().custom_metadata_map[METADATA_KEY])
