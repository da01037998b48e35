"""Loading a policy without unpickling anything: normalisation statistics and PPO weights.

A checkpoint or policy bundle is user input, and unpickling it runs whatever code it names. So the
project's loaders never unpickle:

* **Normalisation statistics** are ``vecnormalize.npz``: plain arrays (``obs_mean``, ``obs_var``,
  ``obs_count``, ``ret_mean``, ``ret_var``, ``ret_count``, ``clip_obs``, ``clip_reward``, ``gamma``,
  ``epsilon``, ``norm_obs``, ``norm_reward``, ``format``) read with ``np.load(allow_pickle=False)``
  (`save_vecnormalize` / `load_vecnormalize`), restored onto a fresh `VecNormalize` field by field.
* **The PPO model** is rebuilt from the run's config (state.json ``config``, `ppo_kwargs`) and the env's
  spaces, as the policy class it was saved as (state.json ``model.policy``: SB3's ``MlpPolicy``, or the
  asymmetric actor-critic of ``ppo.actor_inputs: measured``, `wildrobot_gym.policy`; a state.json without
  it: the config's ``ppo.actor_inputs``, default "all", i.e. MlpPolicy), then given the weights of
  ``policy.pth`` (and, to continue training, ``policy.optimizer.pth``) read from SB3's ``model.zip`` with
  ``torch.load(weights_only=True)`` (`load_ppo`). What else rebuilds it is plain JSON: state.json
  ``model`` (`model_meta`: policy class, step and update counts, space shapes, SB3 version), else the plain fields of the zip's ``data`` JSON (its ``:serialized:`` values, pickles, are
  never decoded). SB3's own ``PPO.load`` still works on a ``model.zip`` one trusts.

Old checkpoints with ``vecnormalize.pkl`` only are refused by `wildrobot_gym.checkpoints.resolve_checkpoint`
(`LegacyCheckpointError`); ``training/export_policy.py --convert-legacy-trusted`` converts one the user trusts.
"""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any, Mapping

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import VecEnv, VecNormalize

from wildrobot_gym.atomic_io import atomic_write

VECNORM_FORMAT = 1
MODEL_FORMAT = 1
ACTIVATIONS = {"elu": torch.nn.ELU, "relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "leaky_relu": torch.nn.LeakyReLU}


class LegacyCheckpointError(ValueError):
    """A checkpoint or bundle in the old pickle format (vecnormalize.pkl): loading it would unpickle it."""


def actor_inputs(cfg: Mapping[str, Any]) -> str:
    """The config's ``ppo.actor_inputs``: "all", "measured" or "measured_symmetric" (also for a config saved
    before the key: "all")."""
    from wildrobot_gym.config.ppo import DEFAULT_ACTOR_INPUTS

    return str(cfg["ppo"].get("actor_inputs", DEFAULT_ACTOR_INPUTS))


def policy_class(inputs: str) -> Any:
    """The SB3 policy of ``ppo.actor_inputs`` `inputs`: "MlpPolicy" for "all", the asymmetric
    actor-critic (`wildrobot_gym.policy.AsymmetricActorCriticPolicy`) for "measured", its left-right
    symmetric variant (`MirrorSymmetricActorCriticPolicy`) for "measured_symmetric"."""
    from wildrobot_gym.policy import AsymmetricActorCriticPolicy, MirrorSymmetricActorCriticPolicy

    classes = {"all": "MlpPolicy", "measured": AsymmetricActorCriticPolicy,
               "measured_symmetric": MirrorSymmetricActorCriticPolicy}
    if inputs not in classes:
        raise ValueError(f"ppo.actor_inputs: expected one of {tuple(classes)}, got {inputs!r}")
    return classes[inputs]


def ppo_kwargs(cfg: Mapping[str, Any], policy: bool = False) -> dict[str, Any]:
    """PPO constructor arguments from the config's ``ppo`` section. With `policy`, also ``policy``: the
    class of ``ppo.actor_inputs`` (`policy_class`), so that ``PPO(env=venv, **ppo_kwargs(cfg, policy=True))``
    builds the config's policy; without it (callers passing "MlpPolicy" themselves) the keys are SB3's
    MlpPolicy ones, which the asymmetric policy takes too (it derives its actor's columns from the
    observation space)."""
    p = cfg["ppo"]
    out = dict(
        learning_rate=p["learning_rate"], n_steps=p["n_steps"], batch_size=p["batch_size"], n_epochs=p["n_epochs"],
        gamma=p["gamma"], gae_lambda=p["gae_lambda"], clip_range=p["clip_range"], ent_coef=p["ent_coef"],
        vf_coef=p["vf_coef"], max_grad_norm=p["max_grad_norm"], target_kl=p["target_kl"],
        policy_kwargs=dict(net_arch=dict(pi=list(p["pi_net"]), vf=list(p["vf_net"])),
                           activation_fn=ACTIVATIONS[p["activation"]], log_std_init=p["log_std_init"],
                           ortho_init=p["ortho_init"]),
    )
    if policy:
        out = {"policy": policy_class(actor_inputs(cfg)), **out}
    return out


def _read(src: Any) -> bytes:
    """Bytes of a path, or of anything with read_bytes() (a bundle member)."""
    if isinstance(src, (bytes, bytearray)):
        return bytes(src)
    if hasattr(src, "read_bytes"):
        return src.read_bytes()
    return Path(src).read_bytes()


# ---------------------------------------------------------------------------- normalisation
def save_vecnormalize(vn: VecNormalize, path: Any) -> None:
    """The statistics and settings of `vn` as plain arrays (no pickle). Reads attributes only: never
    talks to the wrapped envs (safe while a step is in flight)."""
    if isinstance(vn.obs_rms, dict):
        raise TypeError("save_vecnormalize: dict observation spaces are not supported")
    arrays = dict(
        format=np.int64(VECNORM_FORMAT),
        obs_mean=np.asarray(vn.obs_rms.mean, np.float64), obs_var=np.asarray(vn.obs_rms.var, np.float64),
        obs_count=np.float64(vn.obs_rms.count),
        ret_mean=np.asarray(vn.ret_rms.mean, np.float64), ret_var=np.asarray(vn.ret_rms.var, np.float64),
        ret_count=np.float64(vn.ret_rms.count),
        clip_obs=np.float64(vn.clip_obs), clip_reward=np.float64(vn.clip_reward), gamma=np.float64(vn.gamma),
        epsilon=np.float64(vn.epsilon), norm_obs=np.bool_(vn.norm_obs), norm_reward=np.bool_(vn.norm_reward),
    )
    if hasattr(path, "write"):
        np.savez(path, **arrays)
    else:
        atomic_write(path, lambda f: np.savez(f, **arrays))


VECNORM_KEYS = ("obs_mean", "obs_var", "obs_count", "ret_mean", "ret_var", "ret_count", "clip_obs",
                "clip_reward", "gamma", "epsilon", "norm_obs", "norm_reward")


def read_vecnormalize(src: Any) -> dict[str, np.ndarray]:
    """The arrays of a vecnormalize.npz (a path, a bundle member or bytes); ValueError naming it when it is
    not one (an object array, which would need unpickling, included)."""
    try:
        with np.load(io.BytesIO(_read(src)), allow_pickle=False) as z:
            out = {k: z[k] for k in z.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as e:
        raise ValueError(f"{src}: not a plain-array vecnormalize.npz ({e})") from None
    missing = [k for k in VECNORM_KEYS if k not in out]
    if missing:
        raise ValueError(f"{src}: not a vecnormalize.npz, missing {missing}")
    if any(v.dtype.kind not in "biuf" for v in out.values()):
        raise ValueError(f"{src}: vecnormalize.npz holds non-numeric arrays")
    return out


def load_vecnormalize(src: Any, venv: VecEnv) -> VecNormalize:
    """A `VecNormalize` around `venv` with the statistics of `src` (vecnormalize.npz: path, bundle member or
    bytes). ValueError naming `src` when its observation shape is not the env's."""
    a = read_vecnormalize(src)
    shape = venv.observation_space.shape
    if a["obs_mean"].shape != shape or a["obs_var"].shape != shape:
        raise ValueError(f"{src}: normalisation statistics for observations of shape {a['obs_mean'].shape}, "
                         f"the env's are {shape}")
    vn = VecNormalize(venv, training=False, norm_obs=bool(a["norm_obs"]), norm_reward=bool(a["norm_reward"]),
                      clip_obs=float(a["clip_obs"]), clip_reward=float(a["clip_reward"]), gamma=float(a["gamma"]),
                      epsilon=float(a["epsilon"]))
    vn.obs_rms.mean, vn.obs_rms.var, vn.obs_rms.count = a["obs_mean"].copy(), a["obs_var"].copy(), float(a["obs_count"])
    vn.ret_rms.mean, vn.ret_rms.var, vn.ret_rms.count = a["ret_mean"].copy(), a["ret_var"].copy(), float(a["ret_count"])
    vn.training = True  # as VecNormalize.load: the caller sets its mode
    return vn


# ---------------------------------------------------------------------------- the PPO model
def model_actor_inputs(model: PPO) -> str:
    """"measured_symmetric" / "measured" when `model`'s policy is the (symmetric) asymmetric actor-critic, else "all"."""
    from wildrobot_gym.policy import AsymmetricActorCriticPolicy, MirrorSymmetricActorCriticPolicy

    if isinstance(model.policy, MirrorSymmetricActorCriticPolicy):
        return "measured_symmetric"
    return "measured" if isinstance(model.policy, AsymmetricActorCriticPolicy) else "all"


def model_meta(model: PPO) -> dict[str, Any]:
    """What rebuilds `model` besides the config and the weights (state.json ``model``): plain JSON.
    ``policy``: the policy class's name (`wildrobot_gym.policy.POLICY_NAMES`), which `load_ppo` rebuilds."""
    import stable_baselines3

    from wildrobot_gym.policy import POLICY_NAMES

    return {"format": MODEL_FORMAT, "policy": POLICY_NAMES[model_actor_inputs(model)],
            "sb3_version": stable_baselines3.__version__,
            "num_timesteps": int(model.num_timesteps), "n_updates": int(model._n_updates),
            "observation_shape": list(model.observation_space.shape), "action_shape": list(model.action_space.shape)}


def saved_actor_inputs(meta: Mapping[str, Any], cfg: Mapping[str, Any], where: str) -> str:
    """The ``actor_inputs`` a checkpoint's model was saved with: its state.json ``model.policy`` (the class
    the weights come from) when recorded, else the saved config's ``ppo.actor_inputs`` (default "all": every
    model saved before the key existed is an MlpPolicy, and says so). ValueError for an unknown class."""
    from wildrobot_gym.policy import POLICY_NAMES

    if "policy" not in meta:
        return actor_inputs(cfg)
    by_name = {v: k for k, v in POLICY_NAMES.items()}
    if meta["policy"] not in by_name:
        raise ValueError(f"{where}: unknown policy class {meta['policy']!r} (known: {sorted(by_name)})")
    return by_name[meta["policy"]]


def sb3_plain_fields(zip_bytes: bytes, where: str) -> dict[str, Any]:
    """num_timesteps / _n_updates from the ``data`` JSON of an SB3 zip (plain values only; the
    ``:serialized:`` pickles are never decoded)."""
    try:
        with zipfile.ZipFile(io.BytesIO(zip_bytes)) as z:
            data = json.loads(z.read("data"))
    except (KeyError, ValueError, zipfile.BadZipFile) as e:
        raise ValueError(f"{where}: no readable SB3 'data' entry ({e})") from None
    out = {}
    for src, dst in (("num_timesteps", "num_timesteps"), ("_n_updates", "n_updates")):
        if isinstance(data.get(src), int):
            out[dst] = data[src]
    return out


def _weights(z: zipfile.ZipFile, name: str, where: str, device: str) -> Any:
    try:
        data = z.read(name)
    except KeyError:
        raise ValueError(f"{where}: no {name} in the SB3 zip") from None
    try:
        return torch.load(io.BytesIO(data), map_location=device, weights_only=True)
    except Exception as e:  # noqa: BLE001  (weights_only refuses anything but tensors and plain containers)
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(f"{where}:{name}: not a weights-only tensor file ({first})") from None


def read_sb3_weights(model_zip: Any, device: str = "cpu", optimizer: bool = False) -> dict[str, Any]:
    """{"policy": state dict, "optimizer": state dict or None} of an SB3 zip, read with weights_only."""
    where = str(model_zip)
    try:
        with zipfile.ZipFile(io.BytesIO(_read(model_zip))) as z:
            policy = _weights(z, "policy.pth", where, device)
            opt = _weights(z, "policy.optimizer.pth", where, device) if optimizer else None
    except zipfile.BadZipFile as e:
        raise ValueError(f"{where}: not a zip ({e})") from None
    if not (isinstance(policy, dict) and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in policy.items())):
        raise ValueError(f"{where}:policy.pth: not a state dict of tensors")
    if opt is not None and not (isinstance(opt, dict) and {"state", "param_groups"} <= set(opt)):
        raise ValueError(f"{where}:policy.optimizer.pth: not an optimizer state dict")
    return {"policy": policy, "optimizer": opt}


class SpacesEnv(gym.Env):
    """An env with spaces only: what PPO needs to be built for inference (never stepped)."""

    def __init__(self, observation_space: gym.Space, action_space: gym.Space) -> None:
        self.observation_space, self.action_space = observation_space, action_space

    def reset(self, *, seed=None, options=None):  # pragma: no cover - never called
        raise RuntimeError("SpacesEnv is not steppable")

    def step(self, action):  # pragma: no cover - never called
        raise RuntimeError("SpacesEnv is not steppable")


def set_policy_weights(model: PPO, ckpt: Any, optimizer: bool = True) -> None:
    """The weights (and optimizer state) of checkpoint `ckpt`'s model.zip into `model` (its step count is
    not taken). ValueError naming the file when they do not fit."""
    src = ckpt / "model.zip"
    w = read_sb3_weights(src, str(model.device), optimizer)
    try:
        model.policy.load_state_dict(w["policy"])
        if w["optimizer"] is not None:
            model.policy.optimizer.load_state_dict(w["optimizer"])
    except (RuntimeError, ValueError, KeyError) as e:
        first = str(e).strip().splitlines()[0]
        raise ValueError(f"{src}: the weights do not fit the policy of the config ({first}){_inputs_hint(model, ckpt)}") from None


def _inputs_hint(model: PPO, ckpt: Any) -> str:
    """"; ... actor_inputs ..." when `ckpt` was saved with another ``ppo.actor_inputs`` than `model` has."""
    try:
        meta = json.loads((ckpt / "state.json").read_text()).get("model") or {}
        saved = saved_actor_inputs(meta, {"ppo": {}}, "")
    except Exception:  # noqa: BLE001  (only a hint: the error above is the message)
        return ""
    mine = model_actor_inputs(model)
    return "" if saved == mine else f"; it was saved with ppo.actor_inputs: {saved}, this policy has {mine}"


def load_ppo(ckpt: Any, env: gym.Env | VecEnv | None, cfg: Mapping[str, Any], device: str = "cpu",
             resume: bool = False, seed: int | None = None, observation_space: gym.Space | None = None,
             action_space: gym.Space | None = None) -> PPO:
    """PPO of checkpoint `ckpt` (a directory or an in-memory bundle), rebuilt from `cfg` and `env`
    (or, for inference, just the spaces) and given its weights; nothing is unpickled.

    `resume`: also the optimizer state and the step / update counts, so that learning continues."""
    state = json.loads((ckpt / "state.json").read_text())
    meta = dict(state.get("model") or {})
    if env is None:
        env = SpacesEnv(observation_space, action_space)
    obs_shape, act_shape = tuple(env.observation_space.shape), tuple(env.action_space.shape)
    for key, shape in (("observation_shape", obs_shape), ("action_shape", act_shape)):
        if key in meta and tuple(meta[key]) != shape:
            raise ValueError(f"{ckpt / 'state.json'}: the policy's {key.replace('_', ' ')} is {tuple(meta[key])}, "
                             f"the env's is {shape}")
    kwargs = ppo_kwargs(cfg)
    # The class the weights were saved from (state.json model.policy; else the config's ppo.actor_inputs)
    kwargs["policy"] = policy_class(saved_actor_inputs(meta, cfg, str(ckpt / "state.json")))
    n_envs = env.num_envs if isinstance(env, VecEnv) else 1
    if not resume:  # inference / fine-tuning start: no mini-batch size warning for a 1-env build
        kwargs["batch_size"] = min(kwargs["batch_size"], kwargs["n_steps"] * n_envs)
    model = PPO(env=env, device=device, seed=seed, verbose=0, **kwargs)
    set_policy_weights(model, ckpt, optimizer=resume)
    if resume:
        if "num_timesteps" not in meta or "n_updates" not in meta:
            meta = {**sb3_plain_fields(_read(ckpt / "model.zip"), str(ckpt / "model.zip")), **meta}
        model.num_timesteps = int(meta.get("num_timesteps", state.get("num_timesteps", 0)))
        model._n_updates = int(meta.get("n_updates", 0))
    return model
