"""The sections of ``configs/reference.yaml``: ``generation:``, ``mining:`` and ``analysis:``.

One place of truth for the reference pipeline's settings: the schemas (frozen pydantic dataclasses on
the value types of `values`, like the AMP config), their defaults (the seed's values) and the loaders.
The consumers import them from where they always did (`reference.rollout`, `reference.miner`,
`reference.analyze`) and keep reading attributes (``cfg.harness.cap_fraction``), `dataclasses.replace`
and `dataclasses.asdict` them.

A bad value raises `ConfigError` (a ValueError) whose message starts with its dotted key, e.g.
``generation.harness.mode: expected one of ('stabilizer', 'height_spring', 'both', 'off'), got 'rope'``
or ``mining.gates.harness_p95_max: expected a finite number >= 0, got 'low'``; direct construction
(``HarnessConfig(cap_fraction=2)``) is checked alike and raises pydantic's ValidationError (a ValueError).

Every float is finite (inf would admit anything), every int a real int (not 3.0, not "3", not true),
every flag a YAML bool. A nested section left empty in the YAML (``harness:`` with everything commented
out, i.e. null) keeps its defaults, as do ``neutral_pose: null`` and ``variants: null``.
"""
from __future__ import annotations

import dataclasses
import functools
from dataclasses import field
from pathlib import Path
from typing import Annotated, Any, Callable, Mapping, Optional

from annotated_types import Len
from pydantic import AfterValidator, BeforeValidator, TypeAdapter, ValidationError, model_validator

from wildrobot_gym.amp_features import LIN_VEL_MODES
from wildrobot_gym.paths import CONFIG_DIR
from wildrobot_gym.robot import NUM_JOINTS

from .base import Section, config_dataclass
from .errors import ConfigError, format_error, read_yaml
from .values import _bounds, expect, flag, integer, one_of, real, text

DEFAULT_REFERENCE_CONFIG = CONFIG_DIR / "reference.yaml"

HARNESS_MODES = ("stabilizer", "height_spring", "both", "off")
PRECONDITION_MODES = ("off", "retargeted", "all")
TRACKERS = ("feedback", "learned")  # generation.tracker: reference/rollout/physics.py
ADAPT_MODES = ("auto", "always", "never")  # generation.adapt: reference/generate.py, reference/tracker/adapt.py
MAX_ADAPT_MINUTES = 20.0  # issue 10: generate may adapt the tracker within its own run, at most 20 min on 2 cores
DEDUPE_MODES = ("merge", "center")

_config = config_dataclass


def _real(**bounds: float) -> Any:
    """A finite number stored as float: ``expected a finite number > 0, got ...`` (the reference
    config's wording since before pydantic; tests and users match "expected a finite number")."""
    return real("a finite number" + _bounds(**bounds), **bounds)


_Float = _real()
_NonNeg = _real(ge=0)
_Pos = _real(gt=0)
_Unit = _real(ge=0, le=1)        # a fraction (of frames, of samples, of m g where that cannot exceed 1)
_Degrees = _real(ge=0, le=180)   # an attitude threshold, deg
_Count = integer(ge=1)
_NonNegInt = integer(ge=0)
_Flag = flag("true/false")       # the reference config's wording (tests match it), as amp.yaml's


def _null_is(default: Callable[[], Any]) -> BeforeValidator:
    """YAML null (an empty key) means `default()`: a nested section whose keys are all commented out
    keeps its defaults (as before pydantic)."""
    return BeforeValidator(lambda value: default() if value is None else value)


# ================================================================================================
# generation: (reference/rollout/, reference/generate.py)
# ================================================================================================
@_config
class HarnessConfig:
    """The capped, orientation-gated assist on the waist (see reference/rollout/harness.py's docstring)."""

    mode: one_of(*HARNESS_MODES) = "stabilizer"
    cap_fraction: _Unit = 0.15  # cap on the equivalent force, fraction of m g (seed)
    gate_deg: _real(gt=0, le=180) = 25.0  # off beyond this tilt from vertical (seed's attitude gate)
    lever_arm: _Pos = 0.30  # m, COM height: converts torque to an equivalent force
    rot_kp: _NonNeg = 4.0  # N m / rad, stabilizer stiffness on roll and pitch
    rot_kd: _NonNeg = 0.4  # N m s / rad, stabilizer damping
    height_kp: _NonNeg = 200.0  # N / m, height spring stiffness
    height_kd: _NonNeg = 10.0  # N s / m, height spring damping
    filter_tau: _NonNeg = 0.0  # s, first-order low-pass time constant; 0 = unfiltered


@_config
class BalanceConfig:
    """Attitude feedback added to the servo targets (see reference/rollout/harness.py's docstring).

    The gains keep their sign free (the signs per joint are applied by `balance_correction`); the
    clips are magnitudes."""

    enabled: _Flag = True
    ankle_kp: _Float = 1.0  # rad per rad of pitch error
    ankle_kd: _Float = 0.05  # rad per rad/s of pitch rate
    hip_pitch_kp: _Float = 0.5
    hip_pitch_kd: _Float = 0.02
    hip_roll_kp: _Float = 0.5
    hip_roll_kd: _Float = 0.02
    max_correction: _NonNeg = 0.3  # rad, clip of each correction
    stance_weighted: _Flag = True  # scale each leg's correction by its share of the load
    # Forward-speed feedback (`speed_correction`): e_v = reference - measured forward root speed, m/s.
    swing_placement_kp: _Float = 0.0  # rad of swing hip flexion removed per m/s of deficit (Raibert placement)
    stance_push_kp: _Float = 0.0  # rad of stance hip extension added per m/s of deficit
    ankle_push_kp: _Float = 0.0  # rad of stance ankle plantarflexion added per m/s of deficit
    max_speed_correction: _NonNeg = 0.2  # rad, clip of each speed term


@_config
class PreconditionConfig:
    """Clip preconditioning before looping (`precondition_clip`): repairs retargeting pathologies."""

    mode: one_of(*PRECONDITION_MODES) = "off"  # off | retargeted (only retargeted pickles) | all
    smooth_s: _NonNeg = 0.1  # s, std of the Gaussian low-pass on the joints (0: none): rounds clamped corners
    limit_margin: _NonNeg = 0.05  # rad, joints are kept this far inside their ranges after smoothing
    knee_min: _NonNeg = 0.3  # rad, minimum knee bend; the hip and ankle share the extra bend (sole stays level)
    time_warp: _Pos = 1.0  # playback speed factor (< 1: slower)


class Variant(Section):
    """One augmentation of ``generation.variants``; kept as the plain dict of the keys given."""

    name: text()
    time_warp: _Pos = 1.0
    mirror: _Flag = False
    heading_deg: _Float = 0.0


def _variant_dict(variant: Variant) -> dict:
    """{name, [time_warp], [mirror], [heading_deg]}: only the keys given (`rollout_clip` runs a variant
    of more than a name through `apply_variant`)."""
    return variant.model_dump(exclude_unset=True)


_VariantDict = Annotated[Variant, AfterValidator(_variant_dict)]

DEFAULT_VARIANTS: tuple[dict, ...] = (
    {"name": "base"},
    {"name": "mirror", "mirror": True},
    {"name": "warp0.9", "time_warp": 0.9},
    {"name": "warp1.1", "time_warp": 1.1},
    {"name": "heading+10", "heading_deg": 10.0},
)
DEFAULT_NEUTRAL_POSE: tuple[float, ...] = (0.0,) * NUM_JOINTS


@_config
class GenerationConfig:
    """Every number of reference generation; `configs/reference.yaml` section `generation:`."""

    fps: _Pos = 50.0
    substeps: _Count = 10
    duration_s: _NonNeg = 30.0  # looped length per clip when `cycles` is None (0: one cycle; seed: 20-60 s)
    cycles: Optional[_Count] = None  # fixed number of repetitions instead of duration_s
    blend_time: _NonNeg = 0.3  # s, each neutral blend (0: none; seed: 0.2-0.4 s)
    neutral_pose: Annotated[tuple[_Float, ...], _null_is(lambda: DEFAULT_NEUTRAL_POSE), Len(NUM_JOINTS, NUM_JOINTS),
                            expect(f"a list of {NUM_JOINTS} numbers", keep_item_errors=True)] = DEFAULT_NEUTRAL_POSE
    multi_start_interval: _Count = 50  # frames between physics restarts
    restart_clearance: _Float = -0.00015  # m, lowest pad height at a restart (< 0: the static penetration)
    contact_threshold: _NonNeg = 1.0  # N, pad contact
    saturation_warn_rate: _Unit = 0.10  # warn when more actuator samples saturate (seed: 10 %)
    # Clip admission (reference.clips.ClipLimits): a clip outside these is rejected by name, not run.
    min_clip_fps: _Pos = 10.0  # Hz; below, a gait cycle has too few samples (and resampling explodes)
    max_clip_fps: _Pos = 1000.0  # Hz; above, the rate is most likely a unit error
    max_clip_seconds: _Pos = 120.0  # s; a longer clip is played once, not looped: time and memory grow with it
    min_joint_motion: _NonNeg = 0.05  # rad, largest joint range over the clip; below, it is a frozen pose
    harness: Annotated[HarnessConfig, _null_is(dict)] = field(default_factory=HarnessConfig)
    balance: Annotated[BalanceConfig, _null_is(dict)] = field(default_factory=BalanceConfig)
    precondition: Annotated[PreconditionConfig, _null_is(dict)] = field(default_factory=PreconditionConfig)
    # The controller (reference/rollout/physics.py): "feedback" = reference joints + the balance / speed feedback above;
    # "learned" = reference joints + a trained tracker's residual (reference/tracker), harness off unless tracker_harness.
    tracker: one_of(*TRACKERS) = "feedback"
    tracker_path: Optional[text()] = None  # the learned tracker (bundle .zip or checkpoint); null: the shipped one
    tracker_harness: _Flag = False  # keep the harness on with the learned tracker
    # A second learned tracker for the fast clips: a timeline whose steady reference speed
    # (`reference.walking.clip_speed`) is at least fast_tracker_min_speed (m/s) is tracked by fast_tracker_path
    # (null: the shipped fast tracker, DEFAULT_FAST_TRACKER_PATH); fast_tracker_min_speed null: tracker_path tracks
    # every clip.
    fast_tracker_path: Optional[text()] = None
    fast_tracker_min_speed: Optional[_Pos] = None
    # Adapting the learned tracker to the clips before generating (reference/tracker/adapt.py): "auto" when the
    # tracker is learned and the clips are not the shipped gait library, "always" (needs tracker: learned), "never".
    adapt: one_of(*ADAPT_MODES) = "auto"
    adapt_minutes: _real(gt=0, le=MAX_ADAPT_MINUTES) = 15.0  # wall-clock budget of the fine-tune, min
    adapt_max_steps: Optional[_Count] = 2_000_000  # its env steps (null: the clock alone stops it)
    # The tracker the adaptation fine-tunes (bundle .zip or checkpoint); null: tracker_path when set, else the
    # shipped general tracker (DEFAULT_GENERAL_TRACKER_PATH)
    adapt_from: Optional[text()] = None
    variants: Annotated[tuple[_VariantDict, ...], _null_is(lambda: DEFAULT_VARIANTS), Len(1),
                        expect("a non-empty list of variants", keep_item_errors=True)] = DEFAULT_VARIANTS

    @model_validator(mode="after")
    def _across(self) -> "GenerationConfig":
        if self.min_clip_fps > self.max_clip_fps:
            raise ConfigError(f"min_clip_fps: expected <= max_clip_fps ({self.max_clip_fps}), got {self.min_clip_fps}")
        names = [v["name"] for v in self.variants]
        if len(set(names)) != len(names):
            raise ConfigError(f"variants: expected unique names, got {names}")
        if self.adapt == "always" and self.tracker != "learned":
            raise ConfigError(f"adapt: 'always' adapts the learned tracker, but tracker is {self.tracker!r} "
                              "(set tracker: learned, or adapt: auto / never)")
        return self

    def to_dict(self) -> dict:
        """Plain-Python form (YAML / JSON friendly)."""
        d = dataclasses.asdict(self)
        d["neutral_pose"] = list(self.neutral_pose)
        d["variants"] = [dict(v) for v in self.variants]
        return d


# ================================================================================================
# mining: (reference/miner/)
# ================================================================================================
@_config
class GateConfig:
    """Tier 0+ gate thresholds (seed 000); loads and forces are fractions of m g."""

    load_mean_min: _NonNeg = 0.85
    load_p10_min: _NonNeg = 0.60
    harness_p90_max: _NonNeg = 0.15
    harness_p95_max: _NonNeg = 0.25  # Blocker B target 0.10: tighten here
    harness_saturated_max: _Unit = 0.05  # fraction of frames
    unloaded_load_threshold: _NonNeg = 0.60
    unloaded_fraction_max: _Unit = 0.10  # fraction of frames
    pitch_p95_max_deg: _Degrees = 25.0
    roll_p95_max_deg: _Degrees = 25.0
    stance_load_threshold: _NonNeg = 0.10  # a foot is loaded (in stance) above this fraction of m g
    slip_speed_threshold: _NonNeg = 0.10  # m/s: a loaded foot faster than this slips
    stance_slip_rate_max: _Unit = 0.15  # fraction of loaded foot-frames


@_config
class ScoreConfig:
    """Quality score terms (seed 000)."""

    load_mean_bonus_min: _NonNeg = 0.95
    slip_rate_bonus_max: _Unit = 0.05
    attitude_bonus_max_deg: _Degrees = 15.0
    harness_near_limit_fraction: _Unit = 0.20  # -1 when p95 harness >= (1 - this) * harness_p95_max


@_config
class WalkingConfig:
    """The walking label (reference/walking.py): a window walks when its mean forward speed is at least
    `speed_ratio_min` x its clip's speed AND one foot alone is loaded (Fn > gates.stance_load_threshold m g)
    in at least `single_stance_min` of its frames. Standing windows are still mined, labelled not walking."""

    speed_ratio_min: _NonNeg = 0.7  # mean forward speed / the clip's reference speed
    single_stance_min: _Unit = 0.15  # fraction of frames in single stance (alternation)
    min_clip_speed: _NonNeg = 0.05  # m/s: a clip slower than this (in place, or speed unknown) walks nowhere
    speed_band_width: _Pos = 0.1  # m/s, width of the speed bands walking seconds are reported in


@_config
class MiningConfig:
    """Windowing, de-duplication, feature parameters, the gates / score and the walking label
    (`configs/reference.yaml`)."""

    fps: _Pos = 50.0
    window_frames: _Count = 50
    stride_frames: _Count = 10
    min_segment_frames: _Count = 20  # <= window_frames
    include_tail_window: _Flag = False  # add an end-aligned window when the stride leaves a tail uncovered
    pre_fall_margin_frames: _NonNegInt = 0  # frames before each fall that are unusable too
    dedupe: one_of(*DEDUPE_MODES) = "merge"
    center_frames: _Count = 30  # kept per passing window when dedupe == "center" (then <= window_frames)
    lin_vel_mode: one_of(*LIN_VEL_MODES) = "clip"
    lin_vel_clip: _Pos = 1.5
    gates: Annotated[GateConfig, _null_is(dict)] = field(default_factory=GateConfig)
    score: Annotated[ScoreConfig, _null_is(dict)] = field(default_factory=ScoreConfig)
    walking: Annotated[WalkingConfig, _null_is(dict)] = field(default_factory=WalkingConfig)

    @model_validator(mode="after")
    def _across(self) -> "MiningConfig":
        if self.min_segment_frames > self.window_frames:
            raise ConfigError(f"min_segment_frames: expected <= window_frames ({self.window_frames}), "
                              f"got {self.min_segment_frames}")
        if self.dedupe == "center" and self.center_frames > self.window_frames:
            raise ConfigError(f"center_frames: expected <= window_frames ({self.window_frames}) with dedupe: "
                              f"center, got {self.center_frames}")
        return self


# ================================================================================================
# analysis: (reference/analyze.py)
# ================================================================================================
@_config
class DashboardConfig:
    """The seed's metrics dashboard: minimum and target of each dataset metric."""

    seconds_min: _NonNeg = 30.0
    seconds_target: _NonNeg = 60.0
    segments_min: _NonNegInt = 5
    segments_target: _NonNegInt = 10
    load_mean_min: _NonNeg = 0.85
    load_mean_target: _NonNeg = 0.90
    harness_p95_max: _NonNeg = 0.10
    harness_p95_target: _NonNeg = 0.08
    unloaded_max: _Unit = 0.10
    unloaded_target: _Unit = 0.05
    alternation_min: _Unit = 0.10
    alternation_target: _Unit = 0.20
    clips_min: _NonNegInt = 3
    clips_target: _NonNegInt = 5


_RolloutIndex = integer("an integer >= -1 (-1: the rollout with the most Tier 0+ frames)", ge=-1)


@_config
class AnalysisConfig:
    """Decision thresholds, per-clip diagnostic limits and plot settings (``analysis:`` section)."""

    proceed_seconds: _NonNeg = 60.0
    borderline_seconds: _NonNeg = 30.0  # <= proceed_seconds
    actuator_saturation_max: _Unit = 0.10
    alternation_segment_min: _Unit = 0.15
    histogram_bins: _Count = 40
    timeline_rollout: _RolloutIndex = -1
    dashboard: Annotated[DashboardConfig, _null_is(dict)] = field(default_factory=DashboardConfig)

    @model_validator(mode="after")
    def _across(self) -> "AnalysisConfig":
        if self.borderline_seconds > self.proceed_seconds:
            raise ConfigError(f"borderline_seconds: expected <= proceed_seconds ({self.proceed_seconds}), "
                              f"got {self.borderline_seconds}")
        return self


# ================================================================================================
# Loaders
# ================================================================================================
@functools.lru_cache(maxsize=None)
def _adapter(cls: type) -> TypeAdapter:
    return TypeAdapter(cls)


def section_from_dict(cls: type, data: Mapping[str, Any] | None, section: str) -> Any:
    """Config dataclass `cls` from a mapping (a YAML section, or `dataclasses.asdict` of one as saved
    with a dataset); missing keys keep the defaults, None is an empty section. An unknown key, a wrong
    type or a value out of range raises `ConfigError` naming the dotted key (``mining.gates.x: ...``)."""
    data = {} if data is None else data
    if not isinstance(data, Mapping):
        raise ConfigError(f"{section}: expected a mapping, got {type(data).__name__}")
    try:
        return _adapter(cls).validate_python(dict(data))
    except ValidationError as exc:
        raise format_error(exc, cls, section) from None


def read_section(path: str | Path, section: str) -> Mapping[str, Any]:
    """The raw mapping of one top-level section of a YAML file ({} when absent or empty). A missing,
    non-UTF-8 or invalid YAML file, or one that is not a mapping, raises `ConfigError` naming it."""
    doc = read_yaml(path, "config")
    if doc is None:
        return {}
    if not isinstance(doc, Mapping):
        raise ConfigError(f"config: {path} must hold a mapping at the top level, got {type(doc).__name__}")
    value = doc.get(section)
    return {} if value is None else value  # not a mapping: section_from_dict names the section


def load_generation_config(path: str | Path = DEFAULT_REFERENCE_CONFIG,
                           overrides: Mapping[str, Any] | None = None) -> GenerationConfig:
    """`GenerationConfig` from the ``generation:`` section of a YAML file, with `overrides` (the same
    keys; a mapping value updates that nested section key by key) applied before the checks."""
    section = read_section(path, "generation")
    if not isinstance(section, Mapping):
        return section_from_dict(GenerationConfig, section, "generation")  # raises, naming the section
    section = dict(section)
    for key, value in (overrides or {}).items():
        if isinstance(value, Mapping) and isinstance(section.get(key), Mapping):
            section[key] = {**section[key], **value}
        else:
            section[key] = value
    return section_from_dict(GenerationConfig, section, "generation")


def load_mining_config(path: str | Path = DEFAULT_REFERENCE_CONFIG) -> MiningConfig:
    """`MiningConfig` from the ``mining:`` section of a YAML file."""
    return section_from_dict(MiningConfig, read_section(path, "mining"), "mining")


def load_analysis_config(path: str | Path = DEFAULT_REFERENCE_CONFIG) -> AnalysisConfig:
    """`AnalysisConfig` from the ``analysis:`` section of a YAML file."""
    return section_from_dict(AnalysisConfig, read_section(path, "analysis"), "analysis")
