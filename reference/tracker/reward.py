"""The tracker's DeepMimic-style reward: a weighted sum of exp(-k e^2) tracking terms and two penalties.

With q the joint angles, v_f / v_l the root velocity along / across the robot's own heading, w_z the
root's world yaw rate, (e_x, e_y) the root position error in the anchored reference's heading frame,
e_yaw the heading error, z the root height, and ^ marking the reference at the same frame (the
`ReferenceTrack` arrays: its velocities are in the reference's own heading frame, its height has the
lowest pad on the floor), the terms (weights w_* and scales k_* from ``reward:`` of configs/tracker.yaml) are

=================  ===========================================================================
term               value
=================  ===========================================================================
joint              w_joint exp(-k_joint sum_j (q_j - q^_j)^2)
root_velocity      w_root_velocity exp(-k_velocity ((v_f - v^_f)^2 + (v_l - v^_l)^2))
vertical_velocity  w_vertical_velocity exp(-k_vertical (v_z - v^_z)^2): the root's bounce. The tracked gait
                   bounced at 0.09-0.11 m/s rms of v_z against the reference's 0.02, and its load dips
                   failed the Tier 0+ load gates (docs/results/tracker.md)
root_position      w_root_position exp(-k_position (e_x^2 + e_y^2))
heading            w_heading exp(-(k_heading e_yaw^2 + k_yaw_rate (w_z - w^_z)^2))
height_attitude    w_height_attitude exp(-(k_height (z - z^)^2 + k_attitude ((roll - roll^)^2 + (pitch - pitch^)^2)))
contact            w_contact x (fraction of the two feet whose measured contact equals the reference's)
stance_slip        w_stance_slip exp(-k_slip sum_i c_i s_i^2), c_i the foot's measured contact, s_i its
                   foot_slip_speed (horizontal, where it bears on the floor: wildrobot_gym.metrics): a loaded
                   foot should not slide. The Tier 0+ gate stance_slip_rate <= 15 %
                   failed on every library clip from 0.55 m/s up (19-26 %; docs/results/tracker.md)
ground_slip        w_ground_slip exp(-k_slip sum_i exp(-h_i / ground_slip_height) s_i^2), h_i the sole's height: a
                   foot near the floor should not move across it, loaded or not. stance_slip only sees a foot
                   once it is in contact, but the fast clips' slip is at the stance's edges: the first loaded
                   frame slid in 65-78 % of stances, the sole still moving forward at ~0.2 m/s as it lands
                   (docs/results/tracker.md, "Tracker v6"); this term pays for slowing the foot before it lands
support            w_support min(1, (F_left + F_right) / (m g) / support_load): the feet carry the robot. A
                   walk keeps them loaded; the tracked 0.5-0.8 m/s clips hopped (load p10 0.35-0.55 m g
                   against the Tier 0+ gate's 0.6; unloaded below 0.6, the gate's threshold and this default)
impact             w_impact exp(-k_impact max(0, (F_left + F_right) / (m g) - impact_load)^2): no load spike. With
                   the mean load at 1 m g, the frames between spikes are what the Tier 0+ load gates count: the
                   v14-tracked 0.75 m/s walk landed with 1.7-4.4 m g spikes and sat at 0.5-0.8 m g between them
                   (docs/results/tracker.md, "Upright heel-toe and levelled fast clips")
double_support     w_double_support min(1, l_ds / double_support_load), l_ds = min(F_left, F_right) / (m g) on the
                   frames where the reference has both feet down, w_double_support elsewhere: the lesser-loaded
                   foot carries its share through the planned double support. From 0.6 m/s the tracked clips
                   walked with a duty factor of 0.50 against the plan's 0.60: the trailing foot left as the leading
                   one landed, 0-4 % double support against the plan's 20-25 % (docs/results/tracker.md, "Why the
                   fast walk has no double support"); the contact term pays for it only through a binary match
saturation         -w_saturation (n_sat / 8), n_sat the servos at their torque limit (MetricsTracker's
                   torque_saturated): a gait the servos can make. The fast clips' walking data saturated the
                   servos 16-20 % of the time (Phase 3's target: <= 12 %) while the knees lagged their
                   0.4 -> 1.25 rad swing (docs/results/tracker.md, "A servo-saturation term")
action_rate        -w_action_rate sum_j (a_j - a_prev_j)^2   (actions in residual units, [-1, 1])
=================  ===========================================================================

The functions take one env's values (numbers) or a batch's (a leading env axis, `reference.tracker.batch_env`):
one definition of each formula.

The reward is the sum; a robot exactly on the reference that does not change its action scores the
maximum, the sum of the positive terms' weights (`max_reward`). Every tracking term lies in [0, w].
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

TERMS: tuple[str, ...] = ("joint", "root_velocity", "vertical_velocity", "root_position", "heading",
                          "height_attitude", "contact", "stance_slip", "ground_slip", "support", "impact",
                          "double_support", "saturation", "action_rate")
#: The penalties: they charge, so they are left out of `max_reward`.
PENALTIES: tuple[str, ...] = ("saturation", "action_rate")


@dataclass
class TrackingErrors:
    """The squared errors (and the contact match) the reward reads; one control step of one env (numbers)
    or of each env of a batch ((N,) arrays)."""

    joint_sq: Any         # sum_j (q_j - q^_j)^2, rad^2
    velocity_sq: Any      # (v_f - v^_f)^2 + (v_l - v^_l)^2, (m/s)^2
    vertical_sq: Any      # (v_z - v^_z)^2, (m/s)^2
    position_sq: Any      # e_x^2 + e_y^2, m^2
    heading_sq: Any       # e_yaw^2, rad^2
    yaw_rate_sq: Any      # (w_z - w^_z)^2, (rad/s)^2
    height_sq: Any        # (z - z^)^2, m^2
    attitude_sq: Any      # (roll - roll^)^2 + (pitch - pitch^)^2, rad^2
    contact_match: Any    # fraction of feet whose contact matches, [0, 1]
    slip_sq: Any          # sum_i c_i s_i^2, (m/s)^2: the squared sliding speed of the feet in contact
    ground_slip_sq: Any   # sum_i exp(-h_i / ground_slip_height) s_i^2, (m/s)^2: as slip_sq, weighted by nearness
    load: Any             # (F_left + F_right) / (m g): the weight the feet carry
    double_support_load: Any  # min(F_left, F_right) / (m g) where the reference has both feet down; inf elsewhere
    saturated_fraction: Any  # share of the servos at their torque limit, [0, 1]
    action_rate_sq: Any   # sum_j (a_j - a_prev_j)^2


def tracking_errors(m: Mapping[str, Any], track: Any, t: Any, position_error: tuple[Any, Any, Any],
                    xmat_root: np.ndarray, action: np.ndarray, prev_action: np.ndarray,
                    weight: float, ground_slip_height: float = 0.01) -> TrackingErrors:
    """The errors of the state whose metrics are `m` (MetricsTracker.compute) against reference frame `t`.

    position_error: (e_x, e_y, e_yaw) of `reference_track.Anchor.errors`. For a batch every argument has a
    leading env axis (`m` of `MetricsTracker.compute_arrays`, `t` the envs' rows of `track`) and so has
    every error. weight: the robot's weight m g, N (the load's unit); ground_slip_height: m, the sole height
    at which ground_slip's weight on a foot falls to 1/e."""
    # x.T[k]: component k of one vector (a number) or of every row of a batch ((N,) view)
    dq = m["joint_pos"] - track.joints[t]
    ref_v = track.velocity[t].T
    w = m["root_ang_vel"].T
    r = xmat_root.T
    # world yaw rate: the world z axis in body coordinates (xmat's third row) dotted with the body rate
    wz = r[6] * w[0] + r[7] * w[1] + r[8] * w[2]
    ex, ey, eh = position_error
    rp = track.roll_pitch[t].T
    contact, ref_c = m["foot_contact"].T, track.contact[t].T
    da = action - prev_action
    slip = m["foot_slip_speed"]
    return TrackingErrors(
        joint_sq=(dq * dq).sum(axis=-1),
        velocity_sq=(m["forward_velocity"] - ref_v[0]) ** 2 + (m["lateral_velocity"] - ref_v[1]) ** 2,
        vertical_sq=(m["vertical_velocity"] - track.vertical_velocity[t]) ** 2,
        position_sq=ex * ex + ey * ey,
        heading_sq=eh * eh,
        yaw_rate_sq=(wz - ref_v[2]) ** 2,
        height_sq=(m["root_height"] - track.height[t]) ** 2,
        attitude_sq=(m["roll"] - rp[0]) ** 2 + (m["pitch"] - rp[1]) ** 2,
        contact_match=0.5 * (contact[0] == ref_c[0]) + 0.5 * (contact[1] == ref_c[1]),
        slip_sq=(m["foot_contact"] * slip * slip).sum(axis=-1),
        ground_slip_sq=(np.exp(-np.maximum(m["foot_height"], 0.0) / ground_slip_height) * slip * slip).sum(axis=-1),
        load=m["foot_force"].sum(axis=-1) / weight,
        double_support_load=np.where(ref_c[0] & ref_c[1], m["foot_force"].min(axis=-1) / weight, np.inf),
        saturated_fraction=np.mean(m["torque_saturated"], axis=-1),
        action_rate_sq=(da * da).sum(axis=-1),
    )


def reward_terms(e: TrackingErrors, cfg: Mapping[str, float]) -> dict[str, Any]:
    """Each weighted term of the module docstring's table (``cfg``: the ``reward:`` section); numbers for
    one env's errors, (N,) arrays for a batch's."""
    exp = np.exp
    return {
        "joint": cfg["joint_weight"] * exp(-cfg["joint_scale"] * e.joint_sq),
        "root_velocity": cfg["root_velocity_weight"] * exp(-cfg["velocity_scale"] * e.velocity_sq),
        "vertical_velocity": cfg["vertical_velocity_weight"] * exp(-cfg["vertical_scale"] * e.vertical_sq),
        "root_position": cfg["root_position_weight"] * exp(-cfg["position_scale"] * e.position_sq),
        "heading": cfg["heading_weight"] * exp(-(cfg["heading_scale"] * e.heading_sq
                                                 + cfg["yaw_rate_scale"] * e.yaw_rate_sq)),
        "height_attitude": cfg["height_attitude_weight"] * exp(-(cfg["height_scale"] * e.height_sq
                                                                 + cfg["attitude_scale"] * e.attitude_sq)),
        "contact": cfg["contact_weight"] * e.contact_match,
        "stance_slip": cfg["stance_slip_weight"] * exp(-cfg["slip_scale"] * e.slip_sq),
        "ground_slip": cfg["ground_slip_weight"] * exp(-cfg["slip_scale"] * e.ground_slip_sq),
        "support": cfg["support_weight"] * np.minimum(1.0, e.load / cfg["support_load"]),
        "impact": cfg["impact_weight"] * exp(-cfg["impact_scale"] * np.maximum(0.0, e.load - cfg["impact_load"]) ** 2),
        "double_support": cfg["double_support_weight"] * np.minimum(1.0, e.double_support_load
                                                                     / cfg["double_support_load"]),
        "saturation": -cfg["saturation_weight"] * e.saturated_fraction,
        "action_rate": -cfg["action_rate_weight"] * e.action_rate_sq,
    }


def tracking_reward(e: TrackingErrors, cfg: Mapping[str, float]) -> tuple[Any, dict[str, Any]]:
    """(reward, weighted terms): numbers for one env, (N,) arrays for a batch."""
    terms = reward_terms(e, cfg)
    return sum(terms.values()), terms


def max_reward(cfg: Mapping[str, float]) -> float:
    """The reward of zero errors, matching contacts, no servo saturated and an unchanged action: the sum of the
    tracking terms' weights."""
    return float(sum(cfg[f"{t}_weight"] for t in TERMS if t not in PENALTIES))
