#!/usr/bin/python3
"""pytorch_model.bin fixtures: the tiny BERT zoo checkpoint re-saved by PyTorch's own torch.save.

Reads tests/MlpKit.Tests/Fixtures/zoo/bert/model.safetensors with a hand-written reader (struct + json, no
safetensors package) and writes, beside a copy of its config.json:
  pytorch-bin/pytorch_model.bin         torch.save(state_dict) in the zip format (PyTorch >= 1.6 default)
  pytorch-bin-legacy/pytorch_model.bin  the same with _use_new_zipfile_serialization=False (the pre-1.6 format
                                        many older Hugging Face repositories still ship)
The C# test loads each folder with ModelZoo.Load and compares every weight with the safetensors checkpoint.

Usage:  /usr/bin/python3 tools/reference/make_pytorch_bin_fixture.py
Needs:  Debian's python3-torch.
"""
import json
import os
import shutil
import struct

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "..", "..", "tests", "MlpKit.Tests", "Fixtures")


def read_safetensors(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        assert e["dtype"] == "F32", e["dtype"]
        a, b = e["data_offsets"]
        count = (b - a) // 4
        values = struct.unpack("<%df" % count, data[a:b])
        out[name] = torch.tensor(values, dtype=torch.float32).reshape(e["shape"])
    return out


def main():
    src = os.path.join(FIX, "zoo", "bert")
    state = read_safetensors(os.path.join(src, "model.safetensors"))
    for folder, zipped in (("pytorch-bin", True), ("pytorch-bin-legacy", False)):
        out = os.path.join(FIX, folder)
        os.makedirs(out, exist_ok=True)
        shutil.copy(os.path.join(src, "config.json"), os.path.join(out, "config.json"))
        torch.save(state, os.path.join(out, "pytorch_model.bin"), _use_new_zipfile_serialization=zipped)
        print("wrote", out)


if __name__ == "__main__":
    main()
