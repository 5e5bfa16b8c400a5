#!/usr/bin/env python3
"""The plain-PyTorch side of `MlpKit.Bench compare` (bench/MlpKit.Bench/Compare).

The C# benchmark starts this script once and talks to it over stdin/stdout, one JSON object per line, so that
MlpKit and PyTorch steps alternate in blocks on the same machine (whoever is not timing waits on a pipe):

  {"op": "setup", "case": "bert-full", "dir": D, "threads": 1, ...}   -> {"ok": true, "check": [...], "loss": x}
  {"op": "run", "steps": n}                                           -> {"ok": true, "ms": [...], "loss": [...]}
  {"op": "quit"}

D holds `weights.safetensors` (the C# model's state dict, MlpKit's parameter names, which the modules below use
too) and `inputs.safetensors`; `check` is the case's output on those inputs in eval mode, which the C# side
compares with its own to prove both compute the same function. The models are written the way the Hugging Face
eager implementations compute them (modeling_bert.py, modeling_gpt2.py), with torch.nn modules and
torch.optim.AdamW as a PyTorch user would train them; no third-party package beyond torch and numpy.

Dependencies (benchmarks only, never tests): Debian's python3-torch and libopenblas0-openmp (without the latter
PyTorch runs on the reference BLAS, ~30x slower). `tools/reference/bench.sh` installs both.
"""
import json
import os
import math
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# ---------------------------------------------------------------------------------------------------------------
# safetensors (u64 little-endian header length, JSON header, raw little-endian data), read with numpy

DTYPES = {"F32": np.float32, "F64": np.float64, "I64": np.int64, "I32": np.int32, "F16": np.float16}


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        arr = np.frombuffer(data[a:b], dtype=DTYPES[info["dtype"]]).reshape(info["shape"])
        out[name] = torch.from_numpy(arr.copy())
    return out


# ---------------------------------------------------------------------------------------------------------------
# models, parameter names as MlpKit's state dicts spell them


class Mlp(nn.Module):
    def __init__(self, d, hidden, act):
        super().__init__()
        self.up = nn.Linear(d, hidden)
        self.down = nn.Linear(hidden, d)
        self.act = act

    def forward(self, x):
        return self.down(self.act(self.up(x)))


def split_heads(x, n):
    b, t, h = x.shape
    return x.view(b, t, n, h // n).transpose(1, 2)


def merge_heads(x):
    b, n, t, d = x.shape
    return x.transpose(1, 2).reshape(b, t, n * d)


def attend(q, k, v, mask, scale, p, training):
    scores = torch.matmul(q, k.transpose(-1, -2)) * scale
    if mask is not None:
        scores = scores + mask
    probs = scores.softmax(-1)
    if training and p > 0:
        probs = F.dropout(probs, p, True)
    return torch.matmul(probs, v)


class BertLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        h = c["hidden"]
        self.heads, self.p_attn, self.p_hidden = c["heads"], c["attn_dropout"], c["hidden_dropout"]
        self.query, self.key, self.value, self.attn_out = (nn.Linear(h, h) for _ in range(4))
        self.attn_norm = nn.LayerNorm(h, eps=c["eps"])
        self.mlp = Mlp(h, c["intermediate"], lambda x: F.gelu(x))
        self.mlp_norm = nn.LayerNorm(h, eps=c["eps"])

    def forward(self, x, mask):
        q, k, v = (split_heads(m(x), self.heads) for m in (self.query, self.key, self.value))
        ctx = merge_heads(attend(q, k, v, mask, 1.0 / math.sqrt(q.shape[3]), self.p_attn, self.training))
        x = self.attn_norm(F.dropout(self.attn_out(ctx), self.p_hidden, self.training) + x)
        return self.mlp_norm(F.dropout(self.mlp(x), self.p_hidden, self.training) + x)


class Bert(nn.Module):
    def __init__(self, c):
        super().__init__()
        h = c["hidden"]
        self.word = nn.Embedding(c["vocab"], h)
        self.position = nn.Embedding(c["positions"], h)
        self.token_type = nn.Embedding(c["types"], h)
        self.emb_norm = nn.LayerNorm(h, eps=c["eps"])
        self.layers = nn.ModuleList(BertLayer(c) for _ in range(c["layers"]))
        if c.get("pooler"):
            self.pooler = nn.Linear(h, h)  # unused by mean pooling; present so the state dicts match
        self.p_hidden = c["hidden_dropout"]

    def forward(self, ids, mask):
        b, t = ids.shape
        pos = torch.arange(t).unsqueeze(0).expand(b, t)
        x = self.word(ids) + self.token_type(torch.zeros_like(ids)) + self.position(pos)
        x = F.dropout(self.emb_norm(x), self.p_hidden, self.training)
        additive = torch.zeros(b, 1, 1, t).masked_fill(~mask.bool().view(b, 1, 1, t), torch.finfo(torch.float32).min)
        for layer in self.layers:
            x = layer(x, additive)
        return x


class SequenceClassifier(nn.Module):
    """Mean of the mask-weighted last hidden states, then a linear head (MlpKit's SequenceClassifier)."""

    def __init__(self, c):
        super().__init__()
        self.encoder = Bert(c)
        self.head = nn.Linear(c["hidden"], c["classes"])

    def pooled(self, ids, mask):
        h = self.encoder(ids, mask)
        m = mask.unsqueeze(-1).to(h.dtype)
        return (h * m).sum(1) / m.sum(1).clamp_min(1)

    def forward(self, ids, mask):
        return self.head(self.pooled(ids, mask))


class Gpt2Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        h = c["hidden"]
        self.heads, self.h, self.p = c["heads"], h, c["dropout"]
        self.ln_1 = nn.LayerNorm(h, eps=c["eps"])
        self.c_attn = nn.Linear(h, 3 * h)
        self.c_proj = nn.Linear(h, h)
        self.ln_2 = nn.LayerNorm(h, eps=c["eps"])
        self.mlp = Mlp(h, c["intermediate"], lambda x: F.gelu(x, approximate="tanh"))

    def forward(self, x, mask):
        q, k, v = (split_heads(t, self.heads) for t in self.c_attn(self.ln_1(x)).split(self.h, 2))
        a = merge_heads(attend(q, k, v, mask, 1.0 / math.sqrt(q.shape[3]), self.p, self.training))
        x = x + F.dropout(self.c_proj(a), self.p, self.training)
        return x + F.dropout(self.mlp(self.ln_2(x)), self.p, self.training)


class Gpt2(nn.Module):
    def __init__(self, c):
        super().__init__()
        h = c["hidden"]
        self.wte = nn.Embedding(c["vocab"], h)
        self.wpe = nn.Embedding(c["positions"], h)
        self.layers = nn.ModuleList(Gpt2Block(c) for _ in range(c["layers"]))
        self.ln_f = nn.LayerNorm(h, eps=c["eps"])
        self.p = c["dropout"]

    def forward(self, ids):
        t = ids.shape[1]
        x = F.dropout(self.wte(ids) + self.wpe(torch.arange(t).unsqueeze(0)), self.p, self.training)
        allowed = torch.ones(t, t, dtype=torch.bool).tril()
        mask = torch.zeros(1, 1, t, t).masked_fill(~allowed, torch.finfo(torch.float32).min)
        for layer in self.layers:
            x = layer(x, mask)
        return F.linear(self.ln_f(x), self.wte.weight)  # tied LM head

    @staticmethod
    def loss(logits, ids):
        return F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1))


class LoraLinear(nn.Module):
    """W x + b + (alpha / r) B A x, W and b frozen (PEFT's LoRA, no dropout)."""

    def __init__(self, base, A, B, scaling):
        super().__init__()
        self.base = base
        self.A = nn.Parameter(A)
        self.B = nn.Parameter(B)
        self.scaling = scaling

    def forward(self, x):
        return self.base(x) + F.linear(F.linear(x, self.A), self.B) * self.scaling


class DenseFfn(nn.Module):
    def __init__(self, d, dff):
        super().__init__()
        self.ffn = Mlp(d, dff, F.relu)

    def forward(self, x):
        return self.ffn(x)


class SigmaMoe(nn.Module):
    """σ-MoE (Csordás et al. 2023) in PyTorch's best CPU form: sigmoid gate, top-K, experts as one padded bmm."""

    def __init__(self, d, ne, g, k, gamma):
        super().__init__()
        self.keys = nn.Parameter(torch.empty(ne, d, g))
        self.values = nn.Parameter(torch.empty(ne, g, d))
        self.expert_sel = nn.Parameter(torch.empty(ne, d))
        self.ne, self.k, self.gamma = ne, k, gamma
        self.aux = None

    def forward(self, x):
        t, d = x.shape
        z = F.linear(x, self.expert_sel)
        s = z.sigmoid()
        with torch.no_grad():
            idx = s.topk(self.k, dim=-1, sorted=False).indices
        gate = s.gather(1, idx)
        logp = z.log_softmax(-1).logsumexp(0) - math.log(t)
        self.aux = self.gamma * (logp.exp() * logp).sum()
        # Pairs (token, slot) sorted by expert; each expert's rows padded to the busiest expert's count M.
        flat = idx.reshape(-1)
        order = flat.argsort()
        counts = torch.bincount(flat, minlength=self.ne)
        m = int(counts.max())
        starts = torch.cumsum(counts, 0) - counts
        slot = torch.arange(flat.numel()) - starts[flat[order]]
        dest = flat[order] * m + slot
        pair_padded = torch.full((self.ne * m,), t * self.k, dtype=torch.long)
        pair_padded[dest] = order
        token_padded = torch.where(pair_padded < t * self.k, pair_padded // self.k, torch.full_like(pair_padded, t))
        xs = torch.cat([x, x.new_zeros(1, d)]).index_select(0, token_padded).view(self.ne, m, d)
        gs = torch.cat([gate.reshape(-1), gate.new_zeros(1)]).index_select(0, pair_padded).view(self.ne, m, 1)
        h = torch.bmm(xs, self.keys).relu() * gs
        ys = torch.bmm(h, self.values).view(self.ne * m, d)
        y = x.new_zeros(t + 1, d).index_add_(0, token_padded, ys)
        return y[:t]


# ---------------------------------------------------------------------------------------------------------------
# cases: each builds its model from the C# weights and returns (check output, step function)


def adamw_groups(params, wd):
    """Biases and LayerNorm weights (1-d tensors) are not decayed, as MlpKit's trainer and HF's Trainer do."""
    decay = [p for n, p in params if p.requires_grad and p.dim() > 1]
    no_decay = [p for n, p in params if p.requires_grad and p.dim() <= 1]
    return [{"params": decay, "weight_decay": wd}, {"params": no_decay, "weight_decay": 0.0}]


PHASES = []  # (forward+backward, gradient norm and clipping, optimizer step + zero_grad) ms of each training step


def train_step_fn(model, loss_fn, cfg):
    opt = torch.optim.AdamW(adamw_groups(list(model.named_parameters()), cfg["weight_decay"]), lr=cfg["lr"],
                            betas=(0.9, 0.999), eps=1e-8)
    trainable = [p for p in model.parameters() if p.requires_grad]

    def step():
        t0 = time.perf_counter()
        model.train()
        loss = loss_fn()
        loss.backward()
        value = loss.item()
        t1 = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(trainable, cfg["clip"])
        t2 = time.perf_counter()
        opt.step()
        opt.zero_grad()
        PHASES.append(((t1 - t0) * 1000, (t2 - t1) * 1000, (time.perf_counter() - t2) * 1000))
        return value

    return step


def load(model, weights):
    missing, unexpected = model.load_state_dict(weights, strict=False)
    if missing or unexpected:
        raise SystemExit(f"weights do not match the reference model: missing {missing[:5]}, unexpected {unexpected[:5]}")


def setup_bert(cfg, w, x):
    model = SequenceClassifier(cfg["model"])
    load(model, w)
    ids, mask, labels = x["ids"], x["mask"], x["labels"]
    if cfg["case"].endswith("-lora"):
        # A starts as nn.Linear's weight does and B at zero (PEFT, MlpKit), so the function is the base model's.
        for layer in model.encoder.layers:
            for name in ("up", "down"):
                base = getattr(layer.mlp, name)
                a = torch.empty(8, base.in_features)
                nn.init.kaiming_uniform_(a, a=math.sqrt(5))
                setattr(layer.mlp, name, LoraLinear(base, a, torch.zeros(base.out_features, 8), cfg["lora_scaling"]))
        for n, p in model.named_parameters():
            p.requires_grad_(n.startswith("head.") or n.endswith((".A", ".B")))
    model.eval()
    with torch.no_grad():
        check = model(ids, mask)
    if cfg["case"].startswith("bert-infer"):
        def infer():
            with torch.no_grad():
                model(ids, mask)
            return float("nan")
        return check, infer
    return check, train_step_fn(model, lambda: F.cross_entropy(model(ids, mask), labels), cfg)


def setup_gpt2(cfg, w, x):
    model = Gpt2(cfg["model"])
    load(model, w)
    ids = x["ids"]
    model.eval()
    with torch.no_grad():
        check = model(ids)[:, -1]
    return check, train_step_fn(model, lambda: Gpt2.loss(model(ids), ids), cfg)


def setup_ffn(cfg, w, x):
    m = cfg["model"]
    model = DenseFfn(m["d"], m["dff"]) if cfg["case"].startswith("ffn") else SigmaMoe(m["d"], m["ne"], m["g"], m["k"], m["gamma"])
    load(model, w)
    inp, gy = x["x"], x["gy"]
    with torch.no_grad():
        check = model(inp)

    def step():
        xi = inp.detach().requires_grad_(True)
        loss = (model(xi) * gy).sum()
        if getattr(model, "aux", None) is not None:
            loss = loss + model.aux
        loss.backward()
        for p in model.parameters():
            p.grad = None
        return float("nan")

    return check, step


def setup_matmul(cfg, w, x):
    a, b = x["a"], x["b"]

    def step():
        torch.matmul(a, b)
        return float("nan")

    return torch.matmul(a[:4], b), step


SETUPS = {"matmul": setup_matmul, "bert": setup_bert, "gpt2": setup_gpt2, "ffn": setup_ffn, "moe": setup_ffn}


def main():
    step = None
    out = sys.stdout
    for line in sys.stdin:
        msg = json.loads(line)
        op = msg["op"]
        if op == "quit":
            break
        try:
            if op == "setup":
                torch.set_num_threads(int(msg["threads"]))
                torch.manual_seed(0)
                w = read_safetensors(msg["dir"] + "/weights.safetensors")
                x = read_safetensors(msg["dir"] + "/inputs.safetensors")
                check, step = SETUPS[msg["case"].split("-")[0]](msg, w, x)
                reply = {"ok": True, "check": check.reshape(-1).tolist(), "threads": torch.get_num_threads(),
                         "torch": torch.__version__, "blas": blas_name()}
            elif op == "run":
                ms, losses = [], []
                PHASES.clear()
                for _ in range(int(msg["steps"])):
                    t0 = time.perf_counter()
                    losses.append(step())
                    ms.append((time.perf_counter() - t0) * 1000)
                reply = {"ok": True, "ms": ms, "loss": [None if math.isnan(v) else v for v in losses], "phases": list(PHASES)}
            else:
                reply = {"ok": False, "error": f"unknown op {op}"}
        except Exception as e:  # reported to the C# side, which names the case
            reply = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        out.write(json.dumps(reply) + "\n")
        out.flush()


def blas_name():
    """The BLAS library this process actually loaded (Debian's torch links whatever libblas.so.3 points to)."""
    with open("/proc/self/maps") as f:
        libs = {line.split()[-1] for line in f if "blas" in line}
    return ", ".join(sorted({os.path.basename(l) for l in libs if "libblas.so" not in l})) or "none loaded"


if __name__ == "__main__":
    main()
