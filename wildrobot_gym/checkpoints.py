"""Training checkpoints on disk: the one definition of their layout, shared by training and reference.

A checkpoint is a directory ``<logdir>/checkpoints/step_<N>/`` holding ``model.zip`` (the SB3 PPO
model: ``PPO.load`` works on it for those who trust it), ``vecnormalize.npz`` (observation/reward
normalisation statistics, plain arrays), ``state.json`` (step count, phase, the run's config, ``model``:
what rebuilds the PPO object, curriculum / AMP state) and, for Phase 3, ``amp.pt`` (tensors only). It is
written to ``step_<N>.tmp`` and renamed with `os.replace`, so a killed run never leaves a half-written
checkpoint under its final name.

A policy bundle is one ``.zip`` file: the checkpoint's ``model.zip`` with the other files added as
extra entries (SB3's loader ignores them). `resolve_checkpoint` reads a bundle into memory
(`BundleCheckpoint`, nothing written to disk) with the read-only interface of a checkpoint directory.

Nothing is unpickled when loading (`wildrobot_gym.policy_io`): checkpoints and bundles of the old format
(``vecnormalize.pkl``) are refused with `LegacyCheckpointError`; `convert_legacy_checkpoint` converts one
that the user trusts (``training/export_policy.py --convert-legacy-trusted``), the one place that unpickles.
"""
from __future__ import annotations

import io
import json
import os
import contextlib
import shutil
import signal
import threading
import time
import zipfile
import zlib
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from wildrobot_gym.atomic_io import atomic_write
from wildrobot_gym.policy_io import LegacyCheckpointError, model_meta, read_sb3_weights, save_vecnormalize

CKPT_PREFIX = "step_"
VECNORM_FILE = "vecnormalize.npz"
LEGACY_VECNORM_FILE = "vecnormalize.pkl"
CONVERT_HINT = "python training/export_policy.py --convert-legacy-trusted"


def checkpoint_dir(root: Path, step: int) -> Path:
    return root / f"{CKPT_PREFIX}{step:010d}"


@contextlib.contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM until the block is done, then deliver them to the handlers that were set.

    A KeyboardInterrupt raised inside torch.save's zip writer leaves the writer broken, and its clean-up
    raises a RuntimeError instead, which ended a training run without its final checkpoint. In a thread
    other than the main one (where handlers cannot be set) the block runs as is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    sigs = (signal.SIGINT, signal.SIGTERM)
    old = {s: signal.signal(s, lambda signum, frame: caught.append(signum)) for s in sigs}
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
        for signum in caught[:1]:  # one interrupt is enough
            handler = old[signum]
            if callable(handler):
                handler(signum, None)
            elif handler == signal.SIG_DFL and signum == signal.SIGINT:
                raise KeyboardInterrupt
            elif handler == signal.SIG_DFL:
                signal.raise_signal(signum)


def save_checkpoint(root: Path, model: Any, venv: Any, cfg: Mapping[str, Any],
                    extra: Mapping[str, Any] | None = None,
                    extra_files: Mapping[str, Callable[[Path], None]] | None = None) -> Path:
    """Write model, normalisation statistics and state atomically; return the checkpoint directory.

    `extra_files` maps a file name to a writer (called with the file's path inside the temporary
    directory), so that e.g. Phase 3's amp.pt is part of the same atomic rename. Ctrl-C and SIGTERM wait
    until it is written (`interrupts_deferred`)."""
    with interrupts_deferred():
        return _save_checkpoint(root, model, venv, cfg, extra, extra_files)


def _save_checkpoint(root: Path, model: Any, venv: Any, cfg: Mapping[str, Any], extra: Mapping[str, Any] | None,
                     extra_files: Mapping[str, Callable[[Path], None]] | None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    final = checkpoint_dir(root, model.num_timesteps)
    tmp = final.with_name(final.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    model.save(tmp / "model.zip")
    save_vecnormalize(venv, tmp / VECNORM_FILE)
    for name, write in (extra_files or {}).items():
        write(tmp / name)
    state = {"num_timesteps": int(model.num_timesteps), "phase": cfg["phase"], "config": cfg,
             "model": model_meta(model), "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S"), **(extra or {})}
    (tmp / "state.json").write_text(json.dumps(state, indent=1, default=float))
    if final.exists():  # the same step saved twice (e.g. interval then Ctrl-C): keep the newer one
        old = final.with_name(final.name + ".old")
        os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old)
    else:
        os.replace(tmp, final)
    return final


def list_checkpoints(root: Path) -> list[Path]:
    """Complete checkpoints (renamed from .tmp, so complete by construction), oldest first."""
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir()
                  if p.is_dir() and p.name.startswith(CKPT_PREFIX) and p.name[len(CKPT_PREFIX):].isdigit())


#: Files of a checkpoint that a policy bundle (one .zip, see `export_policy`) carries.
BUNDLE_FILES = (VECNORM_FILE, "state.json", "amp.pt")


class BundleMember:
    """One file of a `BundleCheckpoint`: the read-only part of `pathlib.Path`'s interface."""

    def __init__(self, bundle: "BundleCheckpoint", name: str) -> None:
        self.bundle, self.name = bundle, name

    def is_file(self) -> bool:
        return self.name in self.bundle.files

    def exists(self) -> bool:
        return self.is_file()

    def read_bytes(self) -> bytes:
        try:
            return self.bundle.files[self.name]
        except KeyError:
            raise FileNotFoundError(f"{self}: no such entry in the policy bundle") from None

    def read_text(self, encoding: str = "utf-8") -> str:
        return self.read_bytes().decode(encoding)

    def __str__(self) -> str:
        return f"{self.bundle.path}:{self.name}"

    __repr__ = __str__


class BundleCheckpoint:
    """A policy bundle read into memory, used like a checkpoint directory: ``ckpt / "state.json"`` is a
    `BundleMember` (is_file / read_bytes / read_text); ``ckpt / "model.zip"`` is the bundle itself.
    Nothing is written to disk, so nothing is left behind. `os.fspath` gives the bundle's path (which
    `resolve_checkpoint` accepts again)."""

    def __init__(self, path: Path, files: Mapping[str, bytes]) -> None:
        self.path = Path(path)
        self.files = dict(files)
        self.name = self.path.name

    def __truediv__(self, name: str) -> BundleMember:
        return BundleMember(self, str(name))

    def iterdir(self) -> Iterator[BundleMember]:
        return (BundleMember(self, n) for n in self.files)

    def is_dir(self) -> bool:
        return True

    def __fspath__(self) -> str:
        return str(self.path)

    def __str__(self) -> str:
        return str(self.path)

    def __repr__(self) -> str:
        return f"BundleCheckpoint({str(self.path)!r})"


def legacy_error(where: Any) -> LegacyCheckpointError:
    return LegacyCheckpointError(
        f"{where}: old checkpoint format ({LEGACY_VECNORM_FILE}, a pickle, and no {VECNORM_FILE}); it is not "
        f"loaded because unpickling a file can run code from it. If you trust it, convert it once with "
        f"`{CONVERT_HINT} {where} NEW.zip` and use NEW.zip")


def resolve_checkpoint(path: str | Path, allow_legacy: bool = False) -> Path | BundleCheckpoint:
    """A checkpoint from: the directory, its model.zip, a run's logdir or checkpoints dir (latest), or a
    policy bundle ``NAME.zip`` written by `export_policy` (read into memory: a `BundleCheckpoint`).

    Raises FileNotFoundError when there is none there, ValueError for a truncated or corrupt bundle (see
    `unpack_policy`) and `LegacyCheckpointError` (a ValueError) for the old pickle format unless
    `allow_legacy`; each message names `path`."""
    p = Path(path)
    if p.is_file() and p.name == "model.zip":
        p = p.parent
    elif p.is_file() and p.suffix == ".zip":
        return unpack_policy(p, allow_legacy)
    found = p if (p / "model.zip").is_file() else None
    if found is None:
        for root in (p / "checkpoints", p):
            ckpts = list_checkpoints(root)
            if ckpts:
                found = ckpts[-1]
                break
    if found is None:
        raise FileNotFoundError(f"no checkpoint at {str(path)!r} (expected a directory with model.zip, a run "
                                "directory, or a policy bundle .zip from training/export_policy.py)")
    if not allow_legacy and not (found / VECNORM_FILE).is_file() and (found / LEGACY_VECNORM_FILE).is_file():
        raise legacy_error(found)
    return found


def _checkpoint_files(ckpt: Path | BundleCheckpoint, names: tuple[str, ...]) -> dict[str, bytes]:
    return {n: (ckpt / n).read_bytes() for n in names if (ckpt / n).is_file()}


def write_bundle(model_zip: bytes, files: Mapping[str, bytes], out: Path) -> Path:
    """A bundle: the SB3 zip with `files` added as extra entries (replacing any of the same name), atomically."""
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(model_zip)) as src, zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            if info.filename not in files and info.filename not in (LEGACY_VECNORM_FILE, *BUNDLE_FILES):
                z.writestr(info, src.read(info.filename))
        for name, data in files.items():
            z.writestr(name, data)
    return atomic_write(Path(out), lambda f: f.write(buf.getvalue()))


def fresh_optimizer_state(model_zip: Any) -> bytes:
    """The zip's ``policy.optimizer.pth`` without its per-parameter state (Adam's two moments, twice the
    size of the weights): ``{"state": {}, "param_groups": ...}``, what a fresh optimizer of the same
    parameters holds. It still loads wherever the full one does (SB3's ``PPO.load``, `load_ppo` with
    ``resume``, --init-from); training from it starts Adam's moments at zero."""
    import torch

    opt = read_sb3_weights(model_zip, optimizer=True)["optimizer"]
    buf = io.BytesIO()
    torch.save({"state": {}, "param_groups": opt["param_groups"]}, buf)
    return buf.getvalue()


def export_policy(ckpt: Path | BundleCheckpoint, out: Path, optimizer_state: bool = True) -> Path:
    """One-file policy: the checkpoint's SB3 model.zip with its normalisation statistics and state
    added as extra zip entries (SB3's loader ignores them), written atomically.

    ``optimizer_state=False``: an inference bundle, the optimizer's per-parameter state dropped
    (`fresh_optimizer_state`); the format is the same."""
    if not isinstance(ckpt, BundleCheckpoint):
        ckpt = resolve_checkpoint(ckpt)
    model_zip = (ckpt / "model.zip").read_bytes()
    files = _checkpoint_files(ckpt, BUNDLE_FILES)
    if not optimizer_state:
        files["policy.optimizer.pth"] = fresh_optimizer_state(ckpt / "model.zip")
    return write_bundle(model_zip, files, out)


def unpack_policy(bundle: Path, allow_legacy: bool = False) -> BundleCheckpoint:
    """A policy bundle read into memory (nothing written to disk).

    Raises FileNotFoundError (no such file, or a zip that is not a bundle), ValueError (a truncated or
    corrupt zip) or `LegacyCheckpointError` (the old pickle format, unless `allow_legacy`), each naming
    the file."""
    bundle = Path(bundle)
    if not bundle.is_file():
        raise FileNotFoundError(f"policy bundle {str(bundle)!r} not found")
    raw = bundle.read_bytes()
    files: dict[str, bytes] = {}
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as z:
            names = set(z.namelist())
            has_new, has_old = VECNORM_FILE in names, LEGACY_VECNORM_FILE in names
            if "state.json" not in names or not (has_new or has_old):
                missing = [n for n in (VECNORM_FILE, "state.json") if n not in names]
                raise FileNotFoundError(f"{bundle}: not a policy bundle, missing {missing} "
                                        "(write one with training/export_policy.py)")
            # Read every entry (CRC-checked), the model's too, so a damaged file fails here, by name.
            for name in z.namelist():
                data = z.read(name)
                if name in BUNDLE_FILES or name == LEGACY_VECNORM_FILE:
                    files[name] = data
    except (zipfile.BadZipFile, zlib.error, EOFError) as e:
        raise ValueError(f"policy bundle {str(bundle)!r} is truncated or corrupt ({e}); expected a .zip "
                         "written by training/export_policy.py") from None
    if not has_new and not allow_legacy:
        raise legacy_error(bundle)
    files["model.zip"] = raw
    return BundleCheckpoint(bundle, files)


def read_state(ckpt: Path | BundleCheckpoint) -> dict[str, Any]:
    return json.loads((ckpt / "state.json").read_text())


def convert_legacy_checkpoint(src: str | Path, out: Path, trust: bool = False) -> Path:
    """Convert a checkpoint or bundle of the old format (vecnormalize.pkl) into the current one: a bundle
    when `out` ends in .zip, else a checkpoint directory. **Unpickles** vecnormalize.pkl and the SB3
    model's data: only for files one trusts, hence `trust` must be True (the CLI's
    ``--convert-legacy-trusted``). The model.zip's weights are kept byte for byte."""
    if not trust:
        raise PermissionError(f"{src}: converting an old checkpoint unpickles it (which can run code from it); "
                              "pass trust=True (--convert-legacy-trusted) only for a file you trust")
    import pickle

    from stable_baselines3 import PPO

    ckpt = resolve_checkpoint(src, allow_legacy=True)
    files = _checkpoint_files(ckpt, (*BUNDLE_FILES, LEGACY_VECNORM_FILE))
    model_zip = (ckpt / "model.zip").read_bytes()
    if VECNORM_FILE not in files:
        vn = pickle.loads(files[LEGACY_VECNORM_FILE])  # trusted: see the docstring
        tmp = io.BytesIO()
        save_vecnormalize(vn, tmp)
        files[VECNORM_FILE] = tmp.getvalue()
    files.pop(LEGACY_VECNORM_FILE, None)
    state = json.loads(files["state.json"])
    if "model" not in state:
        model = PPO.load(io.BytesIO(model_zip), device="cpu")  # trusted: see the docstring
        state["model"] = model_meta(model)
        files["state.json"] = json.dumps(state, indent=1, default=float).encode()
    out = Path(out)
    if out.suffix == ".zip":
        return write_bundle(model_zip, files, out)
    out.mkdir(parents=True, exist_ok=True)
    for name, data in {"model.zip": model_zip, **files}.items():
        atomic_write(out / name, lambda f, data=data: f.write(data))
    return out
