"""Writes the image folders of eng/measure-review-loop.sh, deterministic, as 28x28 gray PNG files:
    train/<class>/             the first 100 images of each class of the Fashion-MNIST training set (1,000)
    incoming/fashion/<class>/  the next 60 of each class (600): images the first model never saw, sorted by the truth
                               so that the simulated person knows the right answer from the path
    incoming/digits/<digit>/   the first 200 of scikit-learn's 8x8 digits at 28x28, the same bytes as the CLI's own
                               drawing of them (DigitsCsvReader.ReadResized, then ImageFolder.Write) (200)
    test/<class>/              the first 100 images of each class of the test set (1,000)
Class folders carry the library's Fashion-MNIST names (FashionMnist.ClassNames), so that labels match those of
`train --data fashion-mnist` and of the decisions a person makes. Standard library only; the PNG writer, the
digits reader and the resize are eng/make-unfamiliar-sets.py's.
    python3 eng/make-review-loop-data.py <out folder> [--digits tests/data/digits/digits.csv.gz]
        [--fashion-mnist /usr/share/datasets/fashion-mnist]
"""
import argparse
import gzip
import importlib.util
import os
import struct

# The same names, in label order, as src/MLNet.Bayesian/Data/FashionMnist.cs.
CLASSES = ["T-shirt-top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle-boot"]
TRAIN_PER_CLASS, INCOMING_PER_CLASS, TEST_PER_CLASS, DIGITS = 100, 60, 100, 200

_spec = importlib.util.spec_from_file_location("unfamiliar", os.path.join(os.path.dirname(os.path.abspath(__file__)), "make-unfamiliar-sets.py"))
unfamiliar = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(unfamiliar)
SIDE = unfamiliar.SIDE


def idx(directory, stem):
    """The payload of an IDX file (gzipped or not) and its dimensions."""
    name = os.path.join(directory, stem)
    with (gzip.open(name + ".gz") if os.path.exists(name + ".gz") else open(name, "rb")) as f:
        data = f.read()
    rank = data[3]
    dims = struct.unpack(">" + "i" * rank, data[4:4 + 4 * rank])
    return dims, data[4 + 4 * rank:]


def split(directory, prefix):
    """(images, labels) of one split: images as bytes of SIDE x SIDE pixels."""
    (count, height, width), pixels = idx(directory, f"{prefix}-images-idx3-ubyte")
    (labelled,), labels = idx(directory, f"{prefix}-labels-idx1-ubyte")
    if (height, width) != (SIDE, SIDE) or labelled != count:
        raise SystemExit(f"{directory}/{prefix}: expected {SIDE}x{SIDE} images with one label each, found {count} of {height}x{width} and {labelled} labels")
    return [pixels[i * SIDE * SIDE:(i + 1) * SIDE * SIDE] for i in range(count)], labels


def f32(v):
    """v rounded to float32: one operation of the library's float arithmetic (a double result of two float32 operands rounds exactly once)."""
    return struct.unpack("<f", struct.pack("<f", v))[0]


def write(root, name, index, pixels):
    folder = os.path.join(root, name)
    os.makedirs(folder, exist_ok=True)
    # Named by the index in the source set, as ImageFolder.Write names them: the same image has the same name in every run.
    unfamiliar.png(os.path.join(folder, f"{index:06d}.png"), pixels)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--digits", default="tests/data/digits/digits.csv.gz")
    parser.add_argument("--fashion-mnist", default="/usr/share/datasets/fashion-mnist")
    args = parser.parse_args()

    images, labels = split(args.fashion_mnist, "train")
    seen = [0] * len(CLASSES)
    for i, (img, label) in enumerate(zip(images, labels)):
        k = seen[label]
        seen[label] += 1
        if k < TRAIN_PER_CLASS:
            write(os.path.join(args.out, "train"), CLASSES[label], i, img)
        elif k < TRAIN_PER_CLASS + INCOMING_PER_CLASS:
            write(os.path.join(args.out, "incoming", "fashion"), CLASSES[label], i, img)
        elif all(s >= TRAIN_PER_CLASS + INCOMING_PER_CLASS for s in seen):
            break

    images, labels = split(args.fashion_mnist, "t10k")
    seen = [0] * len(CLASSES)
    for i, (img, label) in enumerate(zip(images, labels)):
        if seen[label] < TEST_PER_CLASS:
            seen[label] += 1
            write(os.path.join(args.out, "test"), CLASSES[label], i, img)

    # Digits in class folders too: `evaluate --ood` reads any layout, and the folder names say which digit a path is.
    rows = unfamiliar.digits(args.digits)
    labels = digit_labels(args.digits)
    for i, img in enumerate(rows[:DIGITS]):
        # Resized in float32 step by step: the same PNG bytes as the CLI writes for `evaluate --ood digits.csv.gz`.
        write(os.path.join(args.out, "incoming", "digits"), str(labels[i]), i, [unfamiliar.byte(v, f32) for v in unfamiliar.bilinear(img, 8, SIDE, f32)])
    print(f"wrote {TRAIN_PER_CLASS * len(CLASSES)} training, {INCOMING_PER_CLASS * len(CLASSES)} incoming Fashion-MNIST, "
          f"{min(DIGITS, len(rows))} incoming digit and {sum(seen)} test images under {args.out}")


def digit_labels(path):
    with gzip.open(path, "rt") if path.endswith(".gz") else open(path) as f:
        return [int(float(line.rsplit(",", 1)[1])) for line in f if line.strip()]


if __name__ == "__main__":
    main()
