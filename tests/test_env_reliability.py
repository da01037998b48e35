"""Reliability of WildRobotWalk-v0's edges: gym.make's max_episode_steps, reset options, image size,
and the automatic MUJOCO_GL choice on headless machines."""
import ctypes.util
import json
import os
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest

import wildrobot_gym
from wildrobot_gym.env import WildRobotWalkEnv
from wildrobot_gym.gl_backend import choose_gl_backend

ENV_ID = wildrobot_gym.ENV_ID


def _steps_until_done(env, limit: int) -> tuple[int, bool]:
    """Zero actions until the episode ends (or `limit` steps): (steps taken, truncated)."""
    env.reset(seed=0)
    for i in range(1, limit + 1):
        _, _, term, trunc, _ = env.step(np.zeros(8, dtype=np.float32))
        assert not term, f"the robot fell at step {i}; the test needs it standing"
        if trunc:
            return i, True
    return limit, False


# ---------------------------------------------------------------- max_episode_steps through gym.make
def test_make_registers_default_limit():
    assert gym.spec(ENV_ID).max_episode_steps == wildrobot_gym.DEFAULT_MAX_EPISODE_STEPS == 500
    env = gym.make(ENV_ID)
    assert env.spec.max_episode_steps == 500 and env.unwrapped.max_episode_steps == 500


def test_make_max_episode_steps_longer_than_default_runs_past_500():
    env = gym.make(ENV_ID, max_episode_steps=1000, reset_noise_scale=0.0)
    assert env.spec.max_episode_steps == 1000 and env.unwrapped.max_episode_steps == 1000
    steps, truncated = _steps_until_done(env, 501)
    assert (steps, truncated) == (501, False)  # the env used to truncate itself at 500


def test_make_short_limit_truncates_exactly_there():
    env = gym.make(ENV_ID, max_episode_steps=7, reset_noise_scale=0.0)
    assert _steps_until_done(env, 20) == (7, True)
    assert env.unwrapped.max_episode_steps == 7  # the env's own limit agrees with the TimeLimit
    # Recreated from its spec (as check_env does), the env still ends at 7.
    assert _steps_until_done(gym.make(env.spec), 20) == (7, True)


@pytest.mark.parametrize("bad", [0, -5, 7.5, "10", True])
def test_make_rejects_bad_max_episode_steps(bad):
    with pytest.raises(ValueError, match="max_episode_steps"):
        gym.make(ENV_ID, max_episode_steps=bad)


def test_direct_construction_keeps_its_limit_and_validation():
    env = WildRobotWalkEnv(max_episode_steps=7, reset_noise_scale=0.0)
    assert _steps_until_done(env, 20) == (7, True)
    with pytest.raises(ValueError, match="max_episode_steps"):
        env.max_episode_steps = 0  # set_attr / wrappers cannot slip past the check either
    with pytest.raises(ValueError, match="max_episode_steps"):
        WildRobotWalkEnv(max_episode_steps=2.5)


# ---------------------------------------------------------------- reset options
@pytest.mark.parametrize("command", [float("nan"), float("inf"), "0.5", None, True, [0.5]])
def test_reset_rejects_bad_command_option(command):
    env = WildRobotWalkEnv()
    with pytest.raises(ValueError, match=r"options\['command'\].*finite number"):
        env.reset(seed=0, options={"command": command})


def test_reset_rejects_unknown_option_and_non_dict():
    env = WildRobotWalkEnv()
    with pytest.raises(ValueError, match="comand"):
        env.reset(seed=0, options={"comand": 0.5})  # a misspelling must not be ignored
    with pytest.raises(ValueError, match="options"):
        env.reset(seed=0, options=[("command", 0.5)])


def test_reset_accepts_numeric_command_types():
    env = WildRobotWalkEnv()
    for cmd in (0.3, 1, np.float32(0.7), np.int64(0)):
        _, info = env.reset(seed=0, options={"command": cmd})
        assert info["command"] == pytest.approx(float(cmd))
        _, reward, _, _, _ = env.step(np.zeros(8))
        assert np.isfinite(reward)
    env.reset(seed=0, options={})  # empty options: the drawn command
    env.reset(seed=0, options=None)


# ---------------------------------------------------------------- image size (no GL needed)
@pytest.mark.parametrize(
    "kwargs, name",
    [({"width": -1}, "width"), ({"width": 0}, "width"), ({"height": -1}, "height"), ({"width": 641}, "width"),
     ({"height": 481}, "height"), ({"width": 160.5}, "width"), ({"height": "120"}, "height")],
)
def test_bad_image_size_is_rejected_at_construction(kwargs, name):
    with pytest.raises(ValueError, match=rf"{name}: expected an integer in \[1, "):
        WildRobotWalkEnv(render_mode="rgb_array", **kwargs)


def test_largest_image_size_is_accepted():
    env = WildRobotWalkEnv(render_mode="rgb_array", width=640, height=480)  # the model's framebuffer
    assert (env._width, env._height) == (640, 480)


# ---------------------------------------------------------------- MUJOCO_GL on headless machines
def _headless_env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("MUJOCO_GL", "PYOPENGL_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY")}
    return {**env, **extra}


def _run(code: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=180)


def _available_backend() -> str:
    if not sys.platform.startswith("linux"):
        pytest.skip("the automatic MUJOCO_GL choice is for Linux only")
    for name, lib in (("egl", "EGL"), ("osmesa", "OSMesa")):
        if ctypes.util.find_library(lib):
            return name
    pytest.skip("neither libEGL nor libOSMesa is installed on this machine")


def test_choose_gl_backend_rules():
    libs = {"EGL": "libEGL.so.1", "OSMesa": "libOSMesa.so.8"}
    find = libs.get
    env = {}
    assert choose_gl_backend(env, "linux", find) == "egl" and env == {"MUJOCO_GL": "egl", "PYOPENGL_PLATFORM": "egl"}
    env = {}
    assert choose_gl_backend(env, "linux", {"OSMesa": "x"}.get) == "osmesa" and env["PYOPENGL_PLATFORM"] == "osmesa"
    env = {"PYOPENGL_PLATFORM": "osmesa"}  # the user's PyOpenGL platform decides
    assert choose_gl_backend(env, "linux", find) == "osmesa"
    for env in ({"MUJOCO_GL": "glfw"}, {"DISPLAY": ":0"}, {"WAYLAND_DISPLAY": "wayland-0"}):
        before = dict(env)
        choose_gl_backend(env, "linux", find)
        assert env == before, "an explicit MUJOCO_GL or a display must be left alone"
    env = {}
    assert choose_gl_backend(env, "linux", {}.get) is None and env == {}  # neither library: unset
    assert choose_gl_backend(env, "darwin", find) is None and env == {}

    def broken(name):
        raise OSError("ldconfig failed")

    assert choose_gl_backend(env, "linux", broken) is None and env == {}  # never crash at import


def test_import_sets_mujoco_gl_when_headless():
    expected = _available_backend()
    code = "import os, wildrobot_gym; print(os.environ.get('MUJOCO_GL'), os.environ.get('PYOPENGL_PLATFORM'))"
    out = _run(code, _headless_env())
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [expected, expected]


def test_import_keeps_users_mujoco_gl():
    # MuJoCo itself rejects "foo" at import; the point is that wildrobot_gym did not replace it.
    code = ("import os\ntry:\n    import wildrobot_gym\nexcept RuntimeError as e:\n    print('error:', e)\n"
            "print(os.environ['MUJOCO_GL'])")
    out = _run(code, _headless_env(MUJOCO_GL="foo"))
    assert out.stdout.splitlines()[-1] == "foo", out.stderr


def test_render_works_headless_without_mujoco_gl():
    backend = _available_backend()
    code = ("import json, os, gymnasium as gym, wildrobot_gym\n"
            "env = gym.make('WildRobotWalk-v0', render_mode='rgb_array', width=160, height=120)\n"
            "env.reset(seed=0)\nframe = env.render()\n"
            "print(json.dumps({'gl': os.environ.get('MUJOCO_GL'), 'shape': frame.shape, 'std': float(frame.std())}))")
    probe = _run(code, _headless_env(MUJOCO_GL=backend))  # does this backend render here at all?
    if probe.returncode != 0:
        pytest.skip(f"MUJOCO_GL={backend} cannot render on this machine: {probe.stderr.strip().splitlines()[-1:]}")
    out = _run(code, _headless_env())
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["gl"] == backend and tuple(result["shape"]) == (120, 160, 3) and result["std"] > 5
