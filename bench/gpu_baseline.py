#!/usr/bin/env python3
"""PyTorch eager on the same GPU as bench_gpu (bench/gpu_bench.cc), the same cases, and the
table of both: batched greedy decode at 64 and 256 sequences (128 prompt tokens, 128 steps,
a static KV cache as transformers' StaticCache keeps it, fused attention) and one GRPO step
(a no-grad forward for the old log-probs, then forward + backward under bf16 autocast with
float32 parameters, and fused AdamW). The model is the same 0.5B LLaMA shape with random
weights. Also measures the card's bf16 matrix rate (8192^3 products), against which both
sides' shares are given.

    python3 bench/gpu_baseline.py --ours OURS.jsonl [--quick]
OURS.jsonl: bench_gpu's output. Prints JSON lines for the baseline, then the table.
"""
import argparse
import json
import math
import time

import torch
import torch.nn.functional as F

VOCAB, HIDDEN, FFN, HEADS, KV_HEADS, HEAD_DIM = 32000, 1024, 4864, 16, 8, 64


class Llama(torch.nn.Module):
    def __init__(self, layers):
        super().__init__()
        self.embed = torch.nn.Embedding(VOCAB, HIDDEN)
        self.layers = torch.nn.ModuleList()
        for _ in range(layers):
            m = torch.nn.Module()
            m.q = torch.nn.Linear(HIDDEN, HEADS * HEAD_DIM, bias=False)
            m.k = torch.nn.Linear(HIDDEN, KV_HEADS * HEAD_DIM, bias=False)
            m.v = torch.nn.Linear(HIDDEN, KV_HEADS * HEAD_DIM, bias=False)
            m.o = torch.nn.Linear(HEADS * HEAD_DIM, HIDDEN, bias=False)
            m.gate = torch.nn.Linear(HIDDEN, FFN, bias=False)
            m.up = torch.nn.Linear(HIDDEN, FFN, bias=False)
            m.down = torch.nn.Linear(FFN, HIDDEN, bias=False)
            m.n1 = torch.nn.RMSNorm(HIDDEN, eps=1e-5)
            m.n2 = torch.nn.RMSNorm(HIDDEN, eps=1e-5)
            self.layers.append(m)
        self.norm = torch.nn.RMSNorm(HIDDEN, eps=1e-5)
        self.head = torch.nn.Linear(HIDDEN, VOCAB, bias=False)
        for p in self.parameters():
            if p.dim() > 1:
                torch.nn.init.normal_(p, std=0.02)
        inv = 1.0 / (10000.0 ** (torch.arange(0, HEAD_DIM, 2).float() / HEAD_DIM))
        ang = torch.outer(torch.arange(4096).float(), inv)
        self.register_buffer("cos", ang.cos(), persistent=False)
        self.register_buffer("sin", ang.sin(), persistent=False)

    def rope(self, x, pos):  # x [B, H, T, hd], pos [T]
        c = self.cos[pos].to(x.dtype)[None, None]
        s = self.sin[pos].to(x.dtype)[None, None]
        x1, x2 = x.chunk(2, -1)
        return torch.cat([x1 * c - x2 * s, x2 * c + x1 * s], -1)

    def forward(self, ids, start=0, cache=None):
        """ids [B, T]; with `cache` (list of (k, v) [B, kvh, L, hd]) writes positions
        start..start+T and attends over 0..start+T."""
        B, T = ids.shape
        pos = torch.arange(start, start + T, device=ids.device)
        x = self.embed(ids)
        for i, m in enumerate(self.layers):
            h = m.n1(x)
            q = m.q(h).view(B, T, HEADS, HEAD_DIM).transpose(1, 2)
            k = m.k(h).view(B, T, KV_HEADS, HEAD_DIM).transpose(1, 2)
            v = m.v(h).view(B, T, KV_HEADS, HEAD_DIM).transpose(1, 2)
            q, k = self.rope(q, pos), self.rope(k, pos)
            if cache is not None:
                ck, cv = cache[i]
                ck[:, :, start:start + T] = k
                cv[:, :, start:start + T] = v
                k, v = ck[:, :, :start + T], cv[:, :, :start + T]
            a = F.scaled_dot_product_attention(q, k, v, is_causal=T > 1, enable_gqa=True)
            x = x + m.o(a.transpose(1, 2).reshape(B, T, HEADS * HEAD_DIM))
            h = m.n2(x)
            x = x + m.down(F.silu(m.gate(h)) * m.up(h))
        return self.head(self.norm(x))


def sync():
    torch.cuda.synchronize()


def gemm_rate():
    a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    sync()
    t = time.perf_counter()
    for _ in range(10):
        a @ b
    sync()
    return 10 * 2 * 8192 ** 3 / (time.perf_counter() - t)


@torch.no_grad()
def decode(model, batch, prompt_len=128, steps=128):
    g = torch.Generator(device="cuda").manual_seed(batch)
    ids = torch.randint(0, VOCAB, (batch, prompt_len), device="cuda", generator=g)
    L = prompt_len + steps
    cache = [(torch.empty(batch, KV_HEADS, L, HEAD_DIM, device="cuda", dtype=torch.bfloat16),
              torch.empty(batch, KV_HEADS, L, HEAD_DIM, device="cuda", dtype=torch.bfloat16))
             for _ in model.layers]
    sync()
    t = time.perf_counter()
    nxt = model(ids, 0, cache)[:, -1].argmax(-1, keepdim=True)
    sync()
    prefill = time.perf_counter() - t
    t = time.perf_counter()
    for s in range(steps - 1):
        nxt = model(nxt, prompt_len + s, cache)[:, -1].argmax(-1, keepdim=True)
    sync()
    dt = time.perf_counter() - t
    return {"prefill_tokens_per_s": batch * prompt_len / prefill,
            "decode_tokens_per_s": batch * (steps - 1) / dt,
            "decode_step_ms": 1e3 * dt / (steps - 1)}


def train_step(model, opt, groups=4, samples=4, prompt_len=64, response_len=448, repeats=3):
    g = torch.Generator(device="cuda").manual_seed(7)
    N, T = groups * samples, prompt_len + response_len
    ids = torch.randint(0, VOCAB, (N, T), device="cuda", generator=g)
    scores = torch.tensor([float(i % 2) for i in range(N)], device="cuda")
    adv = (scores.view(groups, samples) - scores.view(groups, samples).mean(1, keepdim=True))
    adv = (adv / (scores.view(groups, samples).std(1, keepdim=True) + 1e-6)).view(N, 1)
    targets = ids[:, prompt_len:]

    def logp():
        with torch.autocast("cuda", dtype=torch.bfloat16):
            logits = model(ids)[:, prompt_len - 1:-1]
        return torch.log_softmax(logits.float(), -1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)

    best = math.inf
    for _ in range(repeats):
        sync()
        t = time.perf_counter()
        with torch.no_grad():
            old = logp()
        new = logp()
        ratio = torch.exp(new - old)
        loss = -torch.min(ratio * adv, ratio.clamp(0.8, 1.28) * adv).mean()
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        sync()
        best = min(best, time.perf_counter() - t)
    return {"step_s": best, "train_tokens_per_s": N * T / best, "tokens": N * T}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ours", required=True)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    layers = 2 if args.quick else 24
    torch.manual_seed(0)
    dev = torch.cuda.get_device_name(0)
    rate = gemm_rate()
    base = {}
    model = Llama(layers).cuda().to(torch.bfloat16)
    params = sum(p.numel() for p in model.parameters())
    for batch in (64, 256):
        r = decode(model, batch)
        base[("decode", batch)] = r
        print(json.dumps({"case": "decode", "batch": batch, **r}), flush=True)
    del model
    torch.cuda.empty_cache()
    model = Llama(layers).cuda()  # float32 master weights, bf16 autocast
    opt = torch.optim.AdamW(model.parameters(), lr=1e-6, fused=True)
    torch.cuda.reset_peak_memory_stats()
    r = train_step(model, opt)
    r["peak_allocated_gib"] = torch.cuda.max_memory_allocated() / 2 ** 30
    base[("train_step", 0)] = r
    print(json.dumps({"case": "train_step", **r}), flush=True)

    ours = {}
    for line in open(args.ours):
        line = line.strip()
        if line.startswith("{"):
            o = json.loads(line)
            ours[(o["case"], o.get("batch", 0))] = o
    print(f"\n{dev}; PyTorch {torch.__version__}; model {params / 1e9:.3f}B parameters "
          f"({layers} layers); bf16 GEMM 8192^3: {rate / 1e12:.0f} TFLOP/s")
    print("share = model FLOPs / time / that GEMM rate (decode 2P per token; GRPO step 8P per "
          "token: a no-grad forward, then forward + backward)")
    print(f"{'case':<18}{'ponder':>14}{'eager':>14}{'ratio':>8}{'share ponder':>14}{'share eager':>13}")
    rows = [(("decode", 64), "decode_tokens_per_s", 2), (("decode", 256), "decode_tokens_per_s", 2),
            (("train_step", 0), "train_tokens_per_s", 8)]
    for key, field, flops in rows:
        name = f"{key[0]} {key[1]}" if key[0] == "decode" else key[0]
        o, b = ours.get(key, {}), base[key]
        if field not in o:
            print(f"{name:<18}{'error: ' + str(o.get('error', 'missing')):>14}")
            continue
        share = lambda tps: flops * params * tps / rate
        print(f"{name:<18}{o[field]:>12.0f}/s{b[field]:>12.0f}/s{o[field] / b[field]:>8.2f}"
              f"{100 * share(o[field]):>13.1f}%{100 * share(b[field]):>12.1f}%")
    for key in [("train_step", 0)]:
        if "peak_allocated_gib" in ours.get(key, {}):
            print(f"train_step peak GPU memory: ponder {ours[key]['peak_allocated_gib']:.1f} GiB, "
                  f"eager {base[key]['peak_allocated_gib']:.1f} GiB")


if __name__ == "__main__":
    main()
