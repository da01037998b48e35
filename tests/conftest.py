import os

# Offscreen rendering backend for MuJoCo; tests that render skip when it is missing.
os.environ.setdefault("MUJOCO_GL", "egl")
