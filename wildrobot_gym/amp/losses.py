"""The discriminator's loss (least squares + gradient penalty), its batch metrics and one update step."""
from __future__ import annotations

import numpy as np
import torch as th

from wildrobot_gym.amp.discriminator import AMPDiscriminatorNet


def least_squares_loss(logits_real: th.Tensor, logits_fake: th.Tensor) -> th.Tensor:
    """LSGAN loss with targets +1 (real) and -1 (fake): E[(d_r - 1)^2] + E[(d_f + 1)^2]."""
    return ((logits_real - 1.0) ** 2).mean() + ((logits_fake + 1.0) ** 2).mean()


def gradient_penalty(logits: th.Tensor, inputs: th.Tensor, mask: th.Tensor | None = None) -> th.Tensor:
    """E[|grad_x D(x)|^2] over a batch; `inputs` must require grad and have produced `logits`.

    `mask` restricts the norm to kept columns (dropped ones carry no signal and need no penalty).
    The graph is kept (create_graph) so that the penalty trains the discriminator.
    """
    (grad,) = th.autograd.grad(logits.sum(), inputs, create_graph=True)
    if mask is not None:
        grad = grad * mask
    return grad.pow(2).sum(dim=-1).mean()


def roc_auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """Rank-based ROC AUC (Mann-Whitney U; ties count 1/2): P(score_pos > score_neg)."""
    pos, neg = np.asarray(pos, dtype=np.float64).ravel(), np.asarray(neg, dtype=np.float64).ravel()
    n_pos, n_neg = len(pos), len(neg)
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    scores = np.concatenate([pos, neg])
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    starts = np.cumsum(counts) - counts  # 0-based first rank of each distinct value
    avg_rank = starts + (counts + 1) / 2.0  # 1-based average rank of a tie group
    r_pos = avg_rank[inverse[:n_pos]].sum()
    return float((r_pos - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def disc_metrics(logits_real: th.Tensor, logits_fake: th.Tensor, saturation: float = 5.0) -> dict[str, float]:
    """Classification statistics of one batch (threshold 0: the midpoint of the +-1 targets)."""
    lr = logits_real.detach().cpu().double().numpy()
    lf = logits_fake.detach().cpu().double().numpy()
    both = np.concatenate([lr, lf])
    style = np.clip(1.0 - 0.25 * (lf - 1.0) ** 2, 0.0, None)
    return {
        "amp/accuracy": float(0.5 * ((lr > 0).mean() + (lf < 0).mean())),
        "amp/auc": roc_auc(lr, lf),
        "amp/expert_logit_mean": float(lr.mean()),
        "amp/policy_logit_mean": float(lf.mean()),
        "amp/max_abs_logit": float(np.abs(both).max()),
        "amp/saturated_fraction": float((np.abs(both) >= saturation).mean()),
        "amp/style_reward_mean": float(style.mean()),
        "amp/style_reward_var": float(style.var()),
    }


def discriminator_update(
    net: AMPDiscriminatorNet,
    optimizer: th.optim.Optimizer,
    real_state: th.Tensor,
    real_next: th.Tensor,
    fake_state: th.Tensor,
    fake_next: th.Tensor,
    *,
    grad_penalty_weight: float = 10.0,
    input_noise_std: float = 0.0,
    saturation: float = 5.0,
    update_normalizer: bool = True,
    min_style_reward: float | None = None,
) -> dict[str, float]:
    """One gradient step of loss = LSQ + (w_gp / 2) GP(real); returns the batch's `disc_metrics` plus
    ``amp/disc_loss``, ``amp/lsq_loss``, ``amp/grad_penalty`` (logits are those before the step) and
    ``amp/update_skipped``.

    `min_style_reward` holds the discriminator back: when the policy batch's mean style reward is already
    below it, the step is skipped (``amp/update_skipped`` 1) and the weights stay as they are. A judge that
    wins outright pays the policy nothing to learn from (docs/results/phase3_walking.md)."""
    if update_normalizer:
        net.update_normalizer(real_state, real_next, fake_state, fake_next)
    mask = net.input_mask()
    x_real = net.disc_input(real_state, real_next)
    x_fake = net.disc_input(fake_state, fake_next)
    if input_noise_std > 0:
        x_real = x_real + input_noise_std * th.randn_like(x_real) * mask
        x_fake = x_fake + input_noise_std * th.randn_like(x_fake) * mask
    x_real = x_real.detach().requires_grad_(True)
    d_real, d_fake = net.head(x_real), net.head(x_fake)
    lsq = least_squares_loss(d_real, d_fake)
    gp = gradient_penalty(d_real, x_real, mask)
    loss = lsq + 0.5 * grad_penalty_weight * gp
    out = disc_metrics(d_real, d_fake, saturation)
    skip = min_style_reward is not None and out["amp/style_reward_mean"] < min_style_reward
    if not skip:
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    out.update({"amp/disc_loss": float(loss.detach()), "amp/lsq_loss": float(lsq.detach()),
                "amp/grad_penalty": float(gp.detach()), "amp/update_skipped": float(skip)})
    return out
