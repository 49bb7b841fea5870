#!/usr/bin/env python3
"""The PyTorch reference for `lab bench train`: the same training step,
timed the same way, printed in the same table layout.

The workload (issue 5): `--layers` blocks of [pre-LayerNorm, mixer,
residual, pre-LayerNorm, MLP (4x, tanh GELU), residual], token + learned
position embeddings, final LayerNorm, untied LM head (no bias) at every
position (or at `--targets` of them, spread evenly, as lab does), masked
cross-entropy (one target in ten ignored), AdamW (lr 1e-3, betas 0.9/0.95,
weight decay 0.1, gradient clipping at 1), TF32 allowed, one head.

Mixers: `softmax` is q/k/v/o projections (no bias) around
F.scaled_dot_product_attention(is_causal=True); `linear(feature=elu1)` is
normalised causal linear attention with feature elu(x)+1, computed in
chunks of `--chunk` (64) in plain torch: quadratic inside a chunk, a
running k·vᵀ state across chunks.

Each step (zero_grad, forward, loss, backward, clip, AdamW step) is timed
with CUDA events, after `--warmup` untimed steps; the median of `--reps`
is printed. Two implementations: eager, and the model (forward and loss)
under torch.compile(mode="reduce-overhead"), which captures CUDA graphs;
the optimizer runs eagerly (fused AdamW) in both. Compiling takes tens of
seconds per shape: `--compile-budget` stops compiling new shapes after that
many seconds, and `--compile-d-model` limits compiling to some widths.

    python3 scripts/torch_reference.py                       # the issue's table
    python3 scripts/torch_reference.py --d-model 128 --length 64 256 1024
"""

import argparse
import math
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Softmax(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.h = heads
        self.q, self.k, self.v, self.o = (nn.Linear(d, d, bias=False) for _ in range(4))

    def forward(self, x):
        b, l, d = x.shape
        q, k, v = (p(x).view(b, l, self.h, d // self.h).transpose(1, 2) for p in (self.q, self.k, self.v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.o(y.transpose(1, 2).reshape(b, l, d))


class LinearElu(nn.Module):
    """Causal linear attention, feature elu+1, normalised, chunked."""

    def __init__(self, d, heads, chunk, eps=1e-6):
        super().__init__()
        self.h, self.c, self.eps = heads, chunk, eps
        self.q, self.k, self.v, self.o = (nn.Linear(d, d, bias=False) for _ in range(4))

    def forward(self, x):
        b, l, d = x.shape
        h, c = self.h, self.c
        q, k, v = (p(x).view(b, l, h, d // h).transpose(1, 2) for p in (self.q, self.k, self.v))
        q, k = F.elu(q) + 1, F.elu(k) + 1
        pad = (-l) % c
        if pad:  # padding goes after the sequence, so causality keeps it out
            q, k, v = (F.pad(t, (0, 0, 0, pad)) for t in (q, k, v))
        n = (l + pad) // c
        q, k, v = (t.reshape(b, h, n, c, d // h) for t in (q, k, v))
        mask = torch.ones(c, c, dtype=torch.bool, device=x.device).tril()
        a = (q @ k.transpose(-1, -2)).masked_fill(~mask, 0.0)  # [b, h, n, c, c]
        kv = k.transpose(-1, -2) @ v  # per-chunk state [b, h, n, dk, dv]
        ks = k.sum(-2)  # [b, h, n, dk]
        s = torch.cumsum(kv, dim=2) - kv  # state before each chunk
        z = torch.cumsum(ks, dim=2) - ks
        num = a @ v + q @ s
        den = a.sum(-1) + (q * z.unsqueeze(-2)).sum(-1)
        y = num / (den.unsqueeze(-1) + self.eps)
        y = y.reshape(b, h, n * c, d // h)[:, :, :l]
        return self.o(y.transpose(1, 2).reshape(b, l, d))


class Block(nn.Module):
    def __init__(self, mixer, d, ratio):
        super().__init__()
        self.n1, self.n2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.mix = mixer
        self.up, self.down = nn.Linear(d, ratio * d), nn.Linear(ratio * d, d)

    def forward(self, x):
        x = x + self.mix(self.n1(x))
        return x + self.down(F.gelu(self.up(self.n2(x)), approximate="tanh"))


class LM(nn.Module):
    def __init__(self, mix, vocab, d, layers, heads, length, ratio, chunk):
        super().__init__()
        self.emb, self.pos = nn.Embedding(vocab, d), nn.Embedding(length, d)

        def mixer():
            if mix == "softmax":
                return Softmax(d, heads)
            if mix in ("linear(feature=elu1)", "linear"):
                return LinearElu(d, heads, chunk)
            raise SystemExit(f"torch_reference.py: unknown mixer {mix!r}: softmax or linear(feature=elu1)")

        self.blocks = nn.ModuleList(Block(mixer(), d, ratio) for _ in range(layers))
        self.final = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab, bias=False)
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, std=0.02)

    def forward(self, ids, at, targets):
        b, l = ids.shape
        x = self.emb(ids) + self.pos.weight[:l]
        for blk in self.blocks:
            x = blk(x)
        rows = x.reshape(b * l, -1) if at is None else x.reshape(b * l, -1)[at]
        logits = self.head(self.final(rows))
        return F.cross_entropy(logits, targets, ignore_index=-100)


def batch(args, l, dev, gen):
    n = args.batch * l
    k = max(1, round(args.targets * n))
    ids = torch.randint(args.vocab, (args.batch, l), generator=gen).to(dev)
    tg = torch.randint(args.vocab, (k,), generator=gen)
    tg[torch.rand(k, generator=gen) < 0.1] = -100
    at = None if k == n else (torch.arange(k) * n // k).to(dev)
    return ids, at, tg.to(dev)


def measure(args, mix, d, l, compiled, dev):
    """Median and fastest ms per step, peak memory (bytes) and final loss."""
    torch.manual_seed(5)
    gen = torch.Generator().manual_seed(d * 100003 + l)
    model = LM(mix, args.vocab, d, args.layers, args.heads, l, args.mlp_ratio, args.chunk).to(dev)
    params = list(model.parameters())
    decay = [p for p in params if p.dim() >= 2]
    rest = [p for p in params if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}],
                            lr=1e-3, betas=(0.9, 0.95), eps=1e-8, fused=dev.type == "cuda")
    ids, at, tg = batch(args, l, dev, gen)
    fwd = torch.compile(model, mode="reduce-overhead") if compiled else model

    def step():
        if compiled:
            torch.compiler.cudagraph_mark_step_begin()
        opt.zero_grad(set_to_none=True)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=args.bf16):
            loss = fwd(ids, at, tg)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0, foreach=True)
        opt.step()
        return loss

    warm = args.warmup + (3 if compiled else 0)  # compile, then record the graphs
    for _ in range(warm):
        step()
    sync(dev)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    times = []
    for _ in range(args.reps):
        if dev.type == "cuda":
            s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            s.record()
            loss = step()
            e.record()
            e.synchronize()
            times.append(s.elapsed_time(e))
        else:
            t0 = time.perf_counter()
            loss = step()
            times.append((time.perf_counter() - t0) * 1e3)
    loss = float(loss.detach())
    peak = torch.cuda.max_memory_allocated(dev) if dev.type == "cuda" else 0
    if not math.isfinite(loss):
        raise RuntimeError(f"loss {loss} after {warm + args.reps} steps")
    return statistics.median(times), min(times), peak, loss, sum(p.numel() for p in params)


def sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def table(impl, res, args, header):
    """The layout of lab bench train (bench/train_table.go WriteTrainTable)."""
    if header:
        print(f"{'impl':<14} {'mixer':<26} {'d':>5}" + "".join(f" {'L=' + str(l):>8}" for l in args.length))
    for mix in args.mixer:
        for d in args.d_model:
            if not any((mix, d, l) in res for l in args.length):
                continue
            cells = []
            for l in args.length:
                r = res.get((mix, d, l))
                cells.append("-" if r is None else r if isinstance(r, str) else f"{r[0]:.2f}")
            print(f"{impl:<14} {mix:<26} {d:>5}" + "".join(f" {c:>8}" for c in cells))


def details(impl, res, header):
    """The layout of lab bench train's details (WriteTrainDetails)."""
    if header:
        print(f"{'impl':<14} {'mixer':<26} {'d':>5} {'L':>6} {'ms':>9} {'min_ms':>9} {'planned_gib':>11} {'device_gib':>10} {'params':>10} {'loss':>9}")
    for (mix, d, l), r in res.items():
        if isinstance(r, str):
            print(f"{impl:<14} {mix:<26} {d:>5} {l:>6} {r:>9} {'-':>9} {'-':>11} {'-':>10} {'-':>10} {'-':>9}")
            continue
        ms, mn, peak, loss, n = r
        print(f"{impl:<14} {mix:<26} {d:>5} {l:>6} {ms:>9.2f} {mn:>9.3f} {'-':>11} {peak / 2**30:>10.3f} {n:>10} {loss:>9.4f}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mixer", nargs="+", default=["softmax", "linear(feature=elu1)"])
    p.add_argument("--d-model", nargs="+", type=int, default=[64, 128, 256])
    p.add_argument("--length", nargs="+", type=int, default=[64, 256, 1024])
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--vocab", type=int, default=8192)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--heads", type=int, default=1)
    p.add_argument("--mlp-ratio", type=int, default=4)
    p.add_argument("--chunk", type=int, default=64)
    p.add_argument("--targets", type=float, default=1.0, help="fraction of positions with a target")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--reps", type=int, default=20)
    p.add_argument("--no-tf32", action="store_true", help="plain float32 matmuls")
    p.add_argument("--bf16", action="store_true", help="autocast the forward to bfloat16 (lab's --precision bf16)")
    p.add_argument("--no-eager", action="store_true")
    p.add_argument("--no-compile", action="store_true")
    p.add_argument("--compile-d-model", nargs="*", type=int, help="compile only these widths (default all)")
    p.add_argument("--compile-budget", type=float, default=600, help="seconds after which no new shape is compiled")
    p.add_argument("--device", default="cuda")
    args = p.parse_args()
    if not 0 < args.targets <= 1:
        p.error("--targets: a fraction in (0, 1]")
    dev = torch.device(args.device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        sys.exit("torch_reference.py: CUDA is not available to PyTorch (--device cpu runs on the CPU)")
    tf32 = not args.no_tf32
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    torch.set_float32_matmul_precision("high" if tf32 else "highest")
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    targets = "head at every position" if args.targets == 1 else f"head at {args.targets:g} of positions"
    print("ms per training step (torch_reference.py, PyTorch " + torch.__version__ + ")")
    print(f"device: {args.device} ({name}); batch {args.batch}, vocab {args.vocab}, {args.layers} layers, "
          f"{args.heads} head{'s' if args.heads != 1 else ''}, MLP {args.mlp_ratio}x GELU, layernorm, learned positions, "
          f"{targets}, AdamW, TF32 {'on' if tf32 else 'off'}{', bf16 autocast' if args.bf16 else ''}; median of {args.reps} steps after {args.warmup} warm-up")
    impls = [] if args.no_eager else [("torch eager", False)]
    if not args.no_compile:
        impls.append(("torch compile", True))
    results = {}
    for impl, compiled in impls:
        res = {}
        t_start = time.time()
        for mix in args.mixer:
            for d in args.d_model:
                if compiled and args.compile_d_model and d not in args.compile_d_model:
                    continue
                for l in args.length:
                    if compiled and time.time() - t_start > args.compile_budget:
                        res[(mix, d, l)] = "skipped"
                        continue
                    try:
                        res[(mix, d, l)] = measure(args, mix, d, l, compiled, dev)
                        r = res[(mix, d, l)]
                        print(f"{impl} {mix} d={d} L={l}: {r[0]:.3f} ms, loss {r[3]:.4f}", file=sys.stderr, flush=True)
                    except torch.cuda.OutOfMemoryError as e:
                        res[(mix, d, l)] = "oom"
                        print(f"{impl} {mix} d={d} L={l}: out of memory: {str(e).splitlines()[0]}", file=sys.stderr, flush=True)
                    except Exception as e:  # report and go on to the next shape
                        res[(mix, d, l)] = "error"
                        print(f"{impl} {mix} d={d} L={l}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}", file=sys.stderr, flush=True)
                    finally:
                        if compiled:
                            torch._dynamo.reset()
                        if dev.type == "cuda":
                            torch.cuda.empty_cache()
        results[impl] = res
    for i, (impl, _) in enumerate(impls):
        table(impl, results[impl], args, i == 0)
    print()
    for i, (impl, _) in enumerate(impls):
        details(impl, results[impl], i == 0)
    failed = sum(1 for res in results.values() for r in res.values() if r in ("oom", "error"))
    if failed:
        sys.exit(f"torch_reference.py: {failed} shapes failed")


if __name__ == "__main__":
    main()
