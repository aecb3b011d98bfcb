#!/usr/bin/python3
"""Builds the tiny random Hugging Face model folders under tests/data/model/tiny/ and their
reference log-probs, entropies and gradients, independently of Ponder's C++ code.

Run with Debian's interpreter (python3-torch; no transformers needed):
    /usr/bin/python3 tests/model/make_reference_models.py

The forward pass below is written from transformers' LLaMA / Qwen2 / Qwen3 definitions
(RMSNorm, rotate-half RoPE, grouped-query attention, SwiGLU) in float64, one sequence at a
time with no padding. Weights are stored as F32 (and as BF16 / F16 copies); the reference of
a low-precision folder uses its rounded weights. safetensors files are written by hand from
the format's specification (8-byte little-endian header length, JSON header, raw data).
"""
import json
import math
import os
import struct

import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "model", "tiny")

QWEN2 = {
    "architectures": ["Qwen2ForCausalLM"],
    "model_type": "qwen2",
    "vocab_size": 64,
    "hidden_size": 32,
    "intermediate_size": 48,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 64,
    "rms_norm_eps": 1e-6,
    "rope_theta": 1000000.0,
    "tie_word_embeddings": False,
    "hidden_act": "silu",
    "bos_token_id": 1,
    "eos_token_id": 2,
    "use_sliding_window": False,
    "torch_dtype": "float32",
    "transformers_version": "4.45.0",
}
QWEN3 = dict(QWEN2, architectures=["Qwen3ForCausalLM"], model_type="qwen3", head_dim=16,
             tie_word_embeddings=True, attention_bias=False, rope_theta=10000.0,
             num_attention_heads=4, num_key_value_heads=1)
SEQUENCES_LENGTHS = [7, 12, 5]


def param_shapes(cfg):
    H = cfg["hidden_size"]
    heads, kvh = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd = cfg.get("head_dim", H // heads)
    F, V = cfg["intermediate_size"], cfg["vocab_size"]
    qkv_bias = cfg["model_type"] == "qwen2" or cfg.get("attention_bias", False)
    shapes = {"model.embed_tokens.weight": [V, H]}
    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}."
        shapes[p + "input_layernorm.weight"] = [H]
        shapes[p + "self_attn.q_proj.weight"] = [heads * hd, H]
        shapes[p + "self_attn.k_proj.weight"] = [kvh * hd, H]
        shapes[p + "self_attn.v_proj.weight"] = [kvh * hd, H]
        if qkv_bias:
            shapes[p + "self_attn.q_proj.bias"] = [heads * hd]
            shapes[p + "self_attn.k_proj.bias"] = [kvh * hd]
            shapes[p + "self_attn.v_proj.bias"] = [kvh * hd]
        shapes[p + "self_attn.o_proj.weight"] = [H, heads * hd]
        if cfg["model_type"] == "qwen3":
            shapes[p + "self_attn.q_norm.weight"] = [hd]
            shapes[p + "self_attn.k_norm.weight"] = [hd]
        shapes[p + "post_attention_layernorm.weight"] = [H]
        shapes[p + "mlp.gate_proj.weight"] = [F, H]
        shapes[p + "mlp.up_proj.weight"] = [F, H]
        shapes[p + "mlp.down_proj.weight"] = [H, F]
    shapes["model.norm.weight"] = [H]
    if not cfg["tie_word_embeddings"]:
        shapes["lm_head.weight"] = [V, H]
    return shapes


def random_weights(cfg, gen):
    """Weights large enough that every part of the network visibly shapes the output."""
    weights = {}
    for name, shape in param_shapes(cfg).items():
        if name.endswith("norm.weight"):
            w = 1.0 + 0.2 * torch.randn(shape, generator=gen)
        elif name.endswith(".bias"):
            w = 0.3 * torch.randn(shape, generator=gen)
        elif "embed_tokens" in name:
            w = torch.randn(shape, generator=gen)
        else:
            w = torch.randn(shape, generator=gen) / math.sqrt(shape[1])
        weights[name] = w.to(torch.float32)
    return weights


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rope(x, theta):
    """x: [T, heads, hd]; rotates the two halves of each head by pos * theta^(-2i/hd)."""
    T, _, hd = x.shape
    half = hd // 2
    inv_freq = 1.0 / (theta ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
    angles = torch.arange(T, dtype=torch.float64)[:, None] * inv_freq[None, :]
    cos, sin = angles.cos()[:, None, :], angles.sin()[:, None, :]
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)


def forward(cfg, w, ids):
    """Logits [T, V] in float64 for one sequence."""
    H = cfg["hidden_size"]
    heads, kvh = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd = cfg.get("head_dim", H // heads)
    eps, theta = cfg["rms_norm_eps"], cfg["rope_theta"]
    T = len(ids)
    x = w["model.embed_tokens.weight"][torch.tensor(ids)]
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}."

        def lin(name, h):
            y = h @ w[p + name + ".weight"].T
            return y + w[p + name + ".bias"] if (p + name + ".bias") in w else y

        h = rms_norm(x, w[p + "input_layernorm.weight"], eps)
        q = lin("self_attn.q_proj", h).view(T, heads, hd)
        k = lin("self_attn.k_proj", h).view(T, kvh, hd)
        v = lin("self_attn.v_proj", h).view(T, kvh, hd)
        if cfg["model_type"] == "qwen3":
            q = rms_norm(q, w[p + "self_attn.q_norm.weight"], eps)
            k = rms_norm(k, w[p + "self_attn.k_norm.weight"], eps)
        q, k = rope(q, theta), rope(k, theta)
        out = []
        for head in range(heads):
            g = head // (heads // kvh)
            scores = (q[:, head] @ k[:, g].T) / math.sqrt(hd)
            scores = scores.masked_fill(~causal, float("-inf"))
            out.append(torch.softmax(scores, dim=-1) @ v[:, g])
        x = x + lin("self_attn.o_proj", torch.cat(out, dim=-1))
        h = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
        gate, up = lin("mlp.gate_proj", h), lin("mlp.up_proj", h)
        x = x + lin("mlp.down_proj", torch.nn.functional.silu(gate) * up)
    x = rms_norm(x, w["model.norm.weight"], eps)
    head = w["model.embed_tokens.weight"] if cfg["tie_word_embeddings"] else w["lm_head.weight"]
    return x @ head.T


def token_stats(cfg, w, ids):
    """log p(ids[t+1] | ids[..t]) and the entropy at t, for t < len - 1."""
    logp = torch.log_softmax(forward(cfg, w, ids), dim=-1)[:-1]
    lp = logp.gather(1, torch.tensor(ids[1:])[:, None])[:, 0]
    ent = -(logp.exp() * logp).sum(-1)
    return lp, ent


DTYPES = {"F32": torch.float32, "BF16": torch.bfloat16, "F16": torch.float16}


def tensor_bytes(t, dtype):
    t = t.detach().to(DTYPES.get(dtype, torch.float64)).contiguous()
    if dtype == "BF16":
        t = t.view(torch.int16)
    return t.numpy().tobytes()


def write_safetensors(path, tensors, dtype):
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name, t in tensors.items():
        data = tensor_bytes(t, dtype)
        header[name] = {"dtype": dtype, "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def write_folder(name, cfg, weights, dtype, shards=1):
    folder = os.path.join(OUT, name)
    os.makedirs(folder, exist_ok=True)
    for old in os.listdir(folder):
        os.remove(os.path.join(folder, old))
    cfg = dict(cfg, torch_dtype={"F32": "float32", "BF16": "bfloat16", "F16": "float16"}[dtype])
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    names = list(weights)
    if shards == 1:
        write_safetensors(os.path.join(folder, "model.safetensors"), weights, dtype)
        return
    weight_map, per = {}, math.ceil(len(names) / shards)
    for i in range(shards):
        file = f"model-{i + 1:05d}-of-{shards:05d}.safetensors"
        part = {n: weights[n] for n in names[i * per:(i + 1) * per]}
        write_safetensors(os.path.join(folder, file), part, dtype)
        weight_map.update({n: file for n in part})
    total = sum(len(tensor_bytes(t, dtype)) for t in weights.values())
    with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)


def main():
    gen = torch.Generator().manual_seed(20240531)
    sequences = [torch.randint(0, QWEN2["vocab_size"], (n,), generator=gen).tolist()
                 for n in SEQUENCES_LENGTHS]
    reference = {"sequences": sequences, "models": {}}
    models = [("qwen2", QWEN2), ("qwen3", QWEN3)]
    for base, cfg in models:
        weights = random_weights(cfg, gen)
        variants = [(base, "F32", 1)]
        if base == "qwen2":
            variants += [(base + "_sharded", "F32", 3), (base + "_bf16", "BF16", 1),
                         (base + "_fp16", "F16", 1)]
        for name, dtype, shards in variants:
            write_folder(name, cfg, weights, dtype, shards)
            # The reference sees exactly the weights the folder holds.
            w = {n: t.to(DTYPES[dtype]).to(torch.float64) for n, t in weights.items()}
            entry = {"log_probs": [], "entropy": []}
            for ids in sequences:
                lp, ent = token_stats(cfg, w, ids)
                entry["log_probs"].append(lp.tolist())
                entry["entropy"].append(ent.tolist())
            reference["models"][name] = entry
        if base == "qwen2":
            # Gradients of sum(log p) + 0.5 * sum(entropy) over all sequences.
            w = {n: t.to(torch.float64).requires_grad_(True) for n, t in weights.items()}
            loss = 0
            for ids in sequences:
                lp, ent = token_stats(cfg, w, ids)
                loss = loss + lp.sum() + 0.5 * ent.sum()
            loss.backward()
            wanted = ["lm_head.weight", "model.embed_tokens.weight",
                      "model.layers.0.self_attn.q_proj.weight",
                      "model.layers.1.mlp.down_proj.weight"]
            write_safetensors(os.path.join(OUT, "qwen2_grads.safetensors"),
                              {n: w[n].grad for n in wanted}, "F64")
    with open(os.path.join(OUT, "reference.json"), "w") as f:
        json.dump(reference, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
