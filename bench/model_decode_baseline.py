#!/usr/bin/python3
"""PyTorch eager baseline for bench_model_decode: greedy decoding (one sequence, or a batch of
equal-length rows) of a LLaMA/Qwen2-family Hugging Face folder, written the way transformers'
eager LlamaForCausalLM runs `generate` (per-layer KV cache grown with torch.cat, repeat_kv,
matmul-softmax-matmul attention in float32), without transformers itself (not installed here).

Prints one JSON line: {"tokens_per_s": ..., "seconds": [...], "ids": [...]}.
"""
import argparse
import json
import math
import os
import struct
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
        dtype = DTYPES[entry["dtype"]]
        out[name] = torch.frombuffer(raw, dtype=dtype).reshape(entry["shape"]).to(torch.float32)
    return out


def load(folder):
    with open(os.path.join(folder, "config.json")) as f:
        cfg = json.load(f)
    index = os.path.join(folder, "model.safetensors.index.json")
    weights = {}
    if os.path.exists(index):
        with open(index) as f:
            for shard in sorted(set(json.load(f)["weight_map"].values())):
                weights.update(read_safetensors(os.path.join(folder, shard)))
    else:
        weights = read_safetensors(os.path.join(folder, "model.safetensors"))
    return cfg, weights


class Llama:
    def __init__(self, cfg, w):
        self.cfg, self.w = cfg, w
        self.heads = cfg["num_attention_heads"]
        self.kv_heads = cfg.get("num_key_value_heads", self.heads)
        self.head_dim = cfg.get("head_dim") or cfg["hidden_size"] // self.heads
        self.eps = cfg["rms_norm_eps"]
        self.layers = cfg["num_hidden_layers"]
        inv_freq = 1.0 / (cfg.get("rope_theta", 10000.0) **
                          (torch.arange(0, self.head_dim, 2, dtype=torch.int64).float() /
                           self.head_dim))
        t = torch.arange(cfg["max_position_embeddings"]).float()
        freqs = torch.outer(t, inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        self.cos, self.sin = emb.cos(), emb.sin()
        self.lm_head = w.get("lm_head.weight", w["model.embed_tokens.weight"])

    def rms(self, x, weight):
        x32 = x.to(torch.float32)
        x32 = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        return weight * x32.to(x.dtype)

    @staticmethod
    def rotate_half(x):
        x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
        return torch.cat((-x2, x1), dim=-1)

    @staticmethod
    def repeat_kv(x, n_rep):
        b, h, t, d = x.shape
        if n_rep == 1:
            return x
        return x[:, :, None, :, :].expand(b, h, n_rep, t, d).reshape(b, h * n_rep, t, d)

    def linear(self, name, x):
        return F.linear(x, self.w[name + ".weight"], self.w.get(name + ".bias"))

    def forward(self, ids, cache):
        """ids [1, T]; cache: list of (k, v) per layer or None; returns logits, new cache."""
        b, t = ids.shape
        past = 0 if cache[0] is None else cache[0][0].shape[2]
        pos = torch.arange(past, past + t)
        cos, sin = self.cos[pos][None, None], self.sin[pos][None, None]
        x = F.embedding(ids, self.w["model.embed_tokens.weight"])
        mask = None
        if t > 1:
            mask = torch.full((t, past + t), float("-inf")).triu(past + 1)
        for l in range(self.layers):
            p = f"model.layers.{l}."
            h = self.rms(x, self.w[p + "input_layernorm.weight"])
            q = self.linear(p + "self_attn.q_proj", h).view(b, t, self.heads, self.head_dim)
            k = self.linear(p + "self_attn.k_proj", h).view(b, t, self.kv_heads, self.head_dim)
            v = self.linear(p + "self_attn.v_proj", h).view(b, t, self.kv_heads, self.head_dim)
            q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
            q = q * cos + self.rotate_half(q) * sin
            k = k * cos + self.rotate_half(k) * sin
            if cache[l] is not None:
                k = torch.cat([cache[l][0], k], dim=2)
                v = torch.cat([cache[l][1], v], dim=2)
            cache[l] = (k, v)
            n_rep = self.heads // self.kv_heads
            kr, vr = self.repeat_kv(k, n_rep), self.repeat_kv(v, n_rep)
            scores = torch.matmul(q, kr.transpose(2, 3)) / math.sqrt(self.head_dim)
            if mask is not None:
                scores = scores + mask
            probs = torch.softmax(scores, dim=-1, dtype=torch.float32).to(q.dtype)
            a = torch.matmul(probs, vr).transpose(1, 2).reshape(b, t, -1)
            x = x + self.linear(p + "self_attn.o_proj", a)
            h = self.rms(x, self.w[p + "post_attention_layernorm.weight"])
            gate = self.linear(p + "mlp.gate_proj", h)
            up = self.linear(p + "mlp.up_proj", h)
            x = x + self.linear(p + "mlp.down_proj", F.silu(gate) * up)
        x = self.rms(x, self.w["model.norm.weight"])
        return F.linear(x[:, -1:], self.lm_head).float(), cache


def greedy(model, first, n, batch=1):
    """Greedy decoding of `batch` rows started from tokens first, first+1, ...; returns the
    ids of row 0."""
    ids = []
    cache = [None] * model.layers
    token = torch.arange(first, first + batch)[:, None]
    for _ in range(n):
        logits, cache = model.forward(token, cache)
        token = logits[:, -1].argmax(-1)[:, None]
        ids.append(int(token[0, 0]))
    return ids


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--tokens", type=int, default=256)
    ap.add_argument("--first", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg, w = load(args.model)
    model = Llama(cfg, w)
    seconds, ids = [], []
    with torch.inference_mode():
        greedy(model, args.first, 8, args.batch)  # warm-up
        for _ in range(args.repeats):
            start = time.perf_counter()
            ids = greedy(model, args.first, args.tokens, args.batch)
            seconds.append(time.perf_counter() - start)
    print(json.dumps({"tokens_per_s": args.batch * args.tokens / min(seconds), "seconds": seconds,
                      "ids": ids}))


if __name__ == "__main__":
    main()
