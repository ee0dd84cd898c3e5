"""Median training-step time of the small CNN in PyTorch, the peer of StepTimeBenchmark.cs.

Same network as src/MLNet.Bayesian/Architectures/SmallCnn.cs (conv 3x3 16, BN, ReLU, max-pool 2, conv 3x3 32,
BN, ReLU, max-pool 2, linear 1568-64, ReLU, linear 64-10), Adam lr 1e-3, cross-entropy, one fixed random batch.
Prints one line: PyTorch <version> median_ms <value>.
"""
import argparse
import statistics
import time

import torch
from torch import nn

parser = argparse.ArgumentParser()
parser.add_argument("--batch-size", type=int, default=128)
parser.add_argument("--warmup", type=int, default=10)
parser.add_argument("--steps", type=int, default=100)
parser.add_argument("--threads", type=int, default=0, help="0: PyTorch's default")
args = parser.parse_args()
if args.threads > 0:
    torch.set_num_threads(args.threads)
torch.manual_seed(1)

network = nn.Sequential(
    nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(), nn.Linear(32 * 7 * 7, 64), nn.ReLU(), nn.Linear(64, 10))
network.train()
optimizer = torch.optim.Adam(network.parameters(), lr=1e-3)
x = torch.randn(args.batch_size, 1, 28, 28)
y = torch.randint(0, 10, (args.batch_size,))

times = []
for i in range(args.warmup + args.steps):
    start = time.perf_counter()
    optimizer.zero_grad()
    loss = nn.functional.cross_entropy(network(x), y)
    loss.backward()
    optimizer.step()
    loss.item()
    if i >= args.warmup:
        times.append((time.perf_counter() - start) * 1000)
print(f"PyTorch {torch.__version__} threads {torch.get_num_threads()} median_ms {statistics.median(times):.3f}")
