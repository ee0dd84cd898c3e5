"""Median training-step time of the small CNN (or ResNet-18) in PyTorch, the peer of StepTimeBenchmark.cs.

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
parser.add_argument("--device", default="cpu", help="cpu or cuda")
parser.add_argument("--architecture", default="smallcnn", choices=["smallcnn", "resnet18"],
                    help="smallcnn on 1x28x28, or torchvision's resnet18 (10 classes) on 3x32x32")
args = parser.parse_args()
if args.threads > 0:
    torch.set_num_threads(args.threads)
torch.manual_seed(1)

if args.architecture == "smallcnn":
    network = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 7 * 7, 64), nn.ReLU(), nn.Linear(64, 10))
    shape = (1, 28, 28)
else:
    import torchvision
    network = torchvision.models.resnet18(num_classes=10)
    shape = (3, 32, 32)
network.to(args.device)
network.train()
# PyTorch's default: the multi-tensor (foreach) Adam on CUDA, the per-tensor loop on the CPU.
optimizer = torch.optim.Adam(network.parameters(), lr=1e-3)
x = torch.randn(args.batch_size, *shape, device=args.device)
y = torch.randint(0, 10, (args.batch_size,), device=args.device)

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
print(f"PyTorch {torch.__version__} {args.architecture} {args.device} threads {torch.get_num_threads()} median_ms {statistics.median(times):.3f}")
