#!/usr/bin/python3
"""Reference fixtures for the MlpKit model zoo.

For each architecture (bert, roberta, gpt2, mixtral, and the Llama family: llama, qwen2, mistral) this script makes a tiny random checkpoint in the
Hugging Face layout (config.json + model.safetensors with HF tensor names), runs a fixed input through a
forward pass written here in plain PyTorch from the equations of the Hugging Face modeling code
(modeling_bert.py, modeling_roberta.py, modeling_gpt2.py, modeling_mixtral.py, modeling_llama.py,
modeling_qwen2.py, modeling_mistral.py), and writes the input and
the outputs to expected.json. The C# tests load the checkpoint with ModelZoo.Load and compare.

The forward passes run in float64 on the float32 weights that are stored, so the reference is more
accurate than the float32 model under test and the 1e-4 tolerance measures the C# code, not this one.
Weights are drawn with a larger spread than HF's init (std 0.02) so activations are O(1) and a wrong
equation shows up as a large difference rather than hiding under tiny logits.

The safetensors files are written by hand with struct + json (no safetensors package), so the C# reader
is checked against an independent writer.

Usage:  /usr/bin/python3 tools/reference/make_zoo_fixtures.py [OUT_DIR] [--only=llama,qwen2,mistral]
        (default OUT_DIR: tests/MlpKit.Tests/Fixtures/zoo)
Needs:  Debian's python3-torch (apt-get install python3-torch).
"""
import json
import math
import os
import struct
import sys

import torch

F64 = torch.float64


# ----------------------------------------------------------------------------------------------------------
# safetensors writer (format: u64 little-endian header length, JSON header, raw little-endian data)
# ----------------------------------------------------------------------------------------------------------
def write_safetensors(path, tensors):
    header = {"__metadata__": {"format": "pt"}}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name].detach().to(torch.float32).contiguous()
        data = t.numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)  # data section starts 8-aligned, as the reference writer does
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def write_json(path, obj):
    # one top-level key per line keeps the long number lists compact yet diffable
    with open(path, "w") as f:
        f.write("{\n" + ",\n".join(" %s: %s" % (json.dumps(k), json.dumps(v)) for k, v in obj.items()) + "\n}\n")


def tolist(t):
    return [float("%.9g" % v) for v in t.detach().to(F64).reshape(-1).tolist()]


class Weights:
    """Random float32 weights under their HF names; read back in float64 for the reference math."""

    def __init__(self, seed):
        self.g = torch.Generator().manual_seed(seed)
        self.t = {}

    def normal(self, name, shape, std, mean=0.0):
        self.t[name] = (torch.randn(*shape, generator=self.g, dtype=torch.float32) * std + mean)
        return self[name]

    def __getitem__(self, name):
        return self.t[name].to(F64)


# ----------------------------------------------------------------------------------------------------------
# shared pieces
# ----------------------------------------------------------------------------------------------------------
def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + eps) * w + b


def linear(x, w, b=None):  # nn.Linear: weight [out, in]
    y = x @ w.T
    return y + b if b is not None else y


def conv1d(x, w, b):  # GPT-2 Conv1D: weight [in, out]
    return x @ w + b


def gelu_erf(x):  # ACT2FN["gelu"]
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


def gelu_new(x):  # ACT2FN["gelu_new"]
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def silu(x):
    return x * torch.sigmoid(x)


def min_value():
    return torch.finfo(F64).min


def split_heads(x, n):  # [B, T, H] -> [B, n, T, d]
    b, t, h = x.shape
    return x.view(b, t, n, h // n).transpose(1, 2)


def merge_heads(x):  # [B, n, T, d] -> [B, T, n*d]
    b, n, t, d = x.shape
    return x.transpose(1, 2).reshape(b, t, n * d)


def attend(q, k, v, additive_mask, scale):
    scores = (q @ k.transpose(-1, -2)) * scale + additive_mask
    return torch.softmax(scores, dim=-1) @ v


# ----------------------------------------------------------------------------------------------------------
# BERT / RoBERTa (modeling_bert.py, modeling_roberta.py; post-LN encoder)
# ----------------------------------------------------------------------------------------------------------
def make_bert(kind):
    roberta = kind == "roberta"
    cfg = {
        "architectures": ["RobertaForSequenceClassification" if roberta else "BertForSequenceClassification"],
        "model_type": kind,
        "vocab_size": 96,
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "intermediate_size": 64,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": 40 if roberta else 32,
        "type_vocab_size": 1 if roberta else 2,
        "initializer_range": 0.02,
        "layer_norm_eps": 1e-5 if roberta else 1e-12,
        "pad_token_id": 1 if roberta else 0,
        "position_embedding_type": "absolute",
        "id2label": {"0": "LABEL_0", "1": "LABEL_1", "2": "LABEL_2"},
        "label2id": {"LABEL_0": 0, "LABEL_1": 1, "LABEL_2": 2},
    }
    if roberta:
        cfg["bos_token_id"] = 0
        cfg["eos_token_id"] = 2
    H, I, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    W = Weights(11 if roberta else 10)
    p = kind + "."
    W.normal(p + "embeddings.word_embeddings.weight", (V, H), 0.5)
    W.normal(p + "embeddings.position_embeddings.weight", (cfg["max_position_embeddings"], H), 0.5)
    W.normal(p + "embeddings.token_type_embeddings.weight", (cfg["type_vocab_size"], H), 0.5)
    W.normal(p + "embeddings.LayerNorm.weight", (H,), 0.1, 1.0)
    W.normal(p + "embeddings.LayerNorm.bias", (H,), 0.1)
    for i in range(cfg["num_hidden_layers"]):
        l = f"{p}encoder.layer.{i}."
        for m in ("query", "key", "value"):
            W.normal(l + f"attention.self.{m}.weight", (H, H), 0.3)
            W.normal(l + f"attention.self.{m}.bias", (H,), 0.1)
        W.normal(l + "attention.output.dense.weight", (H, H), 0.2)
        W.normal(l + "attention.output.dense.bias", (H,), 0.1)
        W.normal(l + "attention.output.LayerNorm.weight", (H,), 0.1, 1.0)
        W.normal(l + "attention.output.LayerNorm.bias", (H,), 0.1)
        W.normal(l + "intermediate.dense.weight", (I, H), 0.2)
        W.normal(l + "intermediate.dense.bias", (I,), 0.1)
        W.normal(l + "output.dense.weight", (H, I), 0.15)
        W.normal(l + "output.dense.bias", (H,), 0.1)
        W.normal(l + "output.LayerNorm.weight", (H,), 0.1, 1.0)
        W.normal(l + "output.LayerNorm.bias", (H,), 0.1)
    L = len(cfg["id2label"])
    if roberta:  # RobertaForSequenceClassification: no pooler, a two-layer head on <s>
        W.normal("classifier.dense.weight", (H, H), 0.2)
        W.normal("classifier.dense.bias", (H,), 0.1)
        W.normal("classifier.out_proj.weight", (L, H), 0.3)
        W.normal("classifier.out_proj.bias", (L,), 0.1)
    else:
        W.normal(p + "pooler.dense.weight", (H, H), 0.2)
        W.normal(p + "pooler.dense.bias", (H,), 0.1)
        W.normal("classifier.weight", (L, H), 0.3)
        W.normal("classifier.bias", (L,), 0.1)

    pad = cfg["pad_token_id"]
    if roberta:
        ids = torch.tensor([[0, 31, 7, 88, 45, 12, 19, 2], [0, 64, 5, 77, 2, 1, 1, 1]])
    else:
        ids = torch.tensor([[2, 31, 7, 88, 45, 12, 19, 3], [2, 64, 5, 77, 3, 0, 0, 0]])
    mask = (ids != pad).long()
    types = torch.zeros_like(ids) if roberta else torch.tensor([[0, 0, 0, 0, 1, 1, 1, 1], [0, 0, 1, 1, 1, 0, 0, 0]])

    eps = cfg["layer_norm_eps"]
    if roberta:  # create_position_ids_from_input_ids: pads keep padding_idx, the rest count from padding_idx+1
        m = (ids != pad).long()
        pos = torch.cumsum(m, dim=1) * m + pad
    else:
        pos = torch.arange(ids.shape[1]).unsqueeze(0).expand_as(ids)
    x = W[p + "embeddings.word_embeddings.weight"][ids] + W[p + "embeddings.token_type_embeddings.weight"][types] \
        + W[p + "embeddings.position_embeddings.weight"][pos]
    x = layer_norm(x, W[p + "embeddings.LayerNorm.weight"], W[p + "embeddings.LayerNorm.bias"], eps)
    ext = (1.0 - mask.to(F64))[:, None, None, :] * min_value()
    n = cfg["num_attention_heads"]
    for i in range(cfg["num_hidden_layers"]):
        l = f"{p}encoder.layer.{i}."
        q = split_heads(linear(x, W[l + "attention.self.query.weight"], W[l + "attention.self.query.bias"]), n)
        k = split_heads(linear(x, W[l + "attention.self.key.weight"], W[l + "attention.self.key.bias"]), n)
        v = split_heads(linear(x, W[l + "attention.self.value.weight"], W[l + "attention.self.value.bias"]), n)
        ctx = merge_heads(attend(q, k, v, ext, 1.0 / math.sqrt(H // n)))
        a = linear(ctx, W[l + "attention.output.dense.weight"], W[l + "attention.output.dense.bias"])
        x = layer_norm(a + x, W[l + "attention.output.LayerNorm.weight"], W[l + "attention.output.LayerNorm.bias"], eps)
        h = gelu_erf(linear(x, W[l + "intermediate.dense.weight"], W[l + "intermediate.dense.bias"]))
        o = linear(h, W[l + "output.dense.weight"], W[l + "output.dense.bias"])
        x = layer_norm(o + x, W[l + "output.LayerNorm.weight"], W[l + "output.LayerNorm.bias"], eps)
    cls = x[:, 0]
    if roberta:
        c = torch.tanh(linear(cls, W["classifier.dense.weight"], W["classifier.dense.bias"]))
        logits = linear(c, W["classifier.out_proj.weight"], W["classifier.out_proj.bias"])
    else:
        pooled = torch.tanh(linear(cls, W[p + "pooler.dense.weight"], W[p + "pooler.dense.bias"]))
        logits = linear(pooled, W["classifier.weight"], W["classifier.bias"])
    expected = {
        "input_ids": ids.tolist(),
        "attention_mask": mask.tolist(),
        "token_type_ids": types.tolist(),
        "last_hidden_state_shape": list(x.shape),
        "last_hidden_state": tolist(x),
        "class_logits_shape": list(logits.shape),
        "class_logits": tolist(logits),
    }
    return cfg, W.t, expected


# ----------------------------------------------------------------------------------------------------------
# GPT-2 (modeling_gpt2.py; pre-LN decoder, Conv1D weights stored [in, out], LM head tied to wte)
# ----------------------------------------------------------------------------------------------------------
def make_gpt2():
    cfg = {
        "architectures": ["GPT2LMHeadModel"],
        "model_type": "gpt2",
        "vocab_size": 96,
        "n_positions": 32,
        "n_embd": 32,
        "n_layer": 2,
        "n_head": 4,
        "n_inner": None,
        "activation_function": "gelu_new",
        "resid_pdrop": 0.1,
        "embd_pdrop": 0.1,
        "attn_pdrop": 0.1,
        "layer_norm_epsilon": 1e-5,
        "initializer_range": 0.02,
        "scale_attn_weights": True,
        "use_cache": True,
        "bos_token_id": 95,
        "eos_token_id": 95,
        "tie_word_embeddings": True,
    }
    H, V, n = cfg["n_embd"], cfg["vocab_size"], cfg["n_head"]
    I = 4 * H
    W = Weights(20)
    W.normal("transformer.wte.weight", (V, H), 0.5)
    W.normal("transformer.wpe.weight", (cfg["n_positions"], H), 0.3)
    for i in range(cfg["n_layer"]):
        l = f"transformer.h.{i}."
        W.normal(l + "ln_1.weight", (H,), 0.1, 1.0)
        W.normal(l + "ln_1.bias", (H,), 0.1)
        W.normal(l + "attn.c_attn.weight", (H, 3 * H), 0.3)
        W.normal(l + "attn.c_attn.bias", (3 * H,), 0.1)
        W.normal(l + "attn.c_proj.weight", (H, H), 0.2)
        W.normal(l + "attn.c_proj.bias", (H,), 0.1)
        W.normal(l + "ln_2.weight", (H,), 0.1, 1.0)
        W.normal(l + "ln_2.bias", (H,), 0.1)
        W.normal(l + "mlp.c_fc.weight", (H, I), 0.2)
        W.normal(l + "mlp.c_fc.bias", (I,), 0.1)
        W.normal(l + "mlp.c_proj.weight", (I, H), 0.1)
        W.normal(l + "mlp.c_proj.bias", (H,), 0.1)
    W.normal("transformer.ln_f.weight", (H,), 0.1, 1.0)
    W.normal("transformer.ln_f.bias", (H,), 0.1)
    eps = cfg["layer_norm_epsilon"]

    def forward(ids, mask):
        b, t = ids.shape
        pos = torch.arange(t).unsqueeze(0)
        x = W["transformer.wte.weight"][ids] + W["transformer.wpe.weight"][pos]
        causal = torch.tril(torch.ones(t, t, dtype=torch.bool))
        allowed = causal[None, None] & (mask[:, None, None, :] == 1)
        add = torch.zeros(b, 1, t, t, dtype=F64).masked_fill(~allowed, min_value())
        for i in range(cfg["n_layer"]):
            l = f"transformer.h.{i}."
            h = layer_norm(x, W[l + "ln_1.weight"], W[l + "ln_1.bias"], eps)
            qkv = conv1d(h, W[l + "attn.c_attn.weight"], W[l + "attn.c_attn.bias"])
            q, k, v = (split_heads(z, n) for z in qkv.split(H, dim=2))
            a = merge_heads(attend(q, k, v, add, 1.0 / math.sqrt(H // n)))
            x = x + conv1d(a, W[l + "attn.c_proj.weight"], W[l + "attn.c_proj.bias"])
            h = layer_norm(x, W[l + "ln_2.weight"], W[l + "ln_2.bias"], eps)
            h = gelu_new(conv1d(h, W[l + "mlp.c_fc.weight"], W[l + "mlp.c_fc.bias"]))
            x = x + conv1d(h, W[l + "mlp.c_proj.weight"], W[l + "mlp.c_proj.bias"])
        x = layer_norm(x, W["transformer.ln_f.weight"], W["transformer.ln_f.bias"], eps)
        return x @ W["transformer.wte.weight"].T  # lm_head tied to wte

    ids = torch.tensor([[5, 17, 42, 8, 91, 33, 60, 2], [12, 7, 3, 55, 70, 0, 0, 0]])
    mask = torch.tensor([[1, 1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 0, 0, 0]])
    logits = forward(ids, mask)
    expected = {"input_ids": ids.tolist(), "attention_mask": mask.tolist(),
                "logits_shape": list(logits.shape), "logits": tolist(logits)}
    expected.update(greedy(forward, [60, 61, 62], 8))
    return cfg, W.t, expected


def greedy(forward, prompt, steps):
    """Greedy continuation by recomputing the whole sequence each step; the margin guards against ties."""
    seq = list(prompt)
    margin = float("inf")
    for _ in range(steps):
        ids = torch.tensor([seq])
        last = forward(ids, torch.ones_like(ids))[0, -1]
        top2 = torch.topk(last, 2).values
        margin = min(margin, float(top2[0] - top2[1]))
        seq.append(int(last.argmax()))
    assert margin > 1e-3, f"greedy margin too small ({margin}); pick another seed"
    return {"greedy_prompt": list(prompt), "greedy_tokens": seq[len(prompt):]}


# ----------------------------------------------------------------------------------------------------------
# Mixtral (modeling_mixtral.py: RMSNorm, RoPE, GQA, sparse-MoE with softmax -> top-k -> renormalise)
# ----------------------------------------------------------------------------------------------------------
def make_mixtral():
    cfg = {
        "architectures": ["MixtralForCausalLM"],
        "model_type": "mixtral",
        "vocab_size": 80,
        "hidden_size": 32,
        "intermediate_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": 8,
        "hidden_act": "silu",
        "max_position_embeddings": 64,
        "rms_norm_eps": 1e-5,
        "rope_theta": 1000.0,
        "sliding_window": None,
        "attention_dropout": 0.0,
        "num_local_experts": 4,
        "num_experts_per_tok": 2,
        "router_aux_loss_coef": 0.02,
        "output_router_logits": False,
        "tie_word_embeddings": False,
        "initializer_range": 0.02,
        "use_cache": True,
        "bos_token_id": 1,
        "eos_token_id": 2,
    }
    H, V, I = cfg["hidden_size"], cfg["vocab_size"], cfg["intermediate_size"]
    n, kv, d = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    E, K = cfg["num_local_experts"], cfg["num_experts_per_tok"]
    W = Weights(30)
    W.normal("model.embed_tokens.weight", (V, H), 1.0)
    for i in range(cfg["num_hidden_layers"]):
        l = f"model.layers.{i}."
        W.normal(l + "input_layernorm.weight", (H,), 0.1, 1.0)
        W.normal(l + "self_attn.q_proj.weight", (n * d, H), 0.3)
        W.normal(l + "self_attn.k_proj.weight", (kv * d, H), 0.3)
        W.normal(l + "self_attn.v_proj.weight", (kv * d, H), 0.3)
        W.normal(l + "self_attn.o_proj.weight", (H, n * d), 0.2)
        W.normal(l + "post_attention_layernorm.weight", (H,), 0.1, 1.0)
        W.normal(l + "block_sparse_moe.gate.weight", (E, H), 0.5)
        for e in range(E):
            x = l + f"block_sparse_moe.experts.{e}."
            W.normal(x + "w1.weight", (I, H), 0.3)
            W.normal(x + "w3.weight", (I, H), 0.3)
            W.normal(x + "w2.weight", (H, I), 0.2)
    W.normal("model.norm.weight", (H,), 0.1, 1.0)
    W.normal("lm_head.weight", (V, H), 0.3)
    eps = cfg["rms_norm_eps"]
    min_router_gap = [float("inf")]

    def rms_norm(x, w):
        return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + eps) * w

    def rotate_half(x):
        x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
        return torch.cat((-x2, x1), dim=-1)

    def moe(l, x):
        b, t, h = x.shape
        flat = x.reshape(-1, h)
        probs = torch.softmax(linear(flat, W[l + "block_sparse_moe.gate.weight"]), dim=-1)
        srt = torch.sort(probs, dim=-1, descending=True).values
        min_router_gap[0] = min(min_router_gap[0], float((srt[:, K - 1] - srt[:, K]).min()))
        w, idx = torch.topk(probs, K, dim=-1)
        w = w / w.sum(dim=-1, keepdim=True)
        out = torch.zeros_like(flat)
        for tok in range(flat.shape[0]):  # naive per-token loop over the chosen experts
            for j in range(K):
                e = int(idx[tok, j])
                p = l + f"block_sparse_moe.experts.{e}."
                y = linear(silu(linear(flat[tok], W[p + "w1.weight"])) * linear(flat[tok], W[p + "w3.weight"]),
                           W[p + "w2.weight"])
                out[tok] += w[tok, j] * y
        return out.view(b, t, h)

    def forward(ids, mask):
        b, t = ids.shape
        pos = torch.arange(t, dtype=F64)
        inv_freq = 1.0 / (cfg["rope_theta"] ** (torch.arange(0, d, 2, dtype=torch.int64).to(F64) / d))
        freqs = pos[:, None] * inv_freq[None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos()[None, None], emb.sin()[None, None]
        causal = torch.tril(torch.ones(t, t, dtype=torch.bool))
        allowed = causal[None, None] & (mask[:, None, None, :] == 1)
        add = torch.zeros(b, 1, t, t, dtype=F64).masked_fill(~allowed, min_value())
        x = W["model.embed_tokens.weight"][ids]
        for i in range(cfg["num_hidden_layers"]):
            l = f"model.layers.{i}."
            h = rms_norm(x, W[l + "input_layernorm.weight"])
            q = linear(h, W[l + "self_attn.q_proj.weight"]).view(b, t, n, d).transpose(1, 2)
            k = linear(h, W[l + "self_attn.k_proj.weight"]).view(b, t, kv, d).transpose(1, 2)
            v = linear(h, W[l + "self_attn.v_proj.weight"]).view(b, t, kv, d).transpose(1, 2)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            k = k.repeat_interleave(n // kv, dim=1)  # repeat_kv: query head j reads kv head j // (n/kv)
            v = v.repeat_interleave(n // kv, dim=1)
            a = merge_heads(attend(q, k, v, add, d ** -0.5))
            x = x + linear(a, W[l + "self_attn.o_proj.weight"])
            x = x + moe(l, rms_norm(x, W[l + "post_attention_layernorm.weight"]))
        x = rms_norm(x, W["model.norm.weight"])
        return linear(x, W["lm_head.weight"])

    ids = torch.tensor([[1, 17, 42, 8, 71, 33, 60, 2], [1, 7, 3, 55, 70, 0, 0, 0]])
    mask = torch.tensor([[1, 1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 0, 0, 0]])
    logits = forward(ids, mask)
    assert min_router_gap[0] > 1e-4, f"router top-{K} gap too small ({min_router_gap[0]}); pick another seed"
    expected = {"input_ids": ids.tolist(), "attention_mask": mask.tolist(),
                "logits_shape": list(logits.shape), "logits": tolist(logits),
                "min_router_gap": min_router_gap[0]}
    expected.update(greedy(forward, [1, 17, 42], 6))
    return cfg, W.t, expected


# ----------------------------------------------------------------------------------------------------------
# Llama family (modeling_llama.py, modeling_mistral.py, modeling_qwen2.py: RMSNorm, RoPE with rope_scaling,
# GQA, optional attention biases, SwiGLU MLP, tied or untied embeddings, Mistral's sliding window)
# ----------------------------------------------------------------------------------------------------------
def llama3_inv_freq(inv_freq, rs):
    """transformers' _compute_llama3_parameters, in float64."""
    factor, low, high, old = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"], rs["original_max_position_embeddings"]
    low_wavelen, high_wavelen = old / low, old / high
    wavelen = 2 * math.pi / inv_freq
    out = torch.where(wavelen > low_wavelen, inv_freq / factor, inv_freq)
    smooth = (old / wavelen - low) / (high - low)
    smoothed = (1 - smooth) * out / factor + smooth * out
    medium = ~(wavelen < high_wavelen) & ~(wavelen > low_wavelen)
    return torch.where(medium, smoothed, out)


def make_llama(variant):
    """llama: GQA, llama3 rope scaling (all three wavelength bands), attention_bias on q/k/v/o, untied head;
    qwen2: GQA, q/k/v biases only, tied embeddings; mistral: sliding window of 3 positions, no biases."""
    cfg = {
        "architectures": [{"llama": "LlamaForCausalLM", "qwen2": "Qwen2ForCausalLM", "mistral": "MistralForCausalLM"}[variant]],
        "model_type": variant,
        "vocab_size": 80,
        "hidden_size": 32,
        "intermediate_size": 48,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2 if variant != "mistral" else 4,
        "head_dim": 8,
        "hidden_act": "silu",
        "max_position_embeddings": 64,
        "rms_norm_eps": 1e-6,
        "rope_theta": 10000.0,
        "attention_dropout": 0.0,
        "tie_word_embeddings": variant == "qwen2",
        "initializer_range": 0.02,
        "use_cache": True,
        "bos_token_id": 1,
        "eos_token_id": 2,
    }
    if variant == "llama":
        # wavelengths 2*pi/theta^(-2i/8) = 6.3, 63, 628, 6283: below 64/4, between 16 and 64, and twice above 64.
        cfg.update({"attention_bias": True, "mlp_bias": False, "pretraining_tp": 1,
                    "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                     "high_freq_factor": 4.0, "original_max_position_embeddings": 64}})
    if variant == "qwen2":
        cfg.update({"use_sliding_window": False, "sliding_window": 4096, "max_window_layers": 2, "rope_scaling": None})
    if variant == "mistral":
        cfg.update({"sliding_window": 3})
    H, V, I = cfg["hidden_size"], cfg["vocab_size"], cfg["intermediate_size"]
    n, kv, d = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    qkv_bias = variant == "qwen2" or (variant == "llama" and cfg["attention_bias"])
    o_bias = variant == "llama" and cfg["attention_bias"]
    W = Weights({"llama": 41, "qwen2": 42, "mistral": 43}[variant])
    W.normal("model.embed_tokens.weight", (V, H), 1.0)
    for i in range(cfg["num_hidden_layers"]):
        l = f"model.layers.{i}."
        W.normal(l + "input_layernorm.weight", (H,), 0.1, 1.0)
        for proj, shape in (("q_proj", (n * d, H)), ("k_proj", (kv * d, H)), ("v_proj", (kv * d, H)), ("o_proj", (H, n * d))):
            W.normal(l + f"self_attn.{proj}.weight", shape, 0.3 if proj != "o_proj" else 0.2)
            if (qkv_bias and proj != "o_proj") or (o_bias and proj == "o_proj"):
                W.normal(l + f"self_attn.{proj}.bias", (shape[0],), 0.2)
        W.normal(l + "post_attention_layernorm.weight", (H,), 0.1, 1.0)
        W.normal(l + "mlp.gate_proj.weight", (I, H), 0.3)
        W.normal(l + "mlp.up_proj.weight", (I, H), 0.3)
        W.normal(l + "mlp.down_proj.weight", (H, I), 0.2)
    W.normal("model.norm.weight", (H,), 0.1, 1.0)
    if not cfg["tie_word_embeddings"]:
        W.normal("lm_head.weight", (V, H), 0.3)
    eps = cfg["rms_norm_eps"]
    inv_freq = 1.0 / (cfg["rope_theta"] ** (torch.arange(0, d, 2, dtype=torch.int64).to(F64) / d))
    if cfg.get("rope_scaling"):
        inv_freq = llama3_inv_freq(inv_freq, cfg["rope_scaling"])
    window = cfg.get("sliding_window") if variant == "mistral" else None

    def rms_norm(x, w):
        return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + eps) * w

    def rotate_half(x):
        x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
        return torch.cat((-x2, x1), dim=-1)

    def bias(name):
        return W[name] if name in W.t else None

    def forward(ids, mask):
        b, t = ids.shape
        pos = torch.arange(t, dtype=F64)
        freqs = pos[:, None] * inv_freq[None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos()[None, None], emb.sin()[None, None]
        qi, kj = torch.arange(t)[:, None], torch.arange(t)[None, :]
        allowed = kj <= qi
        if window is not None:  # key j visible to query i when i - window < j <= i
            allowed = allowed & (kj > qi - window)
        allowed = allowed[None, None] & (mask[:, None, None, :] == 1)
        add = torch.zeros(b, 1, t, t, dtype=F64).masked_fill(~allowed, min_value())
        x = W["model.embed_tokens.weight"][ids]
        for i in range(cfg["num_hidden_layers"]):
            l = f"model.layers.{i}."
            h = rms_norm(x, W[l + "input_layernorm.weight"])
            q = linear(h, W[l + "self_attn.q_proj.weight"], bias(l + "self_attn.q_proj.bias")).view(b, t, n, d).transpose(1, 2)
            k = linear(h, W[l + "self_attn.k_proj.weight"], bias(l + "self_attn.k_proj.bias")).view(b, t, kv, d).transpose(1, 2)
            v = linear(h, W[l + "self_attn.v_proj.weight"], bias(l + "self_attn.v_proj.bias")).view(b, t, kv, d).transpose(1, 2)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            k = k.repeat_interleave(n // kv, dim=1)
            v = v.repeat_interleave(n // kv, dim=1)
            a = merge_heads(attend(q, k, v, add, d ** -0.5))
            x = x + linear(a, W[l + "self_attn.o_proj.weight"], bias(l + "self_attn.o_proj.bias"))
            h = rms_norm(x, W[l + "post_attention_layernorm.weight"])
            x = x + linear(silu(linear(h, W[l + "mlp.gate_proj.weight"])) * linear(h, W[l + "mlp.up_proj.weight"]),
                           W[l + "mlp.down_proj.weight"])
        x = rms_norm(x, W["model.norm.weight"])
        head = W["model.embed_tokens.weight"] if cfg["tie_word_embeddings"] else W["lm_head.weight"]
        return linear(x, head)

    ids = torch.tensor([[1, 17, 42, 8, 71, 33, 60, 2], [1, 7, 3, 55, 70, 0, 0, 0]])
    mask = torch.tensor([[1, 1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 0, 0, 0]])
    logits = forward(ids, mask)
    expected = {"input_ids": ids.tolist(), "attention_mask": mask.tolist(),
                "logits_shape": list(logits.shape), "logits": tolist(logits)}
    expected.update(greedy(forward, [1, 17, 42], 6))
    return cfg, W.t, expected


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    args = [a for a in sys.argv[1:] if not a.startswith("--only=")]
    only = [a.split("=", 1)[1].split(",") for a in sys.argv[1:] if a.startswith("--only=")]
    out = args[0] if args else os.path.join(here, "..", "..", "tests", "MlpKit.Tests", "Fixtures", "zoo")
    torch.set_grad_enabled(False)
    makers = {"bert": lambda: make_bert("bert"), "roberta": lambda: make_bert("roberta"),
              "gpt2": make_gpt2, "mixtral": make_mixtral,
              "llama": lambda: make_llama("llama"), "qwen2": lambda: make_llama("qwen2"), "mistral": lambda: make_llama("mistral")}
    for arch, make in makers.items():
        if only and arch not in only[0]:
            continue
        cfg, tensors, expected = make()
        d = os.path.join(out, arch)
        os.makedirs(d, exist_ok=True)
        write_json(os.path.join(d, "config.json"), cfg)
        write_safetensors(os.path.join(d, "model.safetensors"), tensors)
        expected["generator"] = "tools/reference/make_zoo_fixtures.py (plain PyTorch %s, float64 reference)" % torch.__version__
        write_json(os.path.join(d, "expected.json"), expected)
        size = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
        print(f"{arch}: {len(tensors)} tensors, {size / 1024:.0f} KB -> {os.path.normpath(d)}")


if __name__ == "__main__":
    main()
