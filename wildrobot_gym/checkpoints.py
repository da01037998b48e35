"""Training checkpoints on disk: the one definition of their layout, shared by training and reference.

A checkpoint is a directory ``<logdir>/checkpoints/step_<N>/`` holding ``model.zip`` (the SB3 PPO
model), ``vecnormalize.pkl`` (observation/reward normalisation statistics), ``state.json`` (step
count, phase, the run's config, curriculum / AMP state) and, for Phase 3, ``amp.pt``. It is written
to ``step_<N>.tmp`` and renamed with `os.replace`, so a killed run never leaves a half-written
checkpoint under its final name.

A policy bundle is one ``.zip`` file: the checkpoint's ``model.zip`` with the other files added as
extra entries (SB3's loader ignores them), so ``PPO.load(bundle)`` works and `resolve_checkpoint`
unpacks it into a checkpoint directory for everything else.
"""
from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
import time
import zipfile
import zlib
from pathlib import Path
from typing import Any, Callable, Mapping

from wildrobot_gym.atomic_io import atomic_write

CKPT_PREFIX = "step_"


def checkpoint_dir(root: Path, step: int) -> Path:
    return root / f"{CKPT_PREFIX}{step:010d}"


def save_checkpoint(root: Path, model: Any, venv: Any, cfg: Mapping[str, Any],
                    extra: Mapping[str, Any] | None = None,
                    extra_files: Mapping[str, Callable[[Path], None]] | None = None) -> Path:
    """Write model, normalisation statistics and state atomically; return the checkpoint directory.

    `extra_files` maps a file name to a writer (called with the file's path inside the temporary
    directory), so that e.g. Phase 3's amp.pt is part of the same atomic rename."""
    root.mkdir(parents=True, exist_ok=True)
    final = checkpoint_dir(root, model.num_timesteps)
    tmp = final.with_name(final.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    model.save(tmp / "model.zip")
    venv.save(str(tmp / "vecnormalize.pkl"))
    for name, write in (extra_files or {}).items():
        write(tmp / name)
    state = {"num_timesteps": int(model.num_timesteps), "phase": cfg["phase"], "config": cfg,
             "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S"), **(extra or {})}
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
BUNDLE_FILES = ("vecnormalize.pkl", "state.json", "amp.pt")


def resolve_checkpoint(path: str | Path) -> Path:
    """A checkpoint directory from: the directory, its model.zip, a run's logdir or checkpoints dir
    (latest), or a policy bundle ``NAME.zip`` written by `export_policy` (unpacked to a temp folder).

    Raises FileNotFoundError when there is none there and ValueError for a truncated or corrupt
    bundle (see `unpack_policy`); both messages name `path`."""
    p = Path(path)
    if p.is_file() and p.name == "model.zip":
        p = p.parent
    elif p.is_file() and p.suffix == ".zip":
        return unpack_policy(p)
    if (p / "model.zip").is_file():
        return p
    for root in (p / "checkpoints", p):
        found = list_checkpoints(root)
        if found:
            return found[-1]
    raise FileNotFoundError(f"no checkpoint at {str(path)!r} (expected a directory with model.zip, a run "
                            "directory, or a policy bundle .zip from training/export_policy.py)")


def export_policy(ckpt: Path, out: Path) -> Path:
    """One-file policy: the checkpoint's SB3 model.zip with its normalisation statistics and state
    added as extra zip entries (SB3's loader ignores them), written atomically."""
    ckpt = resolve_checkpoint(ckpt)

    buf = io.BytesIO((ckpt / "model.zip").read_bytes())
    with zipfile.ZipFile(buf, "a", compression=zipfile.ZIP_DEFLATED) as z:
        for name in BUNDLE_FILES:
            if (ckpt / name).is_file():
                z.write(ckpt / name, arcname=name)
    return atomic_write(out, lambda f: f.write(buf.getvalue()))


def unpack_policy(bundle: Path) -> Path:
    """Unpack a policy bundle into a checkpoint directory (a temp folder) and return it.

    Raises FileNotFoundError (no such file, or a zip that is not a bundle) or ValueError (a truncated
    or corrupt zip), each naming the file."""
    bundle = Path(bundle)
    if not bundle.is_file():
        raise FileNotFoundError(f"policy bundle {str(bundle)!r} not found")
    out = Path(tempfile.mkdtemp(prefix=f"{bundle.stem}_"))
    try:
        with zipfile.ZipFile(bundle) as z:
            names = set(z.namelist())
            missing = [n for n in ("vecnormalize.pkl", "state.json") if n not in names]
            if missing:
                raise FileNotFoundError(f"{bundle}: not a policy bundle, missing {missing} "
                                        "(write one with training/export_policy.py)")
            # Read every entry (CRC-checked), the model's too, so a damaged file fails here, by name.
            for name in z.namelist():
                data = z.read(name)
                if name in BUNDLE_FILES:
                    (out / name).write_bytes(data)
        shutil.copyfile(bundle, out / "model.zip")
    except (zipfile.BadZipFile, zlib.error, EOFError) as e:
        shutil.rmtree(out, ignore_errors=True)
        raise ValueError(f"policy bundle {str(bundle)!r} is truncated or corrupt ({e}); expected a .zip "
                         "written by training/export_policy.py") from None
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    return out


def read_state(ckpt: Path) -> dict[str, Any]:
    return json.loads((ckpt / "state.json").read_text())
