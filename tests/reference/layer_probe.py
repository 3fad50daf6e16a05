#!/usr/bin/env python3
"""Analysis behind the encoder-layer choice (README, "Which encoder layer"): how well an object's
colour and shape can be read, by a linear classifier, from the grid cell under its centre.

    python3 tests/reference/layer_probe.py SHAPES_DIR CACHE_DIR [IMAGES]

SHAPES_DIR is a `captioner shapes` folder (its dataset.json lists every object with its box),
CACHE_DIR a feature cache of its images (`captioner extract`, or the cache `captioner train`
makes: SHAPES_DIR/features for mixed10, SHAPES_DIR/features-mixed5 for mixed5). The first IMAGES
images (default 2000) are used, objects of the first 80 % to fit, the rest to test. Debian's
python3-torch and python3-numpy are enough; with OpenBLAS on a CPU it does not recognise, set
OPENBLAS_CORETYPE=Haswell to keep it fast.
"""
import json
import sys

import numpy as np
import torch


def main():
    shapes_dir, cache_dir = sys.argv[1], sys.argv[2]
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 2000
    dataset = json.load(open(shapes_dir + "/dataset.json"))
    listed = [line.strip() for line in open(cache_dir + "/images.txt")]
    grid = np.load(cache_dir + "/grid.npy", mmap_mode="r")
    images = dataset["images"][:count]
    colours = sorted({o["color"] for im in images for o in im["objects"]})
    shapes = sorted({o["shape"] for im in images for o in im["objects"]})
    cell = 299 / 8
    features, colour_of, shape_of = [], [], []
    row_of = {path.rsplit("/", 1)[-1]: i for i, path in enumerate(listed)}
    for im in images:
        cells = np.asarray(grid[row_of[im["filename"]]], dtype=np.float32)
        for o in im["objects"]:
            x, y, w, h = o["bbox"]
            r, c = int((y + h / 2) // cell), int((x + w / 2) // cell)
            features.append(cells[r * 8 + c])
            colour_of.append(colours.index(o["color"]))
            shape_of.append(shapes.index(o["shape"]))
    x = torch.tensor(np.stack(features))
    x = (x - x.mean(0)) / (x.std(0) + 1e-3)
    split = int(len(x) * 0.8)
    print(f"{cache_dir}: {len(x)} objects in {len(images)} images, {x.shape[1]} channels per cell")
    for name, labels, classes in (("colour", colour_of, colours), ("shape", shape_of, shapes)):
        y = torch.tensor(labels)
        torch.manual_seed(0)
        probe = torch.nn.Linear(x.shape[1], len(classes))
        optimiser = torch.optim.Adam(probe.parameters(), 1e-3, weight_decay=1e-4)
        for _ in range(300):
            optimiser.zero_grad()
            torch.nn.functional.cross_entropy(probe(x[:split]), y[:split]).backward()
            optimiser.step()
        with torch.no_grad():
            accuracy = (probe(x[split:]).argmax(1) == y[split:]).float().mean().item()
        print(f"  {name} ({len(classes)} classes): held-out accuracy {accuracy:.3f}")


if __name__ == "__main__":
    main()
