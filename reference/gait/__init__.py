"""Walking-gait generator for WildRobot: footstep plan -> LIPM/ZMP preview COM -> leg IK -> `Clip`.

One job per file (model.py's docstring explains the pipeline and the kinematic limits that shape it):
  kinematics.py    leg geometry, analytic leg IK / FK, rotations, the side convention (SIDES, SIDE_SIGN)
  plan.py          gait parameters (GaitParams), the footstep plan (Step, plan_footsteps), GaitPlan
  zmp.py           ZMP reference and Kajita's ZMP preview control
  trajectories.py  swing-foot and heel-toe trajectories of both feet
  model.py         GaitModel, generate_gait, plan_to_clip, steady_window, GENERATOR_VERSION
  checks.py        support polygon and kinematic validity of a plan (PlanCheck, check_plan)
  tracking.py      open-loop PD tracking of a clip (TrackResult, track_clip)
"""
from reference.gait.checks import (
    PlanCheck,
    check_plan,
    plan_geometry,
    support_polygon_margin,
)
from reference.gait.kinematics import (
    SIDE_SIGN,
    SIDES,
    LegGeometry,
    _quat_pitch,
    leg_fk,
    leg_ik,
)
from reference.gait.model import (
    GENERATOR_VERSION,
    GaitModel,
    generate_gait,
    plan_to_clip,
    steady_window,
)
from reference.gait.plan import GaitParams, GaitPlan, Step, plan_footsteps
from reference.gait.tracking import TrackResult, track_clip
from reference.gait.trajectories import _swing_profile, foot_trajectories
from reference.gait.zmp import preview_control, zmp_reference

__all__ = [
    "GENERATOR_VERSION",
    "SIDES",
    "SIDE_SIGN",
    "GaitModel",
    "GaitParams",
    "GaitPlan",
    "LegGeometry",
    "PlanCheck",
    "Step",
    "TrackResult",
    "_quat_pitch",
    "_swing_profile",
    "check_plan",
    "foot_trajectories",
    "generate_gait",
    "leg_fk",
    "leg_ik",
    "plan_footsteps",
    "plan_geometry",
    "plan_to_clip",
    "preview_control",
    "steady_window",
    "support_polygon_margin",
    "track_clip",
    "zmp_reference",
]
