"""Probe: `reference.generate` on a model whose contacts use solref (TC, 1) on every geom (stiffer than the default
0.02 s), to test whether the touchdown slide is the soft contact's time constant. --workers 1.

    python docs/results/tracker_v8/probes/generate_solref.py 0.01 --output-dir DIR --workers 1
"""
import sys, wildrobot_gym.robot as R
TC = float(sys.argv.pop(1))
_orig = R.load_model
def patched(*a, **k):
    m = _orig(*a, **k)
    m.geom_solref[:, 0] = TC; m.geom_solref[:, 1] = 1.0
    return m
R.load_model = patched
import runpy
sys.argv = [sys.argv[0]] + sys.argv[1:]
runpy.run_module("reference.generate", run_name="__main__")
