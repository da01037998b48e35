"""The ``ppo:`` (SB3 PPO hyperparameters, policy network) and ``training:`` (the run) sections."""
from __future__ import annotations

from typing import Annotated, Optional

from pydantic import StringConstraints

from .base import Section
from .values import Finite, Flag, NonNeg, PosInt, Positive, Text, expect, integer, items, number, one_of

#: Policy activations (training/common.py ACTIVATIONS maps them to torch modules).
ACTIVATIONS = ("elu", "relu", "tanh", "leaky_relu")
#: multiprocessing start methods (the worker processes of wildrobot_gym.vec_env).
START_METHODS = ("fork", "spawn", "forkserver")
#: How the training envs are stepped (training/common.py make_vec_env): "batched" all in this process on
#: MuJoCo's batch API (wildrobot_gym.batch_env), "subprocess" in n_workers worker processes
#: (wildrobot_gym.vec_env), "dummy" one by one in this process (the three step alike: tests/test_batch_env.py).
VEC_ENVS = ("batched", "subprocess", "dummy")
DEFAULT_VEC_ENV = "batched"
#: torch devices SB3 accepts here: "auto" picks cuda when there is one.
DEVICE_PATTERN = r"cpu|cuda|cuda:\d+|auto|mps"
#: What the actor (policy) network sees (wildrobot_gym.policy): "all" the whole observation (SB3's MlpPolicy,
#: privileged entries included), "measured" only the entries the robot measures (OBS_LAYOUT's non-privileged
#: ones), the critic still seeing all of them (asymmetric actor-critic; the ONNX export then takes only them);
#: "measured_symmetric" the same with a left-right symmetric actor (wildrobot_gym.policy.MirrorSymmetricActorCriticPolicy).
ACTOR_INPUTS = ("all", "measured", "measured_symmetric")
#: A config without ``actor_inputs``: every run and policy saved before the key existed was trained so.
DEFAULT_ACTOR_INPUTS = "all"

_Discount = number(gt=0, le=1)  # gamma, lambda: 0 would ignore the future entirely


class PPOSection(Section):
    """Stable-Baselines3 PPO arguments and the actor / critic MLPs (training/common.py ppo_kwargs)."""

    learning_rate: Positive
    n_steps: PosInt                 # rollout steps per env; n_steps * training.n_envs samples per update
    # SB3 normalises advantages per minibatch: a minibatch of 1 has no std (NaN loss)
    batch_size: integer("a positive integer >= 2", ge=2)
    n_epochs: PosInt
    gamma: _Discount
    gae_lambda: _Discount
    clip_range: Positive
    ent_coef: NonNeg
    vf_coef: NonNeg
    max_grad_norm: Positive
    target_kl: Optional[Positive]   # null: no early stop
    pi_net: items(PosInt, "a non-empty list of positive integers")
    vf_net: items(PosInt, "a non-empty list of positive integers")
    activation: one_of(*ACTIVATIONS)
    log_std_init: Finite
    ortho_init: Flag
    # measured: asymmetric actor-critic, a policy the robot can run; absent (older runs): "all"
    actor_inputs: one_of(*ACTOR_INPUTS) = DEFAULT_ACTOR_INPUTS


class TrainingSection(Section):
    """Run length, vectorisation, normalisation, checkpoints and where the run goes."""

    total_timesteps: PosInt
    n_envs: PosInt
    vec_env: one_of(*VEC_ENVS) = DEFAULT_VEC_ENV  # absent in runs saved before it existed: they ran "subprocess"
    # batched: physics threads (0: one per core); subprocess: worker processes (0: "dummy")
    n_workers: integer("an integer >= 0 (0: all envs in this process)", ge=0)
    seed: integer(ge=0, le=2**32 - 1)  # numpy's seed range
    logdir: Text
    checkpoint_interval: PosInt       # env steps between checkpoints
    norm_obs: Flag
    norm_reward: Flag
    clip_obs: Positive
    torch_threads: integer("an integer >= 0 (0: torch's default)", ge=0)
    start_method: one_of(*START_METHODS)
    device: Annotated[str, StringConstraints(strict=True, pattern=rf"^(?:{DEVICE_PATTERN})$"),
                      expect("cpu, cuda, cuda:N, auto or mps")]
