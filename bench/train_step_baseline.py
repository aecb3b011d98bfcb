#!/usr/bin/python3
"""PyTorch eager baseline for bench_train_step: one RL training step (forward with per-token
log-probs and entropy, GRPO advantages, PPO clipped loss, backward, global-norm clipping,
AdamW) on a LLaMA/Qwen2-family Hugging Face folder, written the way transformers' eager
LlamaForCausalLM computes it (matmul-softmax-matmul attention with a causal mask, repeat_kv,
rotate_half RoPE, float32) and the way TRL/verl compute the loss, without those libraries
(not installed here).

The batch is right-padded to its longest row, as a transformers data collator does, and the
whole batch goes through one forward and backward.

Input: --model FOLDER (config.json + model.safetensors), --batch FILE (JSON written by the
benchmark: token rows, prompt lengths, scores, groups, behaviour log-prob, hyper-parameters).
After a warm-up step, prints one JSON line: {"tokens" (real), "padded_tokens", "first":
{"entropy", "grad_norm", "pg_loss"}}; then each line "step" on stdin runs one timed step and
prints its seconds (the benchmark alternates these with its own steps), until end of input.
"""
import argparse
import json
import math
import os
import struct
import sys
import time

import torch
import torch.nn.functional as F

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    out = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        raw = bytearray(data[8 + n + begin:8 + n + end])
        out[name] = torch.frombuffer(raw, dtype=DTYPES[entry["dtype"]]).reshape(
            entry["shape"]).to(torch.float32)
    return out


class Llama:
    def __init__(self, cfg, weights):
        self.cfg = cfg
        self.w = {k: v.clone().requires_grad_(True) for k, v in weights.items()
                  if not k.startswith("value_head.")}
        self.heads = cfg["num_attention_heads"]
        self.kv_heads = cfg.get("num_key_value_heads", self.heads)
        self.head_dim = cfg.get("head_dim") or cfg["hidden_size"] // self.heads
        self.eps = cfg["rms_norm_eps"]
        inv_freq = 1.0 / (cfg.get("rope_theta", 10000.0) ** (
            torch.arange(0, self.head_dim, 2, dtype=torch.int64).float() / self.head_dim))
        t = torch.arange(cfg["max_position_embeddings"]).float()
        emb = torch.cat((torch.outer(t, inv_freq),) * 2, dim=-1)
        self.cos, self.sin = emb.cos(), emb.sin()

    def params(self):
        return list(self.w.values())

    def linear(self, name, x):
        y = x @ self.w[name + ".weight"].t()
        b = self.w.get(name + ".bias")
        return y + b if b is not None else y

    def rms(self, x, weight):
        return weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))

    @staticmethod
    def rotate_half(x):
        x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
        return torch.cat((-x2, x1), dim=-1)

    def forward(self, ids, attention_mask):
        B, L = ids.shape
        x = F.embedding(ids, self.w["model.embed_tokens.weight"])
        cos, sin = self.cos[:L], self.sin[:L]  # right padding: positions are 0..L-1
        neg = torch.finfo(torch.float32).min
        # transformers' 4D mask: causal, and padding keys masked for every query.
        mask = torch.full((L, L), neg).triu(1)[None, None, :, :].expand(B, 1, L, L).clone()
        mask = mask.masked_fill(attention_mask[:, None, None, :] == 0, neg)
        for i in range(self.cfg["num_hidden_layers"]):
            p = f"model.layers.{i}."
            h = self.rms(x, self.w[p + "input_layernorm.weight"])
            q = self.linear(p + "self_attn.q_proj", h).view(B, L, self.heads, -1).transpose(1, 2)
            k = self.linear(p + "self_attn.k_proj", h).view(B, L, self.kv_heads, -1).transpose(1, 2)
            v = self.linear(p + "self_attn.v_proj", h).view(B, L, self.kv_heads, -1).transpose(1, 2)
            q = q * cos + self.rotate_half(q) * sin
            k = k * cos + self.rotate_half(k) * sin
            rep = self.heads // self.kv_heads
            k = k.repeat_interleave(rep, dim=1)
            v = v.repeat_interleave(rep, dim=1)
            scores = q @ k.transpose(2, 3) / math.sqrt(self.head_dim) + mask
            attn = torch.softmax(scores, dim=-1, dtype=torch.float32) @ v
            attn = attn.transpose(1, 2).reshape(B, L, -1)
            x = x + self.linear(p + "self_attn.o_proj", attn)
            h = self.rms(x, self.w[p + "post_attention_layernorm.weight"])
            x = x + self.linear(p + "mlp.down_proj",
                                F.silu(self.linear(p + "mlp.gate_proj", h)) *
                                self.linear(p + "mlp.up_proj", h))
        x = self.rms(x, self.w["model.norm.weight"])
        head = self.w.get("lm_head.weight", self.w["model.embed_tokens.weight"])
        return x @ head.t()


def grpo_advantages(scores, groups):
    adv = [0.0] * len(scores)
    members = {}
    for i, g in enumerate(groups):
        members.setdefault(g, []).append(i)
    for idx in members.values():
        r = torch.tensor([scores[i] for i in idx], dtype=torch.float64)
        if len(idx) < 2:
            continue
        a = (r - r.mean()) / (r.std() + 1e-6)
        for k, i in enumerate(idx):
            adv[i] = a[k].item()
    return torch.tensor(adv, dtype=torch.float32)


def pad(rows, prompt_lens):
    """Right-pads a ragged batch the way a transformers collator does: ids, attention mask,
    and for each row the response tokens' mask (aligned with ids[:, 1:])."""
    L = max(len(r) for r in rows)
    ids = torch.zeros(len(rows), L, dtype=torch.int64)
    attn = torch.zeros(len(rows), L, dtype=torch.int64)
    resp = torch.zeros(len(rows), L - 1)
    for i, (r, p) in enumerate(zip(rows, prompt_lens)):
        ids[i, :len(r)] = torch.tensor(r)
        attn[i, :len(r)] = 1
        resp[i, p - 1:len(r) - 1] = 1
    return ids, attn, resp


def step(model, opt, ids, attn, resp, adv, old_logp, hp):
    logits = model.forward(ids, attn)
    logp_all = torch.log_softmax(logits[:, :-1], dim=-1)
    logp = logp_all.gather(2, ids[:, 1:].unsqueeze(2)).squeeze(2)
    entropy = -(logp_all.exp() * logp_all).sum(-1)
    a = adv.unsqueeze(1)
    ratio = torch.exp(torch.clamp(logp - old_logp, -20, 20))
    pg = torch.maximum(-a * ratio, -a * torch.clamp(ratio, 1 - hp["clip_low"], 1 + hp["clip_high"]))
    pg = torch.where(a < 0, torch.minimum(pg, -a * hp["clip_c"]), pg)
    # seq-mean-token-mean over the response tokens
    loss = ((pg * resp).sum(1) / resp.sum(1)).mean()
    opt.zero_grad(set_to_none=True)
    loss.backward()
    norm = torch.nn.utils.clip_grad_norm_(model.params(), hp["grad_clip"])
    opt.step()
    return {"entropy": ((entropy * resp).sum() / resp.sum()).item(), "grad_norm": norm.item(),
            "pg_loss": loss.item()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--batch", required=True)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    with open(os.path.join(args.model, "config.json")) as f:
        cfg = json.load(f)
    model = Llama(cfg, read_safetensors(os.path.join(args.model, "model.safetensors")))
    with open(args.batch) as f:
        batch = json.load(f)
    hp = batch["hyper"]
    ids, attn, resp = pad(batch["tokens"], batch["prompt_lens"])
    adv = grpo_advantages(batch["scores"], batch["groups"])
    old_logp = torch.full(resp.shape, batch["behaviour_log_prob"])
    opt = torch.optim.AdamW(model.params(), lr=hp["lr"], betas=(0.9, 0.999), eps=1e-8,
                            weight_decay=hp["weight_decay"])
    first = step(model, opt, ids, attn, resp, adv, old_logp, hp)  # warm-up, also the check
    print(json.dumps({"tokens": int(attn.sum()), "padded_tokens": ids.numel(), "first": first}),
          flush=True)
    for line in sys.stdin:
        if line.strip() != "step":
            break
        start = time.perf_counter()
        step(model, opt, ids, attn, resp, adv, old_logp, hp)
        print(time.perf_counter() - start, flush=True)


if __name__ == "__main__":
    main()
