#!/usr/bin/python3
"""Reference values for the trainer's advantage estimators, losses and rollout corrections.

Written from the formulas in docs/design/algorithms.md (and the header comments of
trainer/advantages.h and trainer/losses.h, which state the same formulas), not from the C++
code: every quantity is computed sample by sample and token by token with Python loops over
float64 torch scalars, and gradients come from torch autograd.

Usage: rl_reference.py OUT.json [--seed N]
Writes random batches with ragged response lengths (inputs) and the expected outputs; the C++
test tests/trainer/rl_math_test.cc runs this script and compares within 1e-9.
"""
import json
import math
import statistics
import sys

import torch

torch.set_default_dtype(torch.float64)


def valid(mask_row):
    return [t for t, m in enumerate(mask_row) if m > 0]


# ---- Advantages -------------------------------------------------------------------------

def token_rewards(score, extra_row, mask_row):
    r = list(extra_row) if extra_row is not None else [0.0] * len(mask_row)
    idx = valid(mask_row)
    if idx:
        r[idx[-1]] += score
    return r


def gae_row(rewards, values, mask_row, gamma, lam):
    adv = [0.0] * len(mask_row)
    next_v, next_a = 0.0, 0.0
    for t in reversed(valid(mask_row)):
        delta = rewards[t] + gamma * next_v - values[t]
        a = delta + gamma * lam * next_a
        adv[t] = a
        next_v, next_a = values[t], a
    return adv


def whiten(rows, mask):
    xs = [rows[i][t] for i in range(len(rows)) for t in valid(mask[i])]
    n = len(xs)
    mean = sum(xs) / n
    var = sum((x - mean) ** 2 for x in xs) / (n - 1) if n >= 2 else 0.0
    scale = 1.0 / math.sqrt(var + 1e-8)
    return [[(rows[i][t] - mean) * scale if mask[i][t] > 0 else 0.0 for t in range(len(mask[i]))]
            for i in range(len(rows))]


def groups_of(group_ids):
    g = {}
    for i, gid in enumerate(group_ids):
        g.setdefault(gid, []).append(i)
    return g


def group_adv(scores, group_ids, kind):
    out = [0.0] * len(scores)
    for gid, idx in groups_of(group_ids).items():
        rs = [scores[i] for i in idx]
        n = len(rs)
        mean = sum(rs) / n
        for i in idx:
            if kind == "rloo":
                out[i] = scores[i] - (sum(rs) - scores[i]) / (n - 1)
            elif n < 2:
                out[i] = 0.0
            elif kind == "mean_std":
                out[i] = (scores[i] - mean) / (statistics.stdev(rs) + 1e-6)
            else:
                out[i] = scores[i] - mean
    return out


def broadcast(per_sample, mask):
    return [[per_sample[i] if m > 0 else 0.0 for m in mask[i]] for i in range(len(mask))]


def returns_row(rewards, mask_row, gamma):
    out = [0.0] * len(mask_row)
    g = 0.0
    for t in reversed(valid(mask_row)):
        g = rewards[t] + gamma * g
        out[t] = g
    return out


def advantages(b, kind, opts):
    mask, scores, extra = b["mask"], b["scores"], b.get("token_rewards")
    B = len(mask)
    use_extra = opts.get("token_rewards", False)
    ex = (lambda i: extra[i]) if use_extra else (lambda i: None)
    if kind == "gae":
        values = [[b["values"][i][t] * mask[i][t] for t in range(len(mask[i]))] for i in range(B)]
        adv, ret = [], []
        for i in range(B):
            r = token_rewards(scores[i], ex(i), mask[i])
            lam = opts["lam"]
            if opts.get("alpha", 0) > 0:  # VAPO: lam = 1 - 1 / (alpha * length)
                n = len(valid(mask[i]))
                lam = min(1.0, max(0.0, 1.0 - 1.0 / (opts["alpha"] * n))) if n else 0.0
            adv.append(gae_row(r, values[i], mask[i], opts["gamma"], lam))
            a_c = gae_row(r, values[i], mask[i], opts["gamma"], opts["lam_critic"])
            ret.append([(a_c[t] + values[i][t]) if mask[i][t] > 0 else 0.0
                        for t in range(len(mask[i]))])
        if opts.get("whiten", True):
            adv = whiten(adv, mask)
        return adv, ret
    if kind in ("reinforce_pp", "reinforce_pp_baseline"):
        s = scores if kind == "reinforce_pp" else group_adv(scores, b["group_ids"], "mean")
        ret = [returns_row(token_rewards(s[i], ex(i), mask[i]), mask[i], opts["gamma"])
               for i in range(B)]
        return whiten(ret, mask), ret
    s = list(scores)
    if use_extra:
        s = [s[i] + sum(extra[i][t] for t in valid(mask[i])) for i in range(B)]
    per = group_adv(s, b["group_ids"], kind)
    a = broadcast(per, mask)
    return a, a


# ---- Losses ------------------------------------------------------------------------------

def aggregate(loss, mask, mode, norm):
    """loss: list of lists of 0-d tensors (or floats)."""
    B = len(mask)
    n_tok = sum(len(valid(mask[i])) for i in range(B))
    n_seq = sum(1 for i in range(B) if valid(mask[i]))
    total = torch.zeros(())
    for i in range(B):
        idx = valid(mask[i])
        if not idx:
            continue
        row = sum((loss[i][t] for t in idx), torch.zeros(()))
        if mode == "token-mean":
            total = total + row / n_tok
        elif mode == "seq-mean-token-sum":
            total = total + row / n_seq
        elif mode == "seq-mean-token-mean":
            total = total + row / len(idx) / n_seq
        elif mode == "seq-mean-token-sum-norm":
            total = total + row / (n_seq * norm)
        else:
            raise ValueError(mode)
    return total


def ppo_token(lp, old, a, lo, hi, c):
    ratio = torch.exp(torch.clamp(lp - old, -20.0, 20.0))
    pg1 = -a * ratio
    pg2 = -a * torch.clamp(ratio, 1.0 - lo, 1.0 + hi)
    pg = torch.maximum(pg1, pg2)
    clipped = bool(pg2 > pg1)
    lower = False
    if c > 0 and a < 0:
        pg3 = torch.tensor(-a * c)
        lower = bool(pg > pg3)
        pg = torch.minimum(pg, pg3)
    return pg, clipped, lower


def cispo_token(lp, old, a, lo, hi):
    ratio = torch.exp(torch.clamp(lp.detach() - old, -20.0, 20.0))
    weight = torch.clamp(ratio, 1.0 - lo, 1.0 + hi)  # a constant: no gradient through it
    return -weight * a * lp, bool(ratio < 1.0 - lo or ratio > 1.0 + hi)


def policy_loss(b, lp, case):
    mask, old, adv = b["mask"], b["old_log_probs"], case_adv(b, case)
    B, T = len(mask), len(mask[0])
    n_tok = sum(len(valid(m)) for m in mask)
    kind, mode, norm = case["kind"], case.get("mode", "token-mean"), b["norm"]
    metrics = {"clipfrac": 0.0, "clipfrac_lower": 0.0}
    if kind == "ppo":
        loss = [[None] * T for _ in range(B)]
        for i in range(B):
            for t in valid(mask[i]):
                pg, cl, lower = ppo_token(lp[i, t], old[i][t], adv[i][t], case["lo"], case["hi"],
                                          case["c"])
                loss[i][t] = pg
                metrics["clipfrac"] += cl / n_tok
                metrics["clipfrac_lower"] += lower / n_tok
        return aggregate(loss, mask, mode, norm), metrics
    if kind == "cispo":
        loss = [[None] * T for _ in range(B)]
        for i in range(B):
            for t in valid(mask[i]):
                loss[i][t], cl = cispo_token(lp[i, t], old[i][t], adv[i][t], case["lo"],
                                             case["hi"])
                metrics["clipfrac"] += cl / n_tok
        return aggregate(loss, mask, mode, norm), metrics
    if kind == "gspo":
        loss = [[None] * T for _ in range(B)]
        for i in range(B):
            idx = valid(mask[i])
            if not idx:
                continue
            s_i = torch.exp(sum((lp[i, t] - old[i][t] for t in idx), torch.zeros(())) / len(idx))
            for t in idx:
                s_it = s_i.detach() * torch.exp(lp[i, t] - lp[i, t].detach())
                pg1 = -adv[i][t] * s_it
                pg2 = -adv[i][t] * torch.clamp(s_it, 1.0 - case["lo"], 1.0 + case["hi"])
                loss[i][t] = torch.maximum(pg1, pg2)
                metrics["clipfrac"] += bool(pg2 > pg1) / n_tok
        return aggregate(loss, mask, mode, norm), metrics
    if kind == "kimi":
        total = torch.zeros(())
        n_seq = sum(1 for m in mask if valid(m))
        for i in range(B):
            idx = valid(mask[i])
            if not idx:
                continue
            s = sum((lp[i, t] for t in idx), torch.zeros(()))
            s_old = sum(old[i][t] for t in idx)
            a_i = adv[i][idx[0]]
            total = total + (-a_i * s + case["tau"] / 2 * (s - s_old) ** 2) / n_seq
        return total, metrics
    if kind.startswith("kl_"):
        ref = b["ref_log_probs"]
        loss = [[None] * T for _ in range(B)]
        for i in range(B):
            for t in valid(mask[i]):
                d = lp[i, t] - ref[i][t]
                est = kind[3:]
                if est == "k1":
                    v = d
                elif est == "k2":
                    v = 0.5 * d * d
                elif est == "abs":
                    v = torch.abs(d)
                else:  # k3: r - 1 - log r with r = pi_ref / pi
                    log_r = torch.clamp(-d, -20.0, 20.0)
                    v = torch.clamp(torch.exp(log_r) - 1.0 - log_r, -10.0, 10.0)
                loss[i][t] = v
        return aggregate(loss, mask, mode, norm), metrics
    if kind == "nll":
        pos = b["positive"]
        n_pos = sum(len(valid(mask[i])) for i in range(B) if pos[i])
        total = torch.zeros(())
        for i in range(B):
            if pos[i]:
                for t in valid(mask[i]):
                    total = total - lp[i, t] / n_pos
        return total, metrics
    raise ValueError(kind)


def case_adv(b, case):
    if case["kind"] == "kimi":  # one advantage per sample
        return broadcast(b["seq_advantages"], b["mask"])
    return b["advantages"]


def value_loss(b, v, case):
    mask, old, ret = b["mask"], b["old_values"], b["returns"]
    B, T = len(mask), len(mask[0])
    n_tok = sum(len(valid(m)) for m in mask)
    eps = case["cliprange"]
    loss = [[None] * T for _ in range(B)]
    clipfrac = 0.0
    for i in range(B):
        for t in valid(mask[i]):
            clipped = old[i][t] + torch.clamp(v[i, t] - old[i][t], -eps, eps)
            vf1 = (v[i, t] - ret[i][t]) ** 2
            vf2 = (clipped - ret[i][t]) ** 2
            loss[i][t] = torch.maximum(vf1, vf2)
            clipfrac += bool(vf2 > vf1) / n_tok
    return 0.5 * aggregate(loss, mask, case["mode"], b["norm"]), clipfrac


# ---- Rollout corrections (trainer/rollout_correction.h) -----------------------------------

def rollout_correction(b, case):
    """Per-token weights, the loss mask left, and the metrics."""
    mask, old, beh = b["mask"], b["old_log_probs"], b["behaviour_log_probs"]
    cap = case["cap"]
    n_tok = sum(len(valid(m)) for m in mask)
    weights = [[1.0] * len(m) for m in mask]
    kept = [list(m) for m in mask]
    metrics = {}
    for i in range(len(mask)):
        for t in valid(mask[i]):
            ratio = math.exp(min(max(old[i][t] - beh[i][t], -20.0), 20.0))
            if case["name"] == "tis":  # w = min(pi_old / pi_behaviour, C)
                weights[i][t] = min(ratio, cap)
                metrics["rollout_corr/tis_weight/mean"] = (
                    metrics.get("rollout_corr/tis_weight/mean", 0.0) + min(ratio, cap) / n_tok)
                metrics["rollout_corr/tis_capped_frac"] = (
                    metrics.get("rollout_corr/tis_capped_frac", 0.0) + (ratio > cap) / n_tok)
            elif case["name"] == "token_mask":  # drop tokens whose ratio leaves [1/C, C]
                drop = not (1.0 / cap <= ratio <= cap)
                if drop:
                    kept[i][t] = 0.0
                metrics["rollout_corr/masked_frac"] = (
                    metrics.get("rollout_corr/masked_frac", 0.0) + drop / n_tok)
            else:
                raise ValueError(case["name"])
    return weights, kept, metrics


def corrected_ppo_loss(b, lp, case, weights, kept):
    """PPO's loss with each token's term times its weight, over the tokens kept."""
    B, T = len(kept), len(kept[0])
    loss = [[None] * T for _ in range(B)]
    for i in range(B):
        for t in valid(kept[i]):
            pg, _, _ = ppo_token(lp[i, t], b["old_log_probs"][i][t], b["advantages"][i][t], 0.2,
                                 0.28, 3.0)
            loss[i][t] = pg * weights[i][t]
    return aggregate(loss, kept, case["mode"], b["norm"])


CORRECTION_CASES = [
    {"name": "tis", "cap": 2.0, "mode": "token-mean"},
    {"name": "tis", "cap": 1.5, "mode": "seq-mean-token-mean"},
    {"name": "token_mask", "cap": 2.0, "mode": "token-mean"},
    {"name": "token_mask", "cap": 1.3, "mode": "seq-mean-token-mean"},
]


# ---- Random batches ----------------------------------------------------------------------

def rand_list(g, *shape, scale=1.0):
    return (torch.randn(*shape, generator=g) * scale).tolist()


def make_batch(g, B, T, group_sizes, empty_row=False):
    lengths = torch.randint(1, T + 1, (B,), generator=g).tolist()
    lengths[0] = T  # at least one full row
    if empty_row:
        lengths[-1] = 0  # a fully masked sample (e.g. truncated and masked)
    mask = [[1.0 if t < lengths[i] else 0.0 for t in range(T)] for i in range(B)]
    group_ids = []
    for gid, n in enumerate(group_sizes):
        group_ids += [10 * gid + 3] * n
    assert len(group_ids) == B
    scores = [float(x) for x in torch.randint(0, 2, (B,), generator=g).tolist()]
    scores = [s + 0.1 * x for s, x in zip(scores, rand_list(g, B))]
    old = rand_list(g, B, T, scale=1.0)
    old = [[-abs(x) - 0.05 for x in row] for row in old]
    noise = torch.randn(B, T, generator=g) * 0.25
    big = torch.rand(B, T, generator=g) < 0.1  # a few large moves: dual clip, clamps
    noise = torch.where(big, noise * 6.0, noise)
    lp = [[old[i][t] + noise[i, t].item() for t in range(T)] for i in range(B)]
    ref = [[old[i][t] + x for t, x in enumerate(row)] for i, row in enumerate(rand_list(g, B, T, scale=0.3))]
    pos = [bool(x) for x in torch.randint(0, 2, (B,), generator=g).tolist()]
    pos[0] = True
    # The rollout engine's log-probs: near pi_old, a few far from it (rollout corrections).
    drift = torch.randn(B, T, generator=g) * 0.3
    far = torch.rand(B, T, generator=g) < 0.15
    drift = torch.where(far, drift * 4.0, drift)
    behaviour = [[old[i][t] + drift[i, t].item() for t in range(T)] for i in range(B)]
    return {
        "B": B, "T": T, "mask": mask, "group_ids": group_ids, "scores": scores,
        "values": rand_list(g, B, T), "token_rewards": rand_list(g, B, T, scale=0.05),
        "log_probs": lp, "old_log_probs": old, "ref_log_probs": ref,
        "behaviour_log_probs": behaviour,
        "advantages": rand_list(g, B, T), "seq_advantages": rand_list(g, B),
        "old_values": rand_list(g, B, T), "returns": rand_list(g, B, T),
        "positive": pos, "norm": 7.5,
    }


MODES = ["token-mean", "seq-mean-token-sum", "seq-mean-token-mean", "seq-mean-token-sum-norm"]

ADV_CASES = [
    ("gae", "gae", {"gamma": 1.0, "lam": 0.95, "lam_critic": 1.0, "token_rewards": True}),
    ("gae_discounted", "gae", {"gamma": 0.9, "lam": 0.8, "lam_critic": 0.7, "whiten": False}),
    ("gae_vapo", "gae", {"gamma": 1.0, "lam": 0.95, "lam_critic": 1.0, "alpha": 0.3,
                         "token_rewards": True}),
    ("grpo", "mean_std", {}),
    ("grpo_kl_in_reward", "mean_std", {"token_rewards": True}),
    ("dr_grpo", "mean", {}),
    ("rloo", "rloo", {}),
    ("reinforce_pp", "reinforce_pp", {"gamma": 1.0, "token_rewards": True}),
    ("reinforce_pp_discounted", "reinforce_pp", {"gamma": 0.9}),
    ("reinforce_pp_baseline", "reinforce_pp_baseline", {"gamma": 1.0, "token_rewards": True}),
]


def loss_cases():
    cases = []
    for mode in MODES:
        cases.append({"kind": "ppo", "mode": mode, "lo": 0.2, "hi": 0.2, "c": 0.0})
        cases.append({"kind": "ppo", "mode": mode, "lo": 0.2, "hi": 0.28, "c": 3.0})
        cases.append({"kind": "gspo", "mode": mode, "lo": 0.2, "hi": 0.28})
        cases.append({"kind": "cispo", "mode": mode, "lo": 0.2, "hi": 0.28})
        for est in ["k1", "k2", "k3", "abs"]:
            cases.append({"kind": "kl_" + est, "mode": mode})
    cases.append({"kind": "gspo", "mode": "seq-mean-token-mean", "lo": 3e-4, "hi": 4e-4})
    cases.append({"kind": "cispo", "mode": "token-mean", "lo": 1.0, "hi": 2.0})  # MiniMax-M1
    cases.append({"kind": "kimi", "tau": 0.1})
    cases.append({"kind": "kimi", "tau": 0.5})
    cases.append({"kind": "nll"})
    return cases


def main():
    out_path = sys.argv[1]
    seed = int(sys.argv[sys.argv.index("--seed") + 1]) if "--seed" in sys.argv else 1234
    g = torch.Generator().manual_seed(seed)
    batches = [make_batch(g, 8, 9, [4, 4]), make_batch(g, 7, 6, [3, 2, 2], empty_row=True),
               make_batch(g, 6, 11, [1, 2, 3])]
    for bi, b in enumerate(batches):
        b["adv_cases"] = []
        for name, kind, opts in ADV_CASES:
            if kind == "rloo" and min(len(v) for v in groups_of(b["group_ids"]).values()) < 2:
                continue
            adv, ret = advantages(b, kind, opts)
            b["adv_cases"].append({"name": name, "kind": kind, "options": opts,
                                   "advantages": adv, "returns": ret})
        b["loss_cases"] = []
        for case in loss_cases():
            lp = torch.tensor(b["log_probs"], requires_grad=True)
            value, metrics = policy_loss(b, lp, case)
            value.backward()
            grad = lp.grad if lp.grad is not None else torch.zeros_like(lp)
            b["loss_cases"].append(dict(case, value=value.item(), grad=grad.tolist(), **metrics))
        b["value_cases"] = []
        for mode in MODES:
            for eps in [0.2, 0.5]:
                v = torch.tensor(b["values"], requires_grad=True)
                case = {"mode": mode, "cliprange": eps}
                value, clipfrac = value_loss(b, v, case)
                value.backward()
                b["value_cases"].append(dict(case, value=value.item(), grad=v.grad.tolist(),
                                             clipfrac=clipfrac))
        b["correction_cases"] = []
        for case in CORRECTION_CASES:
            weights, kept, metrics = rollout_correction(b, case)
            lp = torch.tensor(b["log_probs"], requires_grad=True)
            value = corrected_ppo_loss(b, lp, case, weights, kept)
            value.backward()
            b["correction_cases"].append(dict(case, weights=weights, mask=kept, metrics=metrics,
                                              value=value.item(), grad=lp.grad.tolist()))
    with open(out_path, "w") as f:
        json.dump({"seed": seed, "batches": batches}, f)


if __name__ == "__main__":
    main()
