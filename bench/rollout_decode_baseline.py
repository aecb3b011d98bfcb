#!/usr/bin/python3
"""PyTorch eager baseline for bench_rollout_decode: batched sampling with a KV cache, the work
the rollout engine does per request, on the same weights (a Hugging Face folder), written as a
competent user would write it in plain PyTorch:

  - one preallocated cache per layer [batch, kv_heads, max_len, head_dim], written in place
    (no per-step torch.cat, no copies of the cache);
  - grouped-query attention by viewing the query heads of a KV head together (no repeat_kv
    copy of the cache), matmul-softmax-matmul in float32;
  - q/k/v and gate/up each as one fused matrix product;
  - under torch.inference_mode.

B prompts of P tokens are prefilled in one forward pass, then N tokens are sampled for every
row one step at a time, at temperature T from softmax(logits / T) with torch.multinomial, and
each sampled token's behaviour log-prob (log_softmax gathered) is kept, as a rollout worker
must. No stop tokens: every row makes exactly N tokens.

"N threads" means N cores: before torch is imported the process is pinned to N cores and
OpenBLAS and OpenMP are told N threads (torch.set_num_threads alone does not bound OpenBLAS's
own pool). --torch-threads T (default N) gives LibTorch's OpenMP pool T of them while OpenBLAS
keeps N: on a small machine the two pools fight over the cores, and T = 1 can be faster. The JSON line reports the cores the timed runs actually used: CPU time / wall time.

Prints one JSON line: {"tokens_per_s": ..., "seconds": [...], "cores_used": ..., ...}.
"""
import argparse
import json
import math
import os
import resource
import sys
import time


def parse_args():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--prompt-len", type=int, default=16)
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--torch-threads", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=1)
    return ap.parse_args()


ARGS = parse_args()
ARGS.torch_threads = ARGS.torch_threads or ARGS.threads
# Before torch (and OpenBLAS) load: their thread pools are sized at load time.
os.environ["OMP_NUM_THREADS"] = str(ARGS.torch_threads)
for var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(ARGS.threads)
CORES = sorted(os.sched_getaffinity(0))[:ARGS.threads]
os.sched_setaffinity(0, CORES)

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model_decode_baseline import load  # noqa: E402  (the same safetensors reader)


class Llama:
    """A LLaMA/Qwen2-family decoder over a preallocated KV cache."""

    def __init__(self, cfg, w):
        self.heads = cfg["num_attention_heads"]
        self.kv_heads = cfg.get("num_key_value_heads", self.heads)
        self.head_dim = cfg.get("head_dim") or cfg["hidden_size"] // self.heads
        self.eps = cfg["rms_norm_eps"]
        self.layers = cfg["num_hidden_layers"]
        inv_freq = 1.0 / (cfg.get("rope_theta", 10000.0) **
                          (torch.arange(0, self.head_dim, 2, dtype=torch.int64).float() /
                           self.head_dim))
        freqs = torch.outer(torch.arange(cfg["max_position_embeddings"]).float(), inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        self.cos, self.sin = emb.cos(), emb.sin()
        self.embed = w["model.embed_tokens.weight"]
        self.lm_head = w.get("lm_head.weight", self.embed)
        self.norm = w["model.norm.weight"]
        self.blocks = []
        for l in range(self.layers):
            p = f"model.layers.{l}."
            qkv = [w[p + f"self_attn.{n}_proj.weight"] for n in "qkv"]
            bias = [w.get(p + f"self_attn.{n}_proj.bias") for n in "qkv"]
            self.blocks.append({
                "ln1": w[p + "input_layernorm.weight"],
                "ln2": w[p + "post_attention_layernorm.weight"],
                "qkv": torch.cat(qkv).contiguous(),
                "qkv_bias": torch.cat(bias) if bias[0] is not None else None,
                "o": w[p + "self_attn.o_proj.weight"],
                "gate_up": torch.cat([w[p + "mlp.gate_proj.weight"],
                                      w[p + "mlp.up_proj.weight"]]).contiguous(),
                "down": w[p + "mlp.down_proj.weight"],
            })

    def rms(self, x, weight):
        return weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))

    @staticmethod
    def rotate_half(x):
        x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
        return torch.cat((-x2, x1), dim=-1)

    def new_cache(self, batch, max_len):
        shape = (self.layers, batch, self.kv_heads, max_len, self.head_dim)
        return torch.zeros(shape), torch.zeros(shape)

    def forward(self, ids, cache, past):
        """ids [B, T] at positions past..past+T-1; returns the last position's logits."""
        b, t = ids.shape
        keys, values = cache
        cos, sin = self.cos[past:past + t][None, None], self.sin[past:past + t][None, None]
        x = F.embedding(ids, self.embed)
        mask = None
        if t > 1:
            mask = torch.full((t, past + t), float("-inf")).triu(past + 1)
        rep, hd, kvh = self.heads // self.kv_heads, self.head_dim, self.kv_heads
        q_dim, kv_dim = self.heads * hd, kvh * hd
        for l, blk in enumerate(self.blocks):
            h = self.rms(x, blk["ln1"])
            qkv = F.linear(h, blk["qkv"], blk["qkv_bias"])
            q, k, v = qkv.split([q_dim, kv_dim, kv_dim], dim=-1)
            q = q.view(b, t, self.heads, hd).transpose(1, 2)
            k = k.view(b, t, kvh, hd).transpose(1, 2)
            v = v.view(b, t, kvh, hd).transpose(1, 2)
            q = q * cos + self.rotate_half(q) * sin
            k = k * cos + self.rotate_half(k) * sin
            keys[l, :, :, past:past + t] = k
            values[l, :, :, past:past + t] = v
            # [b, kvh, rep * t, hd]: the query heads of each KV head side by side.
            qg = q.reshape(b, kvh, rep * t, hd)
            scores = torch.matmul(qg, keys[l, :, :, :past + t].transpose(2, 3)) / math.sqrt(hd)
            if mask is not None:
                scores = (scores.view(b, kvh, rep, t, past + t) + mask).view(b, kvh, rep * t, -1)
            probs = torch.softmax(scores, dim=-1)
            a = torch.matmul(probs, values[l, :, :, :past + t])  # [b, kvh, rep * t, hd]
            a = a.view(b, self.heads, t, hd).transpose(1, 2).reshape(b, t, q_dim)
            x = x + F.linear(a, blk["o"])
            gate, up = F.linear(self.rms(x, blk["ln2"]), blk["gate_up"]).chunk(2, dim=-1)
            x = x + F.linear(F.silu(gate) * up, blk["down"])
        return F.linear(self.rms(x[:, -1], self.norm), self.lm_head)


def sample(model, prompts, n, temperature, generator):
    """Prefill `prompts` [B, P], then sample n tokens per row; returns tokens and log-probs."""
    b, p = prompts.shape
    cache = model.new_cache(b, p + n)
    tokens = torch.empty(b, n, dtype=torch.long)
    logprobs = torch.empty(b, n)
    logits = model.forward(prompts, cache, 0)
    for i in range(n):
        scaled = logits / temperature
        token = torch.multinomial(torch.softmax(scaled, dim=-1), 1, generator=generator)
        logprobs[:, i] = torch.log_softmax(scaled, dim=-1).gather(1, token)[:, 0]
        tokens[:, i] = token[:, 0]
        if i + 1 < n:
            logits = model.forward(token, cache, p + i)
    return tokens, logprobs


def main():
    args = ARGS
    torch.set_num_threads(args.torch_threads)
    cfg, w = load(args.model)
    model = Llama(cfg, w)
    vocab = cfg["vocab_size"]
    prompts = (torch.arange(args.batch)[:, None] * 7 + torch.arange(args.prompt_len)[None] * 13
               ) % (vocab - 3) + 3
    generator = torch.Generator().manual_seed(0)
    seconds, cpu, first_row = [], [], []
    with torch.inference_mode():
        sample(model, prompts, 4, args.temperature, generator)  # warm-up
        for _ in range(args.repeats):
            r0, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
            tokens, _ = sample(model, prompts, args.tokens, args.temperature, generator)
            seconds.append(time.perf_counter() - start)
            r1 = resource.getrusage(resource.RUSAGE_SELF)
            cpu.append((r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime))
            first_row = tokens[0].tolist()
    print(json.dumps({"tokens_per_s": args.batch * args.tokens / min(seconds), "seconds": seconds,
                      "cores_used": sum(cpu) / sum(seconds), "cores": CORES,
                      "torch_threads": args.torch_threads,
                      "first_row": first_row}))


if __name__ == "__main__":
    main()
