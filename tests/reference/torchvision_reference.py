#!/usr/bin/env python3
"""Development-time reference for tests/data/torchvision_reference.json (Debian python3-torchvision).

torchvision's inception_v3 with formula weights that the C++ test rebuilds bit for bit (so no
100 MB state_dict needs to live in the repository): every floating tensor, in sorted key order k,
gets sin(i * 12.9898 + k * 78.233) computed in float64 and cast to float32, scaled per kind:
conv weights by sqrt(6 / fan_in), BN biases by 0.01; BN weights 1, running means 0, running
variances 1. Input: sin(i * 0.001) * 0.5 + 0.5 over [1, 3, 299, 299]. Records the pooled vector
for transform_input off and on.
"""
import json
import math

import torch
import torchvision


def formula(numel, k):
    i = torch.arange(numel, dtype=torch.float64)
    return torch.sin(i * 12.9898 + k * 78.233).to(torch.float32)


def fill(model):
    sd = model.state_dict()
    for k, name in enumerate(sorted(sd)):
        t = sd[name]
        if not t.is_floating_point():
            continue
        if name.endswith("running_mean"):
            t.zero_()
        elif name.endswith("running_var") or (name.endswith("bn.weight")):
            t.fill_(1.0)
        elif name.endswith("bn.bias"):
            t.copy_(formula(t.numel(), k).view_as(t) * 0.01)
        else:
            fan_in = t[0].numel() if t.dim() > 1 else 1
            t.copy_(formula(t.numel(), k).view_as(t) * math.sqrt(6.0 / fan_in))


def main():
    torch.set_num_threads(2)
    x = (torch.sin(torch.arange(3 * 299 * 299, dtype=torch.float64) * 0.001) * 0.5 + 0.5).to(torch.float32)
    x = x.view(1, 3, 299, 299)
    out = {"source": f"torchvision {torchvision.__version__} inception_v3, formula weights", "cases": []}
    sd = torchvision.models.inception_v3(weights=None, aux_logits=True, init_weights=False).state_dict()
    out["keys"] = [[name, list(sd[name].shape), sd[name].is_floating_point()] for name in sorted(sd)]
    for transform in (False, True):
        m = torchvision.models.inception_v3(weights=None, aux_logits=True, init_weights=False, transform_input=transform)
        fill(m)
        m.eval()
        feats = {}
        m.avgpool.register_forward_hook(lambda mod, inp, o: feats.__setitem__("pooled", o.flatten(1)))
        with torch.no_grad():
            m(x)
        out["cases"].append({"transform_input": transform,
                             "pooled": [float("%.7g" % v) for v in feats["pooled"][0].tolist()]})
        if not transform:
            torch.save(m.state_dict(), "/tmp/tv_state_dict.pt")  # for checking the import by hand
    print(json.dumps(out, separators=(",", ":")))


if __name__ == "__main__":
    main()
