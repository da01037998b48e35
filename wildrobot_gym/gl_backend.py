"""Pick MuJoCo's offscreen OpenGL backend on headless Linux machines.

MuJoCo chooses its OpenGL backend from ``MUJOCO_GL`` once, when ``mujoco`` is imported; unset, it
uses GLFW, which needs a display, so ``render()`` (and Gymnasium's ``check_env``) die with a
``FatalError`` on a headless machine. `choose_gl_backend` runs from ``wildrobot_gym/__init__.py``
before anything imports mujoco and, on Linux without a display, sets ``MUJOCO_GL`` (and
``PYOPENGL_PLATFORM``, which MuJoCo's EGL / OSMesa modules require to match) to EGL when its library
is installed, else OSMesa. A ``MUJOCO_GL`` the user set always wins; with neither library nothing is
set (rendering then raises its own error). This module must not import mujoco.
"""
from __future__ import annotations

import ctypes.util
import os
import sys
from typing import Callable, MutableMapping

#: backend name -> the shared library it loads, in order of preference (EGL: GPU or Mesa, fast).
BACKENDS = {"egl": "EGL", "osmesa": "OSMesa"}


def has_display(environ: MutableMapping[str, str]) -> bool:
    return bool(environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"))


def choose_gl_backend(
    environ: MutableMapping[str, str] = os.environ,
    platform: str = sys.platform,
    find_library: Callable[[str], str | None] = ctypes.util.find_library,
) -> str | None:
    """Set ``MUJOCO_GL`` for a headless Linux machine if it is unset; return the backend in effect (or None)."""
    if environ.get("MUJOCO_GL"):
        return environ["MUJOCO_GL"]
    if not platform.startswith("linux") or has_display(environ):
        return None  # GLFW works with a display; macOS and Windows render without one
    # A PYOPENGL_PLATFORM the user set decides which backend can work (MuJoCo refuses a mismatch).
    wanted = environ.get("PYOPENGL_PLATFORM", "").lower()
    candidates = [wanted] if wanted else list(BACKENDS)
    for name in candidates:
        if name in BACKENDS and _library_found(BACKENDS[name], find_library):
            environ["MUJOCO_GL"] = name
            environ["PYOPENGL_PLATFORM"] = name
            return name
    return None


def _library_found(name: str, find_library: Callable[[str], str | None]) -> bool:
    # A cheap probe (no GL context is made); never let it break `import wildrobot_gym`.
    try:
        return find_library(name) is not None
    except Exception:  # noqa: BLE001 - e.g. ldconfig missing or failing
        return False
