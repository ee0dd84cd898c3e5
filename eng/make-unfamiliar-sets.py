"""Writes image sets that a Fashion-MNIST model has never seen, as 28x28 gray PNG folders for `evaluate --ood`, to see
how the stored review rule does on unfamiliar images beyond the main job's digits (the README's per-set table):
    digits-blocky/        scikit-learn's 8x8 digits enlarged by nearest neighbour to 24x24, centred (1,797)
    digits-inverted/      the same digits enlarged bilinearly to 28x28 (as the main job draws them), dark on light (1,797)
    noise-uniform/        uniform noise, seeded (1,000)
    fashion-upside-down/  the first 2,000 Fashion-MNIST test images turned by 180 degrees
Standard library only (the PNGs are written by hand), so it runs on any Python 3.
    python3 eng/make-unfamiliar-sets.py <out folder> [--digits tests/data/digits/digits.csv.gz]
        [--fashion-mnist /usr/share/datasets/fashion-mnist]
    for s in <out folder>/*/; do dotnet <cli>.dll evaluate --model artifacts/model.zip --data fashion-mnist --ood "$s" --report "artifacts/unfamiliar/$(basename "$s")"; done
"""
import argparse
import csv
import gzip
import os
import random
import struct
import zlib

SIDE = 28


def png(path, pixels):
    """An 8-bit gray PNG of SIDE x SIDE values in 0..255, row by row."""
    raw = b"".join(b"\x00" + bytes(pixels[y * SIDE:(y + 1) * SIDE]) for y in range(SIDE))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", SIDE, SIDE, 8, 0, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def digits(path):
    """Rows of 64 ink values in 0..1 (scikit-learn's 0..16), bright ink on dark ground like Fashion-MNIST."""
    with gzip.open(path, "rt") if path.endswith(".gz") else open(path) as f:
        return [[float(v) / 16 for v in row[:64]] for row in csv.reader(f) if row]


def bilinear(img, n, side, r=float):
    """The library's own resize (ImageOps.Resize): pixel centres aligned, edges clamped. r rounds the result of every
    operation: float (the default) computes in double; a float32 rounding gives the library's own bytes exactly
    (eng/make-review-loop-data.py; in double, a few pixels differ by 1)."""
    img = [r(v) for v in img]
    out, s = [], r(n / side)
    for y in range(side):
        fy = min(max(r(r(r(y + 0.5) * s) - 0.5), 0), n - 1)
        y0 = int(fy); y1 = min(y0 + 1, n - 1); wy = r(fy - y0)
        for x in range(side):
            fx = min(max(r(r(r(x + 0.5) * s) - 0.5), 0), n - 1)
            x0 = int(fx); x1 = min(x0 + 1, n - 1); wx = r(fx - x0)
            top = r(r(img[y0 * n + x0] * r(1 - wx)) + r(img[y0 * n + x1] * wx))
            bottom = r(r(img[y1 * n + x0] * r(1 - wx)) + r(img[y1 * n + x1] * wx))
            out.append(r(r(top * r(1 - wy)) + r(bottom * wy)))
    return out


def byte(v, r=float):
    """ImageFolder.ToByte: the value times 255, rounded half to even (Math.Round and Python's round agree)."""
    return max(0, min(255, round(r(v * 255))))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--digits", default="tests/data/digits/digits.csv.gz")
    parser.add_argument("--fashion-mnist", default="/usr/share/datasets/fashion-mnist")
    args = parser.parse_args()

    def folder(name):
        path = os.path.join(args.out, name)
        os.makedirs(path, exist_ok=True)
        return path

    rows = digits(args.digits)
    blocky, inverted = folder("digits-blocky"), folder("digits-inverted")
    for i, img in enumerate(rows):
        pad = (SIDE - 24) // 2
        big = [0] * (SIDE * SIDE)
        for y in range(24):
            for x in range(24):
                big[(y + pad) * SIDE + x + pad] = byte(img[(y // 3) * 8 + x // 3])
        png(os.path.join(blocky, f"{i:04d}.png"), big)
        png(os.path.join(inverted, f"{i:04d}.png"), [255 - byte(v) for v in bilinear(img, 8, SIDE)])

    rng = random.Random(1)
    noise = folder("noise-uniform")
    for i in range(1000):
        png(os.path.join(noise, f"{i:04d}.png"), [rng.randrange(256) for _ in range(SIDE * SIDE)])

    name = os.path.join(args.fashion_mnist, "t10k-images-idx3-ubyte")
    with (gzip.open(name + ".gz") if os.path.exists(name + ".gz") else open(name, "rb")) as f:
        magic, count, height, width = struct.unpack(">IIII", f.read(16))
        if magic != 2051 or (height, width) != (SIDE, SIDE):
            raise SystemExit(f"{name}: not a 28x28 IDX image file (magic {magic}, {height}x{width})")
        upside = folder("fashion-upside-down")
        for i in range(min(2000, count)):
            png(os.path.join(upside, f"{i:04d}.png"), list(f.read(SIDE * SIDE))[::-1])
    print(f"wrote {len(rows)} blocky and {len(rows)} inverted digits, 1000 noise images and {min(2000, count)} upside-down test images under {args.out}")


if __name__ == "__main__":
    main()
