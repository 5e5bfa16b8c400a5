#!/usr/bin/python3
"""ONNX fixtures for the import/export tests.

Builds a tiny BERT in plain PyTorch, with the module names of Hugging Face's BertModel (embeddings.*,
encoder.layer.N.attention.self.query, ..., intermediate.dense, output.dense) and its equations (post-LN,
erf GELU, additive attention mask), and exports it with torch.onnx.export the way sentence-transformers
exports are made: inputs input_ids / attention_mask / token_type_ids, output last_hidden_state, dynamic batch
and sequence axes. PyTorch's exporter writes each nn.Linear as a MatMul against an unnamed transposed weight
plus an Add of the named bias, as in the real MiniLM file, so MlpKit's graph-following import is exercised.

Also written, for the error tests:
  unmappable.onnx   the same model with one Linear exported without a bias: its weight feeds no X.bias Add.
  not-bert.onnx     a two-layer MLP (no embeddings): not a BERT-family encoder.

MlpKit's test then compares its forward of the imported checkpoint with ONNX Runtime's run of the file.

Usage:  /usr/bin/python3 tools/reference/make_onnx_fixtures.py [OUT_DIR]
        (default OUT_DIR: tests/MlpKit.Tests/Fixtures/onnx)
Needs:  Debian's python3-torch.
"""
import math
import os
import sys

import torch
from torch import nn

torch.manual_seed(1234)
VOCAB, HIDDEN, LAYERS, HEADS, FFN, POSITIONS = 64, 32, 2, 4, 48, 40


class Embeddings(nn.Module):
    def __init__(self):
        super().__init__()
        self.word_embeddings = nn.Embedding(VOCAB, HIDDEN)
        self.position_embeddings = nn.Embedding(POSITIONS, HIDDEN)
        self.token_type_embeddings = nn.Embedding(2, HIDDEN)
        self.LayerNorm = nn.LayerNorm(HIDDEN, eps=1e-12)

    def forward(self, ids, types):
        pos = torch.arange(ids.shape[1]).unsqueeze(0)
        return self.LayerNorm(self.word_embeddings(ids) + self.position_embeddings(pos) + self.token_type_embeddings(types))


class SelfAttention(nn.Module):
    def __init__(self):
        super().__init__()
        self.query = nn.Linear(HIDDEN, HIDDEN)
        self.key = nn.Linear(HIDDEN, HIDDEN)
        self.value = nn.Linear(HIDDEN, HIDDEN)

    def split(self, x):
        b, t, _ = x.shape
        return x.view(b, t, HEADS, HIDDEN // HEADS).permute(0, 2, 1, 3)

    def forward(self, x, mask):
        q, k, v = self.split(self.query(x)), self.split(self.key(x)), self.split(self.value(x))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(HIDDEN // HEADS) + mask
        ctx = torch.matmul(scores.softmax(-1), v).permute(0, 2, 1, 3)
        return ctx.reshape(x.shape)


class Dense(nn.Module):
    def __init__(self, n_in, n_out, norm=True, bias=True):
        super().__init__()
        self.dense = nn.Linear(n_in, n_out, bias=bias)
        if norm:
            self.LayerNorm = nn.LayerNorm(n_out, eps=1e-12)


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        setattr(self, "self", SelfAttention())
        self.output = Dense(HIDDEN, HIDDEN)


class Layer(nn.Module):
    def __init__(self, ffn_bias=True):
        super().__init__()
        self.attention = Attention()
        self.intermediate = Dense(HIDDEN, FFN, norm=False, bias=ffn_bias)
        self.output = Dense(FFN, HIDDEN)

    def forward(self, x, mask):
        a = getattr(self.attention, "self")(x, mask)
        x = self.attention.output.LayerNorm(self.attention.output.dense(a) + x)
        h = self.intermediate.dense(x)
        h = 0.5 * h * (1.0 + torch.erf(h / math.sqrt(2.0)))
        return self.output.LayerNorm(self.output.dense(h) + x)


class Encoder(nn.Module):
    def __init__(self, ffn_bias=True):
        super().__init__()
        self.layer = nn.ModuleList([Layer(ffn_bias or i == 0) for i in range(LAYERS)])


class Bert(nn.Module):
    def __init__(self, ffn_bias=True):
        super().__init__()
        self.embeddings = Embeddings()
        self.encoder = Encoder(ffn_bias)

    def forward(self, input_ids, attention_mask, token_type_ids):
        mask = (1.0 - attention_mask[:, None, None, :].to(torch.float32)) * -10000.0
        x = self.embeddings(input_ids, token_type_ids)
        for layer in self.encoder.layer:
            x = layer(x, mask)
        return x


def randomize(model):
    # Larger than HF's init (std 0.02) so a wrong equation shows as a large difference.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm.weight" in name:
                p.uniform_(0.5, 1.5)
            else:
                p.normal_(0, 0.3)


def export(model, path):
    ids = torch.tensor([[2, 17, 5, 9, 3], [2, 8, 3, 0, 0]])
    mask = (ids != 0).long()
    types = torch.zeros_like(ids)
    torch.onnx.export(model, (ids, mask, types), path, opset_version=13,
                      input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=["last_hidden_state"],
                      dynamic_axes={n: {0: "batch", 1: "sequence"} for n in ["input_ids", "attention_mask", "token_type_ids", "last_hidden_state"]})


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(8, 16)
        self.fc2 = nn.Linear(16, 4)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "tests", "MlpKit.Tests", "Fixtures", "onnx")
    os.makedirs(out, exist_ok=True)
    model = Bert().eval()
    randomize(model)
    export(model, os.path.join(out, "tiny-bert.onnx"))
    broken = Bert(ffn_bias=False).eval()
    randomize(broken)
    export(broken, os.path.join(out, "unmappable.onnx"))
    torch.onnx.export(Mlp().eval(), (torch.zeros(1, 8),), os.path.join(out, "not-bert.onnx"), opset_version=13,
                      input_names=["x"], output_names=["y"])
    print("wrote", out)


if __name__ == "__main__":
    main()
