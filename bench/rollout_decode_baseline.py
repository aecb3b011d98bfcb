#!/usr/bin/python3
"""PyTorch eager baseline for bench_rollout_decode: batched sampling with a KV cache, the work
the rollout engine does per request, on the same weights (a Hugging Face folder).

B prompts of P tokens are prefilled in one forward pass, then N tokens are sampled for every
row one step at a time, at temperature T from softmax(logits / T) with torch.multinomial, and
each sampled token's behaviour log-prob (log_softmax gathered) is kept, as a rollout worker
must. No stop tokens: every row makes exactly N tokens.

Two KV caches, both as transformers' eager LlamaForCausalLM runs them (repeat_kv, then
matmul-softmax-matmul attention in float32):
  dynamic  the per-layer cache grows with torch.cat every step (transformers' DynamicCache,
           what `generate` and TRL use by default); the forward pass is model_decode_baseline's
  static   preallocated per-layer tensors written in place, attention over the filled prefix
           (like transformers' StaticCache, without torch.compile)

Prints one JSON line: {"tokens_per_s": ..., "seconds": [...], "first_row": [...]}.
"""
import argparse
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model_decode_baseline import Llama, load  # noqa: E402  (the same weights and forward)


class StaticCacheLlama(Llama):
    """Llama with a preallocated cache: forward(ids, cache) where cache = (keys, values, length)."""

    def new_cache(self, batch, max_len):
        shape = (self.layers, batch, self.kv_heads, max_len, self.head_dim)
        return [torch.zeros(shape), torch.zeros(shape), 0]

    def forward(self, ids, cache):
        b, t = ids.shape
        keys, values, past = cache
        pos = torch.arange(past, past + t)
        cos, sin = self.cos[pos][None, None], self.sin[pos][None, None]
        x = F.embedding(ids, self.w["model.embed_tokens.weight"])
        mask = None
        if t > 1:
            mask = torch.full((t, past + t), float("-inf")).triu(past + 1)
        n_rep = self.heads // self.kv_heads
        for l in range(self.layers):
            p = f"model.layers.{l}."
            h = self.rms(x, self.w[p + "input_layernorm.weight"])
            q = self.linear(p + "self_attn.q_proj", h).view(b, t, self.heads, self.head_dim)
            k = self.linear(p + "self_attn.k_proj", h).view(b, t, self.kv_heads, self.head_dim)
            v = self.linear(p + "self_attn.v_proj", h).view(b, t, self.kv_heads, self.head_dim)
            q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
            q = q * cos + self.rotate_half(q) * sin
            k = k * cos + self.rotate_half(k) * sin
            keys[l, :, :, past:past + t] = k
            values[l, :, :, past:past + t] = v
            kr = self.repeat_kv(keys[l, :, :, :past + t], n_rep)
            vr = self.repeat_kv(values[l, :, :, :past + t], n_rep)
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
        cache[2] = past + t
        x = self.rms(x, self.w["model.norm.weight"])
        return F.linear(x[:, -1:], self.lm_head).float(), cache


def sample(model, prompts, n, temperature, cache, generator):
    """Prefill `prompts` [B, P], then sample n tokens per row; returns tokens and log-probs."""
    tokens, logprobs = [], []
    logits, cache = model.forward(prompts, cache)
    for i in range(n):
        scaled = logits[:, -1] / temperature
        probs = torch.softmax(scaled, dim=-1)
        token = torch.multinomial(probs, 1, generator=generator)
        logprobs.append(torch.log_softmax(scaled, dim=-1).gather(1, token))
        tokens.append(token)
        if i + 1 < n:
            logits, cache = model.forward(token, cache)
    return torch.cat(tokens, 1), torch.cat(logprobs, 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--prompt-len", type=int, default=16)
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--cache", choices=["dynamic", "static"], default="dynamic")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg, w = load(args.model)
    model = StaticCacheLlama(cfg, w) if args.cache == "static" else Llama(cfg, w)
    vocab = cfg["vocab_size"]
    prompts = (torch.arange(args.batch)[:, None] * 7 + torch.arange(args.prompt_len)[None] * 13
               ) % (vocab - 3) + 3
    max_len = args.prompt_len + args.tokens

    def new_cache():
        if args.cache == "static":
            return model.new_cache(args.batch, max_len)
        return [None] * model.layers

    generator = torch.Generator().manual_seed(0)
    seconds, first_row = [], []
    with torch.inference_mode():
        sample(model, prompts, 4, args.temperature, new_cache(), generator)  # warm-up
        for _ in range(args.repeats):
            start = time.perf_counter()
            tokens, _ = sample(model, prompts, args.tokens, args.temperature, new_cache(),
                               generator)
            seconds.append(time.perf_counter() - start)
            first_row = tokens[0].tolist()
    print(json.dumps({"tokens_per_s": args.batch * args.tokens / min(seconds), "seconds": seconds,
                      "first_row": first_row}))


if __name__ == "__main__":
    main()
