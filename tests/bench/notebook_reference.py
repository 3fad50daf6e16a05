#!/usr/bin/env python3
"""Reference for bench_train: the notebook's CaptionNet and training step in PyTorch (Python).

A development-time tool only (Debian's python3-torch); the product never runs Python.
Builds the same batch as bench_train (see bench_inputs.md) and prints one JSON line.
"""
import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

PAD, START, END = 0, 2, 3


class CaptionNet(nn.Module):
    """The notebook's model: image vector -> (h0, c0), embedding, one-layer LSTM, logits."""

    def __init__(self, n_tokens, emb_size=128, lstm_units=256, cnn_feature_size=2048):
        super().__init__()
        self.cnn_to_h0 = nn.Linear(cnn_feature_size, lstm_units)
        self.cnn_to_c0 = nn.Linear(cnn_feature_size, lstm_units)
        self.emb = nn.Embedding(n_tokens, emb_size, padding_idx=PAD)
        self.lstm = nn.LSTM(emb_size, lstm_units, batch_first=True)
        self.logits = nn.Linear(lstm_units, n_tokens)

    def forward(self, image_vectors, captions_ix):
        initial_cell = self.cnn_to_c0(image_vectors)
        initial_hid = self.cnn_to_h0(image_vectors)
        captions_emb = self.emb(captions_ix)
        lstm_out, _ = self.lstm(captions_emb, (initial_hid[None], initial_cell[None]))
        return self.logits(lstm_out)


def compute_loss(network, image_vectors, captions_ix):
    inp = captions_ix[:, :-1].contiguous()
    nxt = captions_ix[:, 1:].contiguous()
    logits = network(image_vectors, inp)
    # Per-token mean over real tokens (PAD ignored), as Captioner computes it.
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), nxt.reshape(-1), ignore_index=PAD)


def make_tokens(batch, length, vocab, lengths):
    x = 1

    def nxt():
        nonlocal x
        x = (1103515245 * x + 12345) % 2147483648
        return x

    tokens = torch.zeros(batch, length, dtype=torch.int64)
    for i in range(batch):
        n = length if lengths == "full" else min(length, 8 + nxt() % 13)
        tokens[i, 0] = START
        for j in range(1, n - 1):
            tokens[i, j] = 4 + nxt() % (vocab - 4)
        tokens[i, n - 1] = END
    return tokens


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--length", type=int, default=20)
    p.add_argument("--vocab", type=int, default=10403)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--lengths", choices=["coco", "full"], default="coco")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--autocast", choices=["off", "bf16"], default="off",
                   help="bf16: torch.autocast with bfloat16, what a PyTorch user turns on for mixed precision")
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    device = torch.device(a.device)
    net = CaptionNet(a.vocab).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    feats = torch.randn(a.batch, 2048).to(device)
    tokens = make_tokens(a.batch, a.length, a.vocab, a.lengths).to(device)

    def step():
        opt.zero_grad()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=a.autocast == "bf16"):
            loss = compute_loss(net, feats, tokens)
        loss.backward()
        opt.step()
        return loss.item()

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    for _ in range(a.warmup):
        step()
    sync()
    start = time.perf_counter()
    last = 0.0
    for _ in range(a.steps):
        last = step()
    sync()
    seconds = time.perf_counter() - start
    impl = "python-reference" + ("-autocast-bf16" if a.autocast == "bf16" else "")
    print(json.dumps({"impl": impl, "device": device.type, "threads": torch.get_num_threads(),
                      "lengths": a.lengths, "steps": a.steps, "captions_per_s": round(a.batch * a.steps / seconds, 1),
                      "steps_per_s": round(a.steps / seconds, 3), "last_loss": round(last, 4)}))


if __name__ == "__main__":
    main()
