"""Probe (docs/results/tracker.md, "Tracker v6"): `reference.generate` on a model with an elliptic friction cone and
the given impratio, to test whether the touchdown slip is the soft contact's. Patches `load_model` in this process
only, so run it with --workers 1.   python docs/results/tracker_v6/generate_impratio.py 10 --output-dir DIR --workers 1"""
import sys, wildrobot_gym.robot as R
IMPRATIO = float(sys.argv.pop(1))
_orig = R.load_model
def patched(*a, **k):
    m = _orig(*a, **k)
    m.opt.cone = 1; m.opt.impratio = IMPRATIO; print("patched model: elliptic cone, impratio", IMPRATIO, flush=True)
    return m
R.load_model = patched
import runpy
sys.argv = [sys.argv[0]] + sys.argv[1:]
runpy.run_module("reference.generate", run_name="__main__")
