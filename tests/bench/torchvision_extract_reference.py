#!/usr/bin/env python3
"""Reference for bench_encode throughput: torchvision's inception_v3 (random weights; speed does
not depend on them) over the same image files, decoded with PIL, resized to 299x299, batch B,
the same thread count. Development-time only (Debian python3-torchvision). Prints one JSON line.
"""
import json
import os
import sys
import time

import numpy as np
import torch
import torchvision
from PIL import Image


def main():
    folder, batch, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    torch.set_num_threads(threads)
    files = sorted(os.path.join(r, f) for r, _, fs in os.walk(folder) for f in fs if f.lower().endswith((".jpg", ".jpeg", ".png")))
    model = torchvision.models.inception_v3(weights=None, aux_logits=True, init_weights=False).eval()
    start = time.perf_counter()
    done = 0
    with torch.no_grad():
        for i in range(0, len(files), batch):
            imgs = [np.asarray(Image.open(f).convert("RGB").resize((299, 299), Image.BILINEAR), dtype=np.float32) / 255.0
                    for f in files[i:i + batch]]
            x = torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2).contiguous()
            model(x)
            done += len(imgs)
    seconds = time.perf_counter() - start
    print(json.dumps({"impl": "torchvision-python", "images": done, "threads": torch.get_num_threads(), "batch": batch,
                      "images_per_s": round(done / seconds, 2)}))


if __name__ == "__main__":
    main()
