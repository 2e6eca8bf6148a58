"""PyTorch reference timings for the GPU report (benchmarks/gpu/README.md).

Times the calls a PyTorch user writes for each FastCalib kernel, at the same shapes and with the same method as
`FastCalib.Benchmarks gpu`: one call to warm up, then the median over samples of back-to-back calls (about 5 ms per
sample) with the device synchronised after each sample; inputs smaller than 256 MiB rotate through several copies.
GB/s counts the bytes the operation must read and write once, as in the .NET report.

    python3 benchmarks/gpu/torch_reference.py [--samples 15] [--only NAME]
"""
import argparse
import math
import statistics
import time

import torch

T = 1.5
ROTATE_BELOW = 256 << 20


def sets_for(nbytes):
    return max(1, min(16, -(-ROTATE_BELOW // max(1, nbytes))))


def measure(fn, sets, samples):
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    fn(0)
    torch.cuda.synchronize()
    first = (time.perf_counter() - t0) * 1e3
    t0 = time.perf_counter()
    for k in range(sets):
        fn(k)
    torch.cuda.synchronize()
    estimate = max(1e-3, (time.perf_counter() - t0) * 1e3 / sets)
    per_sample = min(500, max(1, math.ceil(5 / estimate)))
    times, k = [], 0
    for _ in range(samples):
        t0 = time.perf_counter()
        for _ in range(per_sample):
            fn(k)
            k = (k + 1) % sets
        torch.cuda.synchronize()
        times.append((time.perf_counter() - t0) * 1e3 / per_sample)
    return first, statistics.median(times)


def logits(n, sets):
    g = torch.Generator(device="cuda").manual_seed(42)
    return [torch.rand(n, device="cuda", generator=g) * 24 - 12 for _ in range(sets)]


def cases():
    n = 1 << 28
    a, b = torch.zeros(n, device="cuda"), torch.empty(n, device="cuda")
    yield "device copy (copy_)", "1024 MiB", 8.0 * n, 1, lambda k: b.copy_(a)
    del a, b

    for rows, cols in [(1_000_000, 10), (100_000, 1000), (25_000, 4096), (256, 131072)]:
        s = sets_for(8 * rows * cols)
        z = [x.view(rows, cols) for x in logits(rows * cols, s)]
        yield "softmax(x / T)", f"{rows} x {cols}", 8.0 * rows * cols, s, lambda k, z=z: torch.softmax(z[k] / T, dim=-1)
        yield "softmax(x) (no T)", f"{rows} x {cols}", 8.0 * rows * cols, s, lambda k, z=z: torch.softmax(z[k], dim=-1)
        del z

    rows, cols = 100_000, 1000
    z = logits(rows * cols, 1)[0].view(rows, cols)
    yield "log-softmax(x / T)", f"{rows} x {cols}", 8.0 * rows * cols, 1, lambda k: torch.log_softmax(z / T, dim=-1)
    p = torch.softmax(z / T, dim=-1)
    g = logits(rows * cols, 1)[0].view(rows, cols)
    yield "softmax backward (autograd's kernel, / T)", f"{rows} x {cols}", 12.0 * rows * cols, 1, \
        lambda k: torch.ops.aten._softmax_backward_data(g, p, -1, torch.float32) / T
    del z, p, g

    for rows, cols in [(1_000_000, 10), (100_000, 1000)]:
        s = sets_for(4 * rows * cols)
        z = [x.view(rows, cols) for x in logits(rows * cols, s)]
        yield "top-1 of softmax(x / T)", f"{rows} x {cols}", 4.0 * rows * cols + 8.0 * rows, s, \
            lambda k, z=z: torch.softmax(z[k] / T, dim=-1).max(dim=-1)
        del z

    rows, cols = 1_000_000, 100
    s = sets_for(4 * rows * cols)
    z = [x.view(rows, cols) for x in logits(rows * cols, s)]
    p = [torch.softmax(x, dim=-1) for x in z]
    yield "entropy from probabilities (special.entr)", f"{rows} x {cols}", 4.0 * rows * cols + 4.0 * rows, s, \
        lambda k: torch.special.entr(p[k]).sum(dim=-1)

    def entropy_from_logits(x):
        lp = torch.log_softmax(x / T, dim=-1)
        return -(lp.exp() * lp).sum(dim=-1)
    yield "entropy from logits (log_softmax)", f"{rows} x {cols}", 4.0 * rows * cols + 4.0 * rows, s, \
        lambda k: entropy_from_logits(z[k])
    del z, p

    rows, cols = 16_384, 4096
    x = logits(rows * cols, 1)[0].view(rows, cols)
    perm = torch.randperm(rows, device="cuda")
    lam = torch.rand(rows, 1, device="cuda")
    yield "mixup blend (lam x + (1 - lam) x[perm])", f"{rows} x {cols}", 12.0 * rows * cols, 1, \
        lambda k: lam * x + (1 - lam) * x[perm]
    del x

    rows, cols = 10_000_000, 10
    p = torch.softmax(logits(rows * cols, 1)[0].view(rows, cols), dim=-1)
    labels = torch.randint(0, cols, (rows,), device="cuda")
    try:
        from torchmetrics.functional.classification import multiclass_calibration_error

        yield "calibration error (torchmetrics, 15 bins)", f"{rows} x {cols}", 4.0 * rows * cols + 4.0 * rows, 1, \
            lambda k: multiclass_calibration_error(p, labels, num_classes=cols, n_bins=15, norm="l1")
    except ImportError:
        pass

    def ece(probs, y, bins=15):
        # the multi-pass composition a user writes without torchmetrics
        conf, pred = probs.max(dim=-1)
        acc = pred.eq(y).float()
        index = torch.clamp((conf * bins).long(), max=bins - 1)
        count = torch.zeros(bins, device="cuda").scatter_add_(0, index, torch.ones_like(conf))
        sum_conf = torch.zeros(bins, device="cuda").scatter_add_(0, index, conf)
        sum_acc = torch.zeros(bins, device="cuda").scatter_add_(0, index, acc)
        return ((sum_conf - sum_acc).abs().sum() / probs.shape[0]).item()
    yield "calibration error (plain torch, 15 bins)", f"{rows} x {cols}", 4.0 * rows * cols + 4.0 * rows, 1, \
        lambda k: ece(p, labels)
    del p

    for rows, cols in [(1_000_000, 10), (100_000, 1000)]:
        z = logits(rows * cols, 1)[0].view(rows, cols)
        y = torch.randint(0, cols, (rows,), device="cuda")

        def fit(z=z, y=y):
            # Guo et al.'s reference recipe: LBFGS on the NLL of z / T
            t = torch.ones(1, device="cuda", requires_grad=True)
            optimizer = torch.optim.LBFGS([t], lr=0.01, max_iter=50)

            def closure():
                optimizer.zero_grad()
                loss = torch.nn.functional.cross_entropy(z / t, y)
                loss.backward()
                return loss
            optimizer.step(closure)
            return t.item()
        yield "temperature fit (LBFGS, Guo et al.)", f"{rows} x {cols}", 0.0, 1, lambda k, fit=fit: fit()
        del z, y

    for n, h, w in [(65_536, 28, 28), (16_384, 64, 64), (20_000, 28, 28), (5_000, 64, 64)]:
        half_out = n * h * (w // 2 + 1)
        s = sets_for(4 * (2 * n * h * w))
        x = [v.view(n, h, w) for v in logits(n * h * w, s)]
        yield "rfft2(x).abs() (half spectrum)", f"{n} x {h} x {w}", 4.0 * (n * h * w + half_out), s, \
            lambda k, x=x: torch.fft.rfft2(x[k]).abs()
        yield "log1p(rfft2(x).abs())", f"{n} x {h} x {w}", 4.0 * (n * h * w + half_out), s, \
            lambda k, x=x: torch.log1p(torch.fft.rfft2(x[k]).abs())
        yield "fft2(x).abs() (full)", f"{n} x {h} x {w}", 8.0 * n * h * w, s, lambda k, x=x: torch.fft.fft2(x[k]).abs()
        yield "log1p(fftshift(fft2(x).abs()))", f"{n} x {h} x {w}", 8.0 * n * h * w, s, \
            lambda k, x=x: torch.log1p(torch.fft.fftshift(torch.fft.fft2(x[k]).abs(), dim=(-2, -1)))
        del x


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=15)
    parser.add_argument("--only")
    args = parser.parse_args()
    print(f"# PyTorch {torch.__version__} on {torch.cuda.get_device_name(0)}, CUDA {torch.version.cuda}")
    print()
    print("| operation | shape | first call ms | steady ms (median) | GB/s | share of copy |")
    print("|---|---|---:|---:|---:|---:|")
    copy = 0.0
    for name, shape, nbytes, sets, fn in cases():
        if args.only and args.only.lower() not in name.lower():
            continue
        first, steady = measure(fn, sets, args.samples)
        gbs = nbytes / (steady * 1e-3) / 1e9
        if name.startswith("device copy"):
            copy = gbs
        share = f"{gbs / copy:.0%}" if copy and nbytes else ""
        print(f"| {name} | {shape} | {first:.2f} | {steady:.4f} | {gbs:.0f} | {share} |" if nbytes else
              f"| {name} | {shape} | {first:.2f} | {steady:.4f} | | |", flush=True)
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
