#!/usr/bin/env bash
# Rebuilds tests/data/fashion-mnist-subset from the full data set (apt-get install dataset-fashion-mnist):
# the first 200 training and 100 test images of each class, gzipped IDX, deterministic bytes.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 - <<'PY'
import gzip, struct
src = '/usr/share/datasets/fashion-mnist/'
def read(name):
    b = gzip.open(src + name).read()
    rank = b[3]
    dims = struct.unpack('>' + 'i' * rank, b[4:4 + 4 * rank])
    return dims, b[4 + 4 * rank:]
for split, per in (('train', 200), ('t10k', 100)):
    (n, h, w), img = read(f'{split}-images-idx3-ubyte.gz')
    (_,), lab = read(f'{split}-labels-idx1-ubyte.gz')
    taken, idx = [0] * 10, []
    for i in range(n):
        if taken[lab[i]] < per:
            taken[lab[i]] += 1
            idx.append(i)
    out = 'tests/data/fashion-mnist-subset/'
    with gzip.GzipFile(f'{out}{split}-images-idx3-ubyte.gz', 'wb', mtime=0) as f:
        f.write(struct.pack('>BBBBiii', 0, 0, 8, 3, len(idx), h, w) + b''.join(img[i * h * w:(i + 1) * h * w] for i in idx))
    with gzip.GzipFile(f'{out}{split}-labels-idx1-ubyte.gz', 'wb', mtime=0) as f:
        f.write(struct.pack('>BBBBi', 0, 0, 8, 1, len(idx)) + bytes(lab[i] for i in idx))
PY
