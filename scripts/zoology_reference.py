#!/usr/bin/env python3
"""The PyTorch side of lab's sweep-throughput comparison (issue 14): trains
MQAR cells of the Zoology figure the way Zoology's trainer does, one trial
after another, and prints trials per hour next to each trial's outcome.

What a trial is (as experiments/zoology-fig2.yaml describes it, written
here from the recipe, not from Zoology's code):
  data   MQAR, vocab 8192, `--train-examples` (100,000) and `--test-examples`
         (3,000), queries at power-law gaps (a = 0.01), other positions of
         the query region 0; generated once per setting and shared by its
         trials (lab shares its pools the same way); held on the GPU
  model  token embedding tied to the LM head, learned positions,
         embedding dropout 0.1, 2 pre-norm blocks [LayerNorm, 1-head
         attention (q, k, v, out projections with bias, dropout 0.1 on the
         attention weights), residual, LayerNorm added to the residual (the
         Identity state mixer)], final LayerNorm; init N(0, 0.02), out
         projections N(0, 0.02/sqrt(2·layers))
  loss   the LM head at every position, cross-entropy with ignore_index
         -100 (only the query positions have targets)
  optim  AdamW (betas 0.9/0.999, weight decay 0.1), cosine over the epochs
         to 0 stepped once per epoch, no warmup, no clipping, TF32 allowed
  stop   after the first epoch whose test accuracy exceeds 0.99, or after
         `--epochs` (64)

    python3 scripts/zoology_reference.py --setting 128:8:512 --d-model 64 128 256 --lr 4.64e-4 2.15e-3
"""

import argparse
import math
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def mqar(n, seq_len, vocab, kv, power_a, seed):
    """n MQAR examples (inputs, targets) as int64 arrays, non-queries 0."""
    rng = np.random.default_rng(seed)
    ctx = 2 * kv
    space = (seq_len - ctx) // 2
    g = np.arange(space)
    p = power_a * (g + 1.0) ** (power_a - 1)
    p /= p.sum()
    half = vocab // 2
    inputs = np.zeros((n, seq_len), dtype=np.int64)
    targets = np.full((n, seq_len), -100, dtype=np.int64)
    for i in range(n):
        keys = rng.choice(half - 1, kv, replace=False) + 1
        vals = rng.choice(vocab - half, kv, replace=False) + half
        inputs[i, 0:ctx:2], inputs[i, 1:ctx:2] = keys, vals
        pos = ctx + 2 * rng.choice(space, kv, replace=False, p=p)
        inputs[i, pos], targets[i, pos] = keys, vals
    return torch.from_numpy(inputs), torch.from_numpy(targets)


class Attention(nn.Module):
    def __init__(self, d, dropout):
        super().__init__()
        self.qkv, self.out_proj, self.p = nn.Linear(d, 3 * d), nn.Linear(d, d), dropout

    def forward(self, x):
        q, k, v = self.qkv(x).unsqueeze(1).chunk(3, dim=-1)  # one head
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=self.p if self.training else 0.0)
        return self.out_proj(y.squeeze(1))


class Model(nn.Module):
    def __init__(self, vocab, d, layers, seq_len):
        super().__init__()
        self.tok, self.pos = nn.Embedding(vocab, d), nn.Embedding(seq_len, d)
        self.drop = nn.Dropout(0.1)
        self.mix = nn.ModuleList(Attention(d, 0.1) for _ in range(layers))
        self.n1 = nn.ModuleList(nn.LayerNorm(d) for _ in range(layers))
        self.n2 = nn.ModuleList(nn.LayerNorm(d) for _ in range(layers))
        self.ln_f = nn.LayerNorm(d)
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, std=0.02)
                if getattr(m, "bias", None) is not None:
                    nn.init.zeros_(m.bias)
        for a in self.mix:
            nn.init.normal_(a.out_proj.weight, std=0.02 / math.sqrt(2 * layers))

    def forward(self, ids):
        x = self.drop(self.tok(ids) + self.pos(torch.arange(ids.shape[1], device=ids.device)))
        for mix, n1, n2 in zip(self.mix, self.n1, self.n2):
            x = x + mix(n1(x))
            x = x + n2(x)  # the Identity state mixer's output joins the residual
        return self.ln_f(x) @ self.tok.weight.T  # tied head, every position


def accuracy(model, x, y, batch):
    model.eval()
    right = total = 0
    with torch.no_grad():
        for s in range(0, x.shape[0], batch):
            logits = model(x[s : s + batch])
            t = y[s : s + batch]
            m = t != -100
            right += (logits.argmax(-1)[m] == t[m]).sum().item()
            total += m.sum().item()
    model.train()
    return right / max(1, total)


def trial(data, setting, d, lr, args, seed):
    L, kv, batch = setting
    xtr, ytr, xte, yte = data
    torch.manual_seed(seed)
    model = Model(args.vocab, d, 2, L).cuda()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.999), weight_decay=0.1)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs, eta_min=0.0)
    n = xtr.shape[0]
    steps, acc = 0, 0.0
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for epoch in range(args.epochs):
        perm = torch.randperm(n, device="cuda")
        for s in range(0, n, batch):
            idx = perm[s : s + batch]
            logits = model(xtr[idx])
            loss = F.cross_entropy(logits.flatten(0, 1), ytr[idx].flatten(), ignore_index=-100)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            steps += 1
        acc = accuracy(model, xte, yte, batch)
        if acc > 0.99:
            break
        sched.step()
    torch.cuda.synchronize()
    return time.perf_counter() - t0, epoch + 1, steps, acc


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--setting", nargs="+", default=["128:8:512"], help="L:kv_pairs:batch")
    ap.add_argument("--d-model", nargs="+", type=int, default=[64, 128, 256])
    ap.add_argument("--lr", nargs="+", type=float, default=[4.64e-4, 2.15e-3])
    ap.add_argument("--epochs", type=int, default=64)
    ap.add_argument("--vocab", type=int, default=8192)
    ap.add_argument("--train-examples", type=int, default=100_000)
    ap.add_argument("--test-examples", type=int, default=3_000)
    ap.add_argument("--budget", type=float, default=0, help="stop starting trials after this many seconds (0: no limit)")
    args = ap.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    print(f"# torch {torch.__version__}, {torch.cuda.get_device_name()}", flush=True)
    print("setting     d_model  lr        epochs  steps   accuracy  seconds", flush=True)
    start, done = time.perf_counter(), 0
    for st in args.setting:
        L, kv, batch = (int(v) for v in st.split(":"))
        g0 = time.perf_counter()
        xtr, ytr = mqar(args.train_examples, L, args.vocab, kv, 0.01, 1)
        xte, yte = mqar(args.test_examples, L, args.vocab, kv, 0.01, 2)
        data = tuple(t.cuda() for t in (xtr, ytr, xte, yte))
        print(f"# data for L {L}, {kv} pairs: {time.perf_counter() - g0:.1f} s", flush=True)
        for d in args.d_model:
            for lr in args.lr:
                if args.budget and time.perf_counter() - start > args.budget:
                    break
                sec, ep, steps, acc = trial(data, (L, kv, batch), d, lr, args, 1)
                done += 1
                print(f"L{L}_kv{kv}  {d:7d}  {lr:<8.3g}  {ep:6d}  {steps:6d}  {acc:8.3f}  {sec:7.1f}", flush=True)
    wall = time.perf_counter() - start
    print(f"# {done} trials in {wall:.1f} s (data generation included): {3600 * done / wall:.1f} trials per hour", flush=True)


if __name__ == "__main__":
    sys.exit(main())
