"""`BatchedSubprocVecEnv`: N worker processes, each stepping a batch of M envs in-process.

SB3's `SubprocVecEnv` runs one process per env and pays one pipe round trip (and one pickled info
dict) per env per step. Here a worker owns M envs, so one step of the whole batch costs one round trip
per worker, and the per-step infos are slimmed: only the keys that matter at episode end
(`KEEP_INFO_KEYS`: the episode summary, success flag, fall reason) plus SB3's ``terminal_observation``
and ``TimeLimit.truncated`` cross the pipe. Everything else in the per-step info (arrays of forces,
torques...) stays in the worker; aggregate it there (e.g. `wildrobot_gym.wrappers.PhaseRewardWrapper`'s
``episode_stats``).

Semantics follow SB3's VecEnvs: auto-reset on done, the last observation of an episode in
``info["terminal_observation"]``, ``TimeLimit.truncated`` set when the episode was truncated, seeds and
options applied at the next `reset()`, `env_method` / `get_attr` / `set_attr` with indices.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
from multiprocessing.connection import Connection
from typing import Any, Callable, Iterable, Sequence

import gymnasium as gym
import numpy as np
from stable_baselines3.common.vec_env.base_vec_env import CloudpickleWrapper, VecEnv, VecEnvIndices

KEEP_INFO_KEYS: tuple[str, ...] = ("episode", "episode_stats", "is_success", "fall_reason")


def _slim(info: dict, keep: Sequence[str]) -> dict:
    return {k: info[k] for k in keep if k in info}


def _worker(remote: Connection, parent_remote: Connection, env_fns: CloudpickleWrapper,
            keep: tuple[str, ...]) -> None:
    """Owns a batch of envs; answers one command per message (see BatchedSubprocVecEnv)."""
    parent_remote.close()
    # Ctrl-C is the trainer's to handle (it saves a checkpoint, then closes us).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    envs: list[gym.Env] = [fn() for fn in env_fns.var]
    n = len(envs)
    obs_dim = envs[0].observation_space.shape
    obs_buf = np.zeros((n, *obs_dim), dtype=envs[0].observation_space.dtype)
    try:
        while True:
            cmd, data = remote.recv()
            if cmd == "step":
                rews = np.zeros(n, dtype=np.float32)
                dones = np.zeros(n, dtype=bool)
                infos: list[dict] = []
                reset_infos: list[dict] = [{} for _ in range(n)]
                for i, env in enumerate(envs):
                    obs, rew, term, trunc, info = env.step(data[i])
                    out = _slim(info, keep)
                    done = term or trunc
                    # As SB3: TimeLimit.truncated only when the episode did not also terminate.
                    out["TimeLimit.truncated"] = trunc and not term
                    if done:
                        out["terminal_observation"] = obs
                        obs, r_info = env.reset()
                        reset_infos[i] = _slim(r_info, keep)
                    obs_buf[i] = obs
                    rews[i] = rew
                    dones[i] = done
                    infos.append(out)
                remote.send((obs_buf, rews, dones, infos, reset_infos))
            elif cmd == "reset":
                seeds, options = data
                r_infos = []
                for i, env in enumerate(envs):
                    kwargs: dict[str, Any] = {"seed": seeds[i]}
                    if options[i]:
                        kwargs["options"] = options[i]
                    obs_buf[i], r_info = env.reset(**kwargs)
                    r_infos.append(_slim(r_info, keep))
                remote.send((obs_buf, r_infos))
            elif cmd == "env_method":
                idx, name, args, kwargs = data
                remote.send([getattr(envs[i], name)(*args, **kwargs) for i in idx])
            elif cmd == "get_attr":
                idx, name = data
                remote.send([getattr(envs[i], name) for i in idx])
            elif cmd == "set_attr":
                idx, name, value = data
                for i in idx:
                    setattr(envs[i], name, value)
                remote.send(None)
            elif cmd == "is_wrapped":
                from stable_baselines3.common.env_util import is_wrapped

                idx, cls = data
                remote.send([is_wrapped(envs[i], cls) for i in idx])
            elif cmd == "spaces":
                remote.send((envs[0].observation_space, envs[0].action_space, n))
            elif cmd == "close":
                break
            else:
                raise NotImplementedError(f"unknown command {cmd!r}")
    except (KeyboardInterrupt, EOFError, BrokenPipeError):
        pass  # the parent handles Ctrl-C and closes us
    finally:
        for env in envs:
            env.close()
        remote.close()


def _drain(remote: Connection, deadline: float) -> None:
    """Discard what `remote` sends until EOF (the worker has exited) or `deadline` (time.monotonic()).
    Raw reads, no unpickling: the stream may start in the middle of a message."""
    while True:
        left = deadline - time.monotonic()
        try:
            if left <= 0 or not remote.poll(left) or not os.read(remote.fileno(), 1 << 20):
                return
        except OSError:
            return


class BatchedSubprocVecEnv(VecEnv):
    """``len(env_fns)`` envs split over ``n_workers`` processes (contiguous blocks, as even as possible).

    :param env_fns: one env factory per env
    :param n_workers: worker processes (usually the number of CPU cores)
    :param start_method: multiprocessing start method; "forkserver" (SB3's default) is safe with torch
    :param keep_info_keys: per-step info keys sent back to the trainer (others stay in the worker)
    """

    def __init__(self, env_fns: Sequence[Callable[[], gym.Env]], n_workers: int = 2,
                 start_method: str = "forkserver", keep_info_keys: Sequence[str] = KEEP_INFO_KEYS) -> None:
        n_envs = len(env_fns)
        if n_envs < 1:
            raise ValueError("env_fns: expected at least one env factory")
        n_workers = max(1, min(int(n_workers), n_envs))
        bounds = np.linspace(0, n_envs, n_workers + 1).round().astype(int)
        self._blocks = [list(range(bounds[w], bounds[w + 1])) for w in range(n_workers)]
        self._owner = [(w, j) for w, block in enumerate(self._blocks) for j in range(len(block))]
        ctx = mp.get_context(start_method)
        self.remotes, self.processes = [], []
        keep = tuple(keep_info_keys)
        for block in self._blocks:
            parent, child = ctx.Pipe()
            fns = CloudpickleWrapper([env_fns[i] for i in block])
            p = ctx.Process(target=_worker, args=(child, parent, fns, keep), daemon=True)
            p.start()
            child.close()
            self.remotes.append(parent)
            self.processes.append(p)
        # _pending[w]: worker w owes us a reply. An interrupt (Ctrl-C, SIGTERM) can land between two
        # workers' replies or inside one recv; close() reads this instead of trusting `waiting`.
        self._pending = [False] * len(self.remotes)
        self.waiting = False
        self.closed = False
        self._send(0, ("spaces", None))
        obs_space, act_space, _ = self._recv(0)
        super().__init__(n_envs, obs_space, act_space)

    # ------------------------------------------------------------------ pipe protocol
    def _send(self, w: int, msg: tuple) -> None:
        self._pending[w] = True  # before the send: an interrupted send leaves a torn stream too
        self.remotes[w].send(msg)

    def _recv(self, w: int) -> Any:
        out = self.remotes[w].recv()
        self._pending[w] = False
        return out

    def _check_idle(self, what: str) -> None:
        """Refuse to talk to the workers while replies are owed (a step in flight, or one torn by an
        interrupt): the next recv would read the wrong reply, or block forever."""
        if self.closed:
            raise RuntimeError(f"BatchedSubprocVecEnv.{what}: the VecEnv is closed")
        if any(self._pending):
            raise RuntimeError(f"BatchedSubprocVecEnv.{what}: a step is in flight (step_async without "
                               "step_wait, or one interrupted); only close() is allowed now")

    # ------------------------------------------------------------------ stepping
    def step_async(self, actions: np.ndarray) -> None:
        self._check_idle("step_async")
        for w, block in enumerate(self._blocks):
            self._send(w, ("step", actions[block[0]: block[-1] + 1]))
        self.waiting = True

    def step_wait(self):
        results = [self._recv(w) for w in range(len(self.remotes))]
        self.waiting = False
        obs = np.concatenate([r[0] for r in results])
        rews = np.concatenate([r[1] for r in results])
        dones = np.concatenate([r[2] for r in results])
        infos = [info for r in results for info in r[3]]
        self.reset_infos = [info for r in results for info in r[4]]
        return obs, rews, dones, infos

    def reset(self):
        self._check_idle("reset")
        for w, block in enumerate(self._blocks):
            self._send(w, ("reset", ([self._seeds[i] for i in block], [self._options[i] for i in block])))
        results = [self._recv(w) for w in range(len(self.remotes))]
        self.reset_infos = [info for r in results for info in r[1]]
        self._reset_seeds()
        self._reset_options()
        return np.concatenate([r[0] for r in results])

    def close(self, timeout: float = 5.0) -> None:
        """Stop the workers; returns within about `timeout` + 2 s whatever state the pipes are in.

        Never `recv()`s: after an interrupt inside `step_wait` a reply may have been consumed already
        (a blocking recv would then wait forever: the old hang) or half read (the rest is not a
        message). "close" goes out first; then owed replies are drained as raw bytes until EOF, so a
        worker blocked sending a large reply gets to read "close". A worker still alive at the
        deadline is terminated, then killed."""
        if self.closed:
            return
        self.closed = True
        deadline = time.monotonic() + timeout
        for remote in self.remotes:
            try:
                remote.send(("close", None))
            except OSError:  # BrokenPipeError included: the worker is gone already
                pass
        for w, remote in enumerate(self.remotes):
            if self._pending[w]:
                _drain(remote, deadline)
        for p in self.processes:
            p.join(timeout=max(deadline - time.monotonic(), 0.1))
        for p in self.processes:
            if p.is_alive():
                p.terminate()
                p.join(timeout=1)
            if p.is_alive():
                p.kill()
                p.join(timeout=1)
        for remote in self.remotes:
            remote.close()
        self.waiting = False
        self._pending = [False] * len(self.remotes)

    # ------------------------------------------------------------------ per-env access
    def _by_worker(self, indices: VecEnvIndices) -> dict[int, list[int]]:
        out: dict[int, list[int]] = {}
        for i in self._get_indices(indices):
            w, j = self._owner[i]
            out.setdefault(w, []).append(j)
        return out

    def _call(self, cmd: str, indices: VecEnvIndices, *payload: Any) -> list[Any]:
        self._check_idle(cmd)
        groups = self._by_worker(indices)
        for w, local in groups.items():
            self._send(w, (cmd, (local, *payload)))
        out: list[Any] = []
        for w in groups:
            res = self._recv(w)
            if res is not None:
                out.extend(res)
        return out

    def env_method(self, method_name: str, *method_args, indices: VecEnvIndices = None, **method_kwargs) -> list[Any]:
        return self._call("env_method", indices, method_name, method_args, method_kwargs)

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        return self._call("get_attr", indices, attr_name)

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        self._call("set_attr", indices, attr_name, value)

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None) -> list[bool]:
        return self._call("is_wrapped", indices, wrapper_class)

    def get_images(self) -> Sequence[np.ndarray | None]:
        return self.env_method("render")

    def _get_indices(self, indices: VecEnvIndices) -> Iterable[int]:
        if indices is None:
            return range(self.num_envs)
        if isinstance(indices, int):
            return [indices]
        return list(indices)
