"""`AMPTrainer`: imitation's AdversarialTrainer with the AMP discriminator, loss, samples, reward and
schedules (the Phase 3 training loop)."""
from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch as th
import tqdm
from imitation.algorithms.adversarial import common as adv_common
from imitation.data import rollout as im_rollout
from imitation.rewards import reward_nets
from imitation.util import networks
from stable_baselines3.common import base_class
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.vec_env import VecEnv

from wildrobot_gym.amp.config import AMPConfig
from wildrobot_gym.amp.discriminator import AMPDiscriminatorNet, AMPStyleRewardNet, make_discriminator
from wildrobot_gym.amp.losses import discriminator_update
from wildrobot_gym.amp.observation import StripAMPFeatures
from wildrobot_gym.amp.reference import PolicyReplay, ReferenceSampler, mix_policy_samples
from wildrobot_gym.amp.reward import AMPRewardVecEnvWrapper
from wildrobot_gym.amp.schedules import (AMPWeightRamp, FeatureSchedule, GlobalProgressSchedule, StepClock,
                                         _ClockCallback)
from wildrobot_gym.amp_features import LAYOUT


def check_feature_version(amp_state: Mapping[str, Any], source: str) -> None:
    """Raise ValueError (naming `source`) when a saved AMP state's discriminator reads another feature layout
    than this code computes. States saved before the key existed are wr-amp-1's."""
    version = str(amp_state.get("feature_version", "wr-amp-1"))
    if version != LAYOUT.version:
        raise ValueError(f"{source}: its discriminator reads AMP features {version!r}, this code computes "
                         f"{LAYOUT.version!r} (wildrobot_gym/amp_features.py); train Phase 3 again to get one")


class AMPTrainer(adv_common.AdversarialTrainer):
    """imitation's AdversarialTrainer with the AMP discriminator, loss and reward.

    `venv` must produce [policy obs | AMP features] observations (`AMPFeatureObservation` in every
    env); the trainer builds the stack of the package docstring (`wildrobot_gym.amp`) and points
    `gen_algo` (a PPO made on the policy-only observation space) at its top. Differences from imitation's GAIL:

    * loss: least squares + gradient penalty + input noise (`discriminator_update`), not BCE;
    * real samples: `ReferenceSampler` (weighted, motion-id constraint, mirroring), not a data loader;
    * fake samples: the latest rollout mixed with `PolicyReplay` (old samples);
    * reward: task reward kept (`AMPRewardVecEnvWrapper`), style weight ramped by `AMPWeightRamp`;
    * features masked by `FeatureSchedule`; schedules (AMP weight, features, and PPO's learning rate
      / clip range via `GlobalProgressSchedule`) follow the global step count;
    * episodes may end early (falls): allow_variable_horizon=True;
    * extra SB3 callbacks go in `gen_callbacks` (or `add_gen_callback`): they are chained into
      ``self.gen_callback``, which imitation passes to every ``learn()``; never pass ``callback`` in
      learn_kwargs. Each round is one learn() call, so callbacks see on_training_start/end per round.
    """

    def __init__(
        self,
        *,
        venv: VecEnv,
        gen_algo: base_class.BaseAlgorithm,
        reference: ReferenceSampler,
        config: AMPConfig = AMPConfig(),
        policy_obs_dim: int | None = None,
        reward_net: AMPDiscriminatorNet | None = None,
        policy_venv_fn: Callable[[VecEnv], VecEnv] | None = None,
        gen_callbacks: Sequence[BaseCallback] = (),
        gen_train_timesteps: int | None = None,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        """
        Args:
            venv: VecEnv of `AMPFeatureObservation`-wrapped envs.
            gen_algo: the generator (PPO), built on the policy-only observation space.
            reference: real (s, s') feature blocks; its history_frames must be the config's
                (``discriminator.history_frames``), as must the envs' (`AMPFeatureObservation`).
            config: configs/amp.yaml.
            policy_obs_dim: split point of the observation (default: obs dim - history_frames x LAYOUT.dim).
            reward_net: a discriminator (default: `make_discriminator` from the config).
            policy_venv_fn: wraps the policy-side VecEnv (e.g. VecNormalize) before PPO sees it.
            gen_callbacks: SB3 callbacks run inside every round's learn().
            gen_train_timesteps: env steps per round (default n_envs * n_steps: one PPO update).
            seed: RNG seed of the sample mixing.
            kwargs: passed to imitation's AdversarialTrainer (custom_logger, log_dir, ...).
        """
        obs_dim = int(venv.observation_space.shape[0])
        dcfg = config.discriminator
        self.feature_dim = dcfg.history_frames * LAYOUT.dim  # the observation's feature block
        self.policy_obs_dim = int(policy_obs_dim if policy_obs_dim is not None else obs_dim - self.feature_dim)
        if self.policy_obs_dim < 0 or obs_dim != self.policy_obs_dim + self.feature_dim:
            raise ValueError(f"AMPTrainer: observations have {obs_dim} columns, expected policy_obs_dim + "
                             f"{dcfg.history_frames} x {LAYOUT.dim} feature columns (discriminator.history_frames "
                             f"{dcfg.history_frames}: build the envs with the same history_frames)")
        if getattr(reference, "history_frames", 1) != dcfg.history_frames:
            raise ValueError(f"AMPTrainer: the reference sampler has history_frames {reference.history_frames}, "
                             f"discriminator.history_frames is {dcfg.history_frames}")
        self.amp_config = config
        self.feature_schedule = FeatureSchedule.from_config(config.features)
        if reward_net is None:
            reward_net = make_discriminator(venv.observation_space, venv.action_space, dcfg, self.policy_obs_dim,
                                            self.feature_schedule.drop)
        else:
            reward_net.set_drop(self.feature_schedule.drop)
        self._style_net = AMPStyleRewardNet(reward_net)
        self.reference = reference
        self.ramp = AMPWeightRamp(config.ramp)
        self.clock = StepClock()
        self.replay = PolicyReplay(config.replay.capacity, self.feature_dim)
        self._fresh: tuple[np.ndarray, np.ndarray] | None = None
        self._rng = np.random.default_rng(seed)
        self.last_metrics: dict[str, float] = {}
        self.pretrain_metrics: dict[str, float] = {}
        self._round_metrics: list[dict[str, float]] = []
        if gen_train_timesteps is None:
            n_steps = getattr(gen_algo, "n_steps", 1)
            gen_train_timesteps = venv.num_envs * int(n_steps)

        # imitation's __init__ ends with gen_algo.set_env(its reward wrapper), whose observation
        # space is [policy obs | features], which the policy cannot accept. Build the base parts in the
        # "ground truth" branch (no reward wrapper, no reset), with set_env held back; then the AMP stack.
        gen_algo.set_env = lambda *a, **k: None  # type: ignore[method-assign]
        try:
            super().__init__(
                demonstrations=None,
                demo_batch_size=dcfg.batch_size,
                venv=venv,
                gen_algo=gen_algo,
                reward_net=reward_net,
                n_disc_updates_per_round=dcfg.updates_per_round,
                disc_opt_cls=th.optim.Adam,
                disc_opt_kwargs={"lr": dcfg.learning_rate, "weight_decay": dcfg.weight_decay},
                gen_train_timesteps=gen_train_timesteps,
                debug_use_ground_truth=True,
                allow_variable_horizon=True,
                **kwargs,
            )
        finally:
            del gen_algo.set_env  # back to the class's method
        self.debug_use_ground_truth = False
        rc = config.reward
        self.reward_wrapper = AMPRewardVecEnvWrapper(
            self.venv_buffering, self.reward_train.predict_processed, task_weight=rc.task_weight,
            style_weight=rc.style_weight, amp_weight=self.ramp.weight, style_scale=rc.style_scale,
        )
        self.venv_wrapped = self.reward_wrapper
        self.venv_policy = StripAMPFeatures(self.reward_wrapper, self.policy_obs_dim)
        self.venv_train = policy_venv_fn(self.venv_policy) if policy_venv_fn else self.venv_policy
        self.gen_algo.set_env(self.venv_train)
        self._clock_cb = _ClockCallback(self.clock, config.features.fall_window)
        self._user_callbacks: list[BaseCallback] = list(gen_callbacks)
        self._rebuild_callback()

    # ------------------------------------------------------------------ imitation hooks
    @property
    def reward_train(self) -> reward_nets.RewardNet:
        return self._style_net

    @property
    def reward_test(self) -> reward_nets.RewardNet:
        return self._style_net

    @property
    def discriminator(self) -> AMPDiscriminatorNet:
        return self._reward_net  # type: ignore[return-value]

    def logits_expert_is_high(self, state, action, next_state, done, log_policy_act_prob=None) -> th.Tensor:
        del log_policy_act_prob
        return self._reward_net(state, action, next_state, done)

    def _get_log_policy_act_prob(self, obs_th: th.Tensor, acts_th: th.Tensor) -> None:
        # AMP needs no log pi(a|s); imitation's version would feed [obs | features] to the policy.
        return None

    def _rebuild_callback(self) -> None:
        self.gen_callback = CallbackList([self.reward_wrapper.make_log_callback(), self._clock_cb, *self._user_callbacks])

    def add_gen_callback(self, callback: BaseCallback) -> None:
        """Run `callback` inside every round's learn() (the way to add SB3 callbacks here)."""
        self._user_callbacks.append(callback)
        self._rebuild_callback()

    def _obs_rows(self, feats: np.ndarray) -> np.ndarray:
        """Observations [zeros | features]: the discriminator reads only the feature columns."""
        obs = np.zeros((len(feats), self.venv.observation_space.shape[0]), dtype=np.float32)
        obs[:, self.policy_obs_dim:self.policy_obs_dim + self.feature_dim] = feats
        return obs

    def _as_transitions(self, s: np.ndarray, s2: np.ndarray) -> dict[str, np.ndarray]:
        n = len(s)
        return {
            "obs": self._obs_rows(s),
            "acts": np.zeros((n, *self.venv.action_space.shape), dtype=np.float32),
            "next_obs": self._obs_rows(s2),
            "dones": np.zeros(n, dtype=bool),
        }

    def _next_expert_batch(self) -> Mapping:
        s, s2, _ = self.reference.sample(self.demo_batch_size)
        return self._as_transitions(s, s2)

    def policy_batch(self, n: int) -> dict[str, np.ndarray]:
        """n policy transitions: fresh (latest round) mixed with the replay (`mix_policy_samples`)."""
        if self._fresh is None:
            raise RuntimeError("no policy samples yet: call train_gen() first")
        s, s2 = mix_policy_samples(self._fresh, self.replay, n, self.amp_config.replay.fresh_fraction, self._rng)
        return self._as_transitions(s, s2)

    # ------------------------------------------------------------------ training
    def train_gen(self, total_timesteps: int | None = None, learn_kwargs: Mapping | None = None) -> None:
        """imitation's train_gen (one learn() with ``self.gen_callback``, then the recorded
        transitions into the generator buffer), plus the fresh / old split of the policy samples."""
        learn_kwargs = dict(learn_kwargs or {})
        if "callback" in learn_kwargs:
            raise ValueError("pass callbacks with gen_callbacks / add_gen_callback, not learn_kwargs")
        if self._fresh is not None:  # last round's fresh samples become old ones
            self.replay.add(*self._fresh)
        with self.logger.accumulate_means("gen"):
            self.gen_algo.learn(
                total_timesteps=total_timesteps or self.gen_train_timesteps,
                reset_num_timesteps=False,
                callback=self.gen_callback,
                **learn_kwargs,
            )
            self._global_step += 1
        trajs, ep_lens = self.venv_buffering.pop_trajectories()
        self._check_fixed_horizon(ep_lens)
        samples = im_rollout.flatten_trajectories_with_rew(trajs)
        self._gen_replay_buffer.store(samples)
        sl = slice(self.policy_obs_dim, self.policy_obs_dim + self.feature_dim)
        self._fresh = (np.asarray(samples.obs[:, sl], np.float32), np.asarray(samples.next_obs[:, sl], np.float32))

    def train_disc(self, *, expert_samples: Mapping | None = None, gen_samples: Mapping | None = None) -> dict[str, float]:
        """One AMP discriminator update (LSQ + GP + noise) on a real batch and a mixed policy batch."""
        dcfg = self.amp_config.discriminator
        if expert_samples is None:
            expert_samples = self._next_expert_batch()
        if gen_samples is None:
            gen_samples = self.policy_batch(self.demo_batch_size)
        n = self.demo_batch_size
        # imitation's batching: expert rows first, then generator rows, through reward_net.preprocess.
        (batch,) = list(self._make_disc_train_batches(gen_samples=gen_samples, expert_samples=expert_samples))
        st, nx = batch["state"], batch["next_state"]
        with th.enable_grad():
            m = discriminator_update(
                self.discriminator, self._disc_opt, st[:n], nx[:n], st[n:], nx[n:],
                grad_penalty_weight=dcfg.grad_penalty_weight, input_noise_std=dcfg.input_noise_std,
                saturation=self.amp_config.ramp.max_abs_logit, min_style_reward=dcfg.min_style_reward,
            )
        self._disc_step += 1
        self._round_metrics.append(m)
        return m

    def pretrain_discriminator(self, s: np.ndarray, s2: np.ndarray, updates: int) -> dict[str, float]:
        """Offline discriminator training before the first round: `updates` x `train_disc` on reference
        batches against (s, s') feature blocks of the starting policy (`s`, `s2`); the pairs then seed
        the policy replay. Returns the mean metrics of the updates (also in ``pretrain_metrics``)."""
        s, s2 = np.asarray(s, np.float32), np.asarray(s2, np.float32)
        if len(s) == 0 or len(s) != len(s2):
            raise ValueError(f"pretrain_discriminator: need matching non-empty pairs, got {len(s)} and {len(s2)}")
        done: list[dict[str, float]] = []
        for _ in range(int(updates)):
            i = self._rng.integers(0, len(s), size=self.demo_batch_size)
            done.append(self.train_disc(gen_samples=self._as_transitions(s[i], s2[i])))
        self._round_metrics = []  # pretraining is not part of the first round's averages
        self.replay.add(s, s2)
        self.pretrain_metrics = {k: float(np.mean([m[k] for m in done])) for k in done[0]} if done else {}
        return self.pretrain_metrics

    def _end_of_round(self) -> dict[str, float]:
        """Average the round's discriminator metrics, advance the ramp and the feature schedule, log."""
        if self._round_metrics:
            keys = self._round_metrics[0].keys()
            m = {k: float(np.mean([r[k] for r in self._round_metrics])) for k in keys}
        else:
            m = dict(self.last_metrics)
        self._round_metrics = []
        step = self.clock.steps
        m["amp/amp_weight"] = self.ramp.update(step, m.get("amp/auc", float("nan")), m.get("amp/max_abs_logit", float("inf")))
        m["amp/ramp_gate_open"] = float(self.ramp.gate_open)
        self.reward_wrapper.amp_weight = self.ramp.weight
        fall = self._clock_cb.fall_rate()
        m["amp/feature_stage"] = float(self.feature_schedule.update(step, fall))
        self.discriminator.set_drop(self.feature_schedule.drop)
        m["amp/fall_rate"] = float("nan") if fall is None else fall
        m["amp/global_step"] = float(step)
        m.update(self.reward_wrapper.pop_style_stats())
        for k, v in m.items():
            self.logger.record(k, v)
        self.last_metrics = m
        return m

    def train(self, total_timesteps: int, callback: Callable[[int], None] | None = None,
              progress_bar: bool = True) -> dict[str, float]:
        """imitation's round loop (train_gen, updates_per_round x train_disc, callback, dump) with the
        AMP schedules; PPO's learning-rate / clip-range schedules see the progress of this whole call.
        The loop is imitation's, written out here so that `progress_bar` can switch its round bar off
        (train_ppo.py --no-progress-bar). Returns the last round's metrics."""
        n_rounds = int(total_timesteps) // self.gen_train_timesteps
        if n_rounds < 1:
            raise ValueError(f"AMPTrainer.train: total_timesteps {total_timesteps} is less than one round "
                             f"({self.gen_train_timesteps} env steps)")
        self.clock.total = self.clock.steps + int(total_timesteps)
        algo = self.gen_algo
        saved = {name: getattr(algo, name) for name in ("lr_schedule", "clip_range", "clip_range_vf")
                 if callable(getattr(algo, name, None))}
        for name, sched in saved.items():
            setattr(algo, name, GlobalProgressSchedule(sched, self.clock))
        try:
            for r in tqdm.tqdm(range(n_rounds), desc="round", disable=not progress_bar):
                self.train_gen(self.gen_train_timesteps)
                for _ in range(self.n_disc_updates_per_round):
                    with networks.training(self.reward_train):
                        self.train_disc()
                self._end_of_round()
                if callback is not None:
                    callback(r)
                self.logger.dump(self._global_step)
        finally:
            for name, sched in saved.items():  # the saved model keeps plain schedules
                setattr(algo, name, sched)
        return self.last_metrics

    # ------------------------------------------------------------------ state
    def amp_state_dict(self) -> dict[str, Any]:
        """What a checkpoint needs to resume AMP: discriminator, its optimiser, schedules, clock."""
        return {
            "discriminator": self.discriminator.state_dict(),
            "optimizer": self._disc_opt.state_dict(),
            "ramp": self.ramp.state_dict(),
            "feature_schedule": self.feature_schedule.state_dict(),
            "clock_steps": self.clock.steps,
            "feature_version": LAYOUT.version,
        }

    def load_amp_state_dict(self, d: Mapping[str, Any]) -> None:
        check_feature_version(d, "the AMP state")
        self.discriminator.load_state_dict(d["discriminator"])
        self._disc_opt.load_state_dict(d["optimizer"])
        self.ramp.load_state_dict(d["ramp"])
        self.feature_schedule.load_state_dict(d["feature_schedule"])
        self.discriminator.set_drop(self.feature_schedule.drop)
        self.clock.steps = int(d["clock_steps"])
        self._clock_cb.start_timesteps = None if self.clock.steps == 0 else self.gen_algo.num_timesteps - self.clock.steps
        self.reward_wrapper.amp_weight = self.ramp.weight
