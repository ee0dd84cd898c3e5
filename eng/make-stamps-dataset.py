"""Writes a small colour image-classification data set from the Debian package tuxpaint-stamps-default, for tests that
need RGB images of varied sizes (not 28x28 gray like Fashion-MNIST) and a few classes the model has never seen:
    train/<class>/   about 75% of each class's images     test/<class>/   the rest (at least 2 test, 3 train a class)
    unseen/<class>/  three held-out classes, whole, for out-of-distribution tests
    README.txt       where the images come from, their licence (GPL-2+), the class table and the counts
Classes and the stamp folders (under /usr/share/tuxpaint/stamps) they come from, searched recursively for *.png:
    mammals animals/mammals   birds animals/birds   insects animals/insects   fruit food/fruit
    flowers plants/flowers    houses town/houses    hats clothes/hats         dishes household/dishes
    unseen: vegetables food/vegetables   fish animals/fish   vehicles vehicles
Each stamp is composited onto opaque white and saved as an RGB PNG at its original size, named after its path under the
stamps folder with / turned into _ (animals/mammals/cats/lion.png -> animals_mammals_cats_lion.png). Mirrored copies
(*_mirror.png, *_back.png) and images whose pixels repeat an earlier one (sorted path order, across all classes) are
left out. The split is by name alone: an image is in test when int(sha256(name), 16) % 4 == 0, then the lowest-hash
images move across until a class of 5 or more has 2 test and 3 train images, so it does not depend on the machine.
Running it again is a no-op ("up to date") while README.txt records the same package version and script version;
otherwise it rewrites train/, test/ and unseen/ (and nothing else) under the output folder.
Needs Pillow: apt-get install python3-pil (eng/install-prerequisites.sh), hence /usr/bin/python3.
    /usr/bin/python3 eng/make-stamps-dataset.py [<out folder, default artifacts/stamps>]
        [--stamps /usr/share/tuxpaint/stamps]
"""
import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import time

SCRIPT_VERSION = 1
PACKAGE = "tuxpaint-stamps-default"
STAMPS = "/usr/share/tuxpaint/stamps"
CLASSES = [("mammals", "animals/mammals"), ("birds", "animals/birds"), ("insects", "animals/insects"),
           ("fruit", "food/fruit"), ("flowers", "plants/flowers"), ("houses", "town/houses"),
           ("hats", "clothes/hats"), ("dishes", "household/dishes")]
UNSEEN = [("vegetables", "food/vegetables"), ("fish", "animals/fish"), ("vehicles", "vehicles")]
MIRRORED = ("_mirror", "_back")
SPLITS = ("train", "test", "unseen")
MIN_TEST, MIN_TRAIN = 2, 3


class Failure(Exception):
    pass


def package_version():
    try:
        done = subprocess.run(["dpkg-query", "-W", "-f=${Version}", PACKAGE], capture_output=True, text=True)
    except OSError as e:
        raise Failure(f"cannot run dpkg-query to read the version of {PACKAGE}: {e}")
    if done.returncode != 0 or not done.stdout.strip():
        raise Failure(f"dpkg-query does not know {PACKAGE} ({done.stderr.strip() or 'no version'}); "
                      f"install it: apt-get install {PACKAGE}")
    return done.stdout.strip()


def pngs(stamps, folder):
    """Paths of the *.png files under stamps/folder, relative to stamps, '/'-separated, sorted."""
    top = os.path.join(stamps, folder)
    if not os.path.isdir(top):
        raise Failure(f"{top} is missing (is {PACKAGE} complete? apt-get install --reinstall {PACKAGE})")
    found = []
    for root, dirs, files in os.walk(top):
        dirs.sort()
        for name in files:
            if name.endswith(".png"):
                found.append(os.path.relpath(os.path.join(root, name), stamps).replace(os.sep, "/"))
    return sorted(found)


def flatten(image_module, path):
    """The stamp at path, composited onto opaque white, as an RGB image of the same size."""
    with image_module.open(path) as im:
        rgba = im.convert("RGBA")
    white = image_module.new("RGBA", rgba.size, (255, 255, 255, 255))
    return image_module.alpha_composite(white, rgba).convert("RGB")


def name_hash(name):
    return int(hashlib.sha256(name.encode("utf-8")).hexdigest(), 16)


def split(names):
    """(train, test) names of one class: test when the name's hash is 0 mod 4, then at least MIN_TEST test and
    MIN_TRAIN train images when the class has MIN_TEST + MIN_TRAIN or more, moving the lowest-hash images across."""
    names = sorted(names)
    test = [n for n in names if name_hash(n) % 4 == 0]
    train = [n for n in names if name_hash(n) % 4 != 0]
    if len(names) >= MIN_TEST + MIN_TRAIN:
        while len(test) < MIN_TEST:
            moved = min(train, key=name_hash)
            train.remove(moved)
            test.append(moved)
        while len(train) < MIN_TRAIN:
            moved = min(test, key=name_hash)
            test.remove(moved)
            train.append(moved)
    return sorted(train), sorted(test)


def readme_lines(path):
    try:
        with open(path, encoding="utf-8") as f:
            return [line.rstrip("\n") for line in f]
    except (FileNotFoundError, NotADirectoryError):
        return None


def remove(path):
    """Removes path (a folder tree, or a file or link, whose target is left alone) if it is there."""
    if os.path.islink(path) or os.path.isfile(path):
        os.unlink(path)
    elif os.path.isdir(path):
        shutil.rmtree(path)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", nargs="?", default="artifacts/stamps",
                        help="output folder (default artifacts/stamps)")
    parser.add_argument("--stamps", default=STAMPS, help=f"the stamps folder of {PACKAGE} (default {STAMPS})")
    args = parser.parse_args()
    started = time.monotonic()

    if not os.path.isdir(args.stamps):
        raise Failure(f"the tuxpaint stamps folder {args.stamps} is missing; install it: apt-get install {PACKAGE}")
    try:
        from PIL import Image, __version__ as pillow
    except ImportError:
        raise Failure(f"Pillow is missing for {sys.executable}; install it: apt-get install python3-pil "
                      "(and run this script with /usr/bin/python3)")
    version = package_version()

    out = args.out
    readme = os.path.join(out, "README.txt")
    marker = os.path.join(out, ".incomplete")
    old = readme_lines(readme)
    if (old is not None and f"package-version: {version}" in old and f"script-version: {SCRIPT_VERSION}" in old
            and not os.path.lexists(marker) and all(os.path.isdir(os.path.join(out, s)) for s in SPLITS)):
        print(f"{out}: up to date ({PACKAGE} {version}, script-version {SCRIPT_VERSION})")
        return
    # Only ever delete train/, test/ and unseen/ of a folder this script wrote (its README.txt or its marker is there),
    # so that pointing it at, say, artifacts/ by mistake does not wipe someone else's train/ folder.
    ours = os.path.lexists(marker) or (old is not None and any(line.startswith("script-version:") for line in old))
    there = [s for s in SPLITS if os.path.lexists(os.path.join(out, s))]
    if there and not ours:
        raise Failure(f"{out} already has {', '.join(there)} but no README.txt from this script; "
                      "choose another output folder or remove those yourself")
    if os.path.exists(out) and not os.path.isdir(out):
        raise Failure(f"{out} exists and is not a folder")

    # Read every stamp first, so a bad one fails the run before anything is deleted.
    sources = [(c, f, False) for c, f in CLASSES] + [(c, f, True) for c, f in UNSEEN]
    owner = {}
    for cls, folder, unseen in sources:
        for rel in pngs(args.stamps, folder):
            owner[rel] = (cls, unseen)
    images, first_seen, names = {}, {}, {}
    mirrored, duplicates = [], []
    for rel in sorted(owner):
        stem = rel[:-len(".png")]
        if stem.endswith(MIRRORED):
            mirrored.append(rel)
            continue
        name = stem.replace("/", "_") + ".png"
        if name in names:
            raise Failure(f"{rel} and {names[name]} would both be written as {name}")
        try:
            rgb = flatten(Image, os.path.join(args.stamps, rel))
        except Exception as e:
            raise Failure(f"cannot read {os.path.join(args.stamps, rel)}: {e}")
        key = hashlib.sha256(f"{rgb.size}".encode() + rgb.tobytes()).digest()
        if key in first_seen:
            duplicates.append((rel, first_seen[key]))
            continue
        first_seen[key] = rel
        names[name] = rel
        images[name] = (rgb, *owner[rel])

    os.makedirs(out, exist_ok=True)
    with open(marker, "w", encoding="utf-8") as f:
        f.write("make-stamps-dataset.py is writing this folder; run it again if this file stays\n")
    remove(readme)
    for s in SPLITS:
        remove(os.path.join(out, s))

    counts, sizes = {}, []
    for cls, folder, unseen in sources:
        mine = [n for n, (_, c, _) in images.items() if c == cls]
        parts = {"unseen": sorted(mine)} if unseen else dict(zip(("train", "test"), split(mine)))
        for part, chosen in parts.items():
            target = os.path.join(out, part, cls)
            os.makedirs(target)
            for n in chosen:
                rgb = images[n][0]
                rgb.save(os.path.join(target, n), format="PNG", optimize=False)
                sizes.append(rgb.size)
        counts[cls] = {p: len(v) for p, v in parts.items()}
        if unseen:
            print(f"{cls:<11} unseen {counts[cls]['unseen']:3d}  ({folder})")
        else:
            print(f"{cls:<11} train {counts[cls]['train']:3d}  test {counts[cls]['test']:3d}  ({folder})")

    total = {p: sum(c.get(p, 0) for c in counts.values()) for p in SPLITS}
    widths, heights = [w for w, _ in sizes], [h for _, h in sizes]
    lines = [
        "Colour image-classification data set made from the tuxpaint stamps by eng/make-stamps-dataset.py.",
        "",
        f"source: Debian package {PACKAGE}, version {version}, folder {args.stamps}",
        f"package-version: {version}",
        f"script-version: {SCRIPT_VERSION}",
        f"pillow: {pillow}",
        "",
        "Licence: the Tux Paint stamps are GPL-2+ (see /usr/share/doc/tuxpaint-stamps-default/copyright). The images",
        "here are derived from them (composited onto white, converted to RGB, same size) and are under the same",
        "licence; each file is named after its source path with / turned into _.",
        "",
        "Each stamp is composited onto opaque white and saved as an RGB PNG at its original size. Mirrored copies",
        "(*_mirror.png, *_back.png) and exact pixel duplicates of an earlier image (sorted path order) are left out.",
        f"Skipped: {len(mirrored)} mirrored, {len(duplicates)} duplicate"
        + "".join(f"\n    {d} (same pixels as {k})" for d, k in duplicates),
        "Split: test when int(sha256(file name), 16) % 4 == 0, then the lowest-hash images move across so that",
        f"a class of {MIN_TEST + MIN_TRAIN} or more has at least {MIN_TEST} test and {MIN_TRAIN} train images. "
        "unseen/ holds whole held-out classes.",
        f"Sizes: width {min(widths)}..{max(widths)}, height {min(heights)}..{max(heights)} pixels.",
        "",
        f"{'class':<11} {'source folder (recursive)':<26} {'train':>5} {'test':>5} {'unseen':>6}",
    ]
    for cls, folder, _ in sources:
        c = counts[cls]
        lines.append(f"{cls:<11} {folder:<26} {c.get('train', 0):5d} {c.get('test', 0):5d} {c.get('unseen', 0):6d}")
    lines.append(f"{'total':<11} {'':<26} {total['train']:5d} {total['test']:5d} {total['unseen']:6d}")
    with open(readme, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    os.unlink(marker)

    print(f"total       train {total['train']:3d}  test {total['test']:3d}  unseen {total['unseen']:3d}  "
          f"(skipped {len(mirrored)} mirrored, {len(duplicates)} duplicate; sizes {min(widths)}..{max(widths)} x "
          f"{min(heights)}..{max(heights)}; {time.monotonic() - started:.1f} s) -> {out}")


if __name__ == "__main__":
    try:
        main()
    except Failure as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
    except OSError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
