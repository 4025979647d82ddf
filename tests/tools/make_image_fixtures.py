#!/usr/bin/python3
"""Writes the image reader's fixtures (run with Debian's /usr/bin/python3, python3-pil and
python3-numpy):

  tests/data/images/*.png, *.jpg
      small images of every colour kind the reader takes: PNG RGB, RGBA, grey, grey+alpha,
      palette (with tRNS), 1-bit, 2-bit grey, 16-bit grey, 16-bit RGB and Adam7-interlaced RGB
      (the last four written by hand here, since PIL cannot write them), JPEG 4:2:0, 4:4:4, grey,
      CMYK and progressive.
  tests/data/images/expected/*.npy + cases.json
      what torchvision's pipeline gives for each case, computed with PIL and numpy as
      ImageFolder + Resize + ToTensor + Normalize do: convert("RGB"/"L"), resize((w, h), BILINEAR),
      x * scale, (x - mean) / std, in float32, [C,H,W] or [H,W,C]. "levels" is the tolerance in
      8-bit grey levels the test allows (times scale / std): 0 for PNG, 2 for JPEG.
  tests/data/images/folder/, flat/, mixed/ + expected/folder.json
      an ImageFolder class layout (nested folder, hidden files and folders, other files, an upper
      case extension), a flat folder, and a flat folder of two sizes; the batches expected of them.
  tests/data/malformed/images/* + expected.json
      one broken file per failure the reader reports: error kind and a substring of the message.

16-bit grey PNGs: PIL 9.4 opens them as mode "I" and convert("L") clips every value above 255
to 255, which loses the image; the reader keeps the high byte instead (as PIL does for 16-bit
RGB), and the reference here is computed from the high byte.
"""
import json
import os
import shutil
import struct
import zlib

import numpy as np
from PIL import Image

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data")
OUT = os.path.join(DATA, "images")
EXPECTED = os.path.join(OUT, "expected")
BROKEN = os.path.join(DATA, "malformed", "images")

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]
# Tolerances in grey levels (see tests/io/test_images.cpp for what was measured): PNG decoding is
# lossless and the resize is PIL's own integer arithmetic, so PNG cases must match exactly; JPEG
# decoders of other libjpeg builds may round their IDCT and upsampling differently.
PNG_LEVELS = 0
JPEG_LEVELS = 2


def pattern(h, w, c, seed):
    """Smooth waves plus noise, clipped so that 0 and 255 occur."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    planes = [128 + 150 * np.sin(x / 2.5 + k) * np.cos(y / 3.5 - 2 * k) for k in range(c)]
    a = np.stack(planes, -1) + rng.normal(0, 25, (h, w, c))
    return np.clip(np.rint(a), 0, 255).astype(np.uint8)


# ---- PNG written by hand, for what PIL cannot write ----

SIG = b"\x89PNG\r\n\x1a\n"


def chunk(kind, data, crc=None):
    c = zlib.crc32(kind + data) if crc is None else crc
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", c)


def ihdr(w, h, depth, ctype, interlace=0):
    return chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, interlace))


def png_file(w, h, depth, ctype, scanlines, interlace=0):
    body = b"".join(b"\0" + s for s in scanlines)  # filter type 0 (None) on every line
    return SIG + ihdr(w, h, depth, ctype, interlace) + chunk(b"IDAT", zlib.compress(body)) + chunk(b"IEND", b"")


def rows(a):
    return [a[y].tobytes() for y in range(a.shape[0])]


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def adam7_scanlines(a):
    out = []
    for x0, y0, dx, dy in ADAM7:
        sub = a[y0::dy, x0::dx]
        if sub.shape[0] and sub.shape[1]:
            out += rows(sub)
    return out


def pack_bits(a, depth):
    per = 8 // depth
    lines = []
    for row in a:
        padded = np.concatenate([row, np.zeros((-len(row)) % per, np.uint8)])
        groups = padded.reshape(-1, per)
        shifts = np.arange(per - 1, -1, -1) * depth
        lines.append(bytes((groups.astype(np.uint32) << shifts).sum(1).astype(np.uint8)))
    return lines


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


# ---- the source images ----

H, W = 11, 13  # small, odd sizes so every resize has fractional scales


def make_sources():
    os.makedirs(OUT, exist_ok=True)
    rgb = pattern(H, W, 3, 1)
    Image.fromarray(rgb, "RGB").save(os.path.join(OUT, "rgb.png"))
    Image.fromarray(pattern(47, 61, 3, 2), "RGB").save(os.path.join(OUT, "large.png"))
    Image.fromarray(pattern(H, W, 4, 3), "RGBA").save(os.path.join(OUT, "rgba.png"))
    Image.fromarray(pattern(H, W, 1, 4)[:, :, 0], "L").save(os.path.join(OUT, "grey.png"))
    Image.fromarray(pattern(H, W, 2, 5), "LA").save(os.path.join(OUT, "grey_alpha.png"))
    pal = Image.fromarray(rgb, "RGB").quantize(colors=16)
    pal.save(os.path.join(OUT, "palette.png"), transparency=3)
    Image.fromarray(pattern(H, W, 1, 6)[:, :, 0] > 128).save(os.path.join(OUT, "bilevel.png"))

    grey2 = (pattern(H, W, 1, 7)[:, :, 0] >> 6).astype(np.uint8)
    write(os.path.join(OUT, "grey2.png"), png_file(W, H, 2, 0, pack_bits(grey2, 2)))
    grey16 = (pattern(H, W, 1, 8)[:, :, 0].astype(np.uint16) * 257 + np.arange(W, dtype=np.uint16) * 13)
    write(os.path.join(OUT, "grey16.png"), png_file(W, H, 16, 0, rows(grey16.astype(">u2"))))
    rgb16 = pattern(H, W, 3, 9).astype(np.uint16) * 256 + 255 - pattern(H, W, 3, 10)
    write(os.path.join(OUT, "rgb16.png"), png_file(W, H, 16, 2, rows(rgb16.astype(">u2"))))
    inter = pattern(H, W, 3, 11)
    write(os.path.join(OUT, "interlaced.png"), png_file(W, H, 8, 2, adam7_scanlines(inter), interlace=1))

    # The hand-written files read back in PIL as intended.
    assert (np.asarray(Image.open(os.path.join(OUT, "grey2.png"))) == grey2 * 85).all()
    assert (np.asarray(Image.open(os.path.join(OUT, "grey16.png"))) == grey16).all()
    assert (np.asarray(Image.open(os.path.join(OUT, "rgb16.png"))) == (rgb16 >> 8)).all()  # PIL: the high byte
    assert (np.asarray(Image.open(os.path.join(OUT, "interlaced.png"))) == inter).all()

    Image.fromarray(rgb, "RGB").save(os.path.join(OUT, "rgb.jpg"), quality=90)  # 4:2:0
    Image.fromarray(rgb, "RGB").save(os.path.join(OUT, "rgb444.jpg"), quality=95, subsampling=0)
    Image.fromarray(pattern(H, W, 1, 12)[:, :, 0], "L").save(os.path.join(OUT, "grey.jpg"), quality=90)
    Image.fromarray(pattern(H, W, 4, 13), "CMYK").save(os.path.join(OUT, "cmyk.jpg"), quality=90)
    Image.fromarray(pattern(H, W, 3, 14), "RGB").save(os.path.join(OUT, "progressive.jpg"), quality=90,
                                                       progressive=True)


# ---- references ----

def pil_image(path):
    im = Image.open(path)
    if im.mode == "I":  # 16-bit grey: the high byte (see the module's doc)
        im = Image.fromarray((np.asarray(im) >> 8).astype(np.uint8), "L")
    return im


def reference(path, channels=3, size=None, scale=1 / 255, mean=(), std=(), nhwc=False):
    im = pil_image(path).convert("L" if channels == 1 else "RGB")
    if size:
        h, w = size
        im = im.resize((w, h), Image.BILINEAR)
    a = np.asarray(im, dtype=np.float32)
    if a.ndim == 2:
        a = a[:, :, None]
    a = a * np.float32(scale)
    if mean:
        a = a - np.array(mean if len(mean) > 1 else mean * channels, np.float32)
    if std:
        a = a / np.array(std if len(std) > 1 else std * channels, np.float32)
    return a if nhwc else np.ascontiguousarray(a.transpose(2, 0, 1))


def make_cases():
    shutil.rmtree(EXPECTED, ignore_errors=True)
    os.makedirs(EXPECTED)
    cases = {}

    def case(name, file, **opts):
        levels = JPEG_LEVELS if file.endswith(".jpg") else PNG_LEVELS
        arr = reference(os.path.join(OUT, file), **opts)
        npy = name.replace(" ", "_").replace(",", "") + ".npy"
        np.save(os.path.join(EXPECTED, npy), arr)
        size = opts.get("size") or (0, 0)
        assert name not in cases
        cases[name] = {"file": file, "channels": opts.get("channels", 3), "height": size[0], "width": size[1],
                       "scale": opts.get("scale", 1 / 255), "mean": list(opts.get("mean", ())),
                       "std": list(opts.get("std", ())), "nhwc": opts.get("nhwc", False), "npy": npy,
                       "levels": levels}

    norm = {"mean": IMAGENET_MEAN, "std": IMAGENET_STD}
    for kind in ["rgb", "rgba", "grey", "grey_alpha", "palette", "bilevel", "grey2", "grey16", "rgb16",
                 "interlaced"]:
        case(kind + " png", kind + ".png")
        case(kind + " png down", kind + ".png", size=(5, 6), **norm)
    for kind in ["rgb", "rgb444", "grey", "cmyk", "progressive"]:
        case(kind + " jpg", kind + ".jpg")
        case(kind + " jpg down", kind + ".jpg", size=(5, 6), **norm)
    for kind in ["rgb.png", "rgba.png", "palette.png", "grey.png", "grey16.png", "rgb.jpg", "cmyk.jpg"]:
        case(kind.replace(".", " ") + " as grey", kind, channels=1)
    case("rgb png up", "rgb.png", size=(15, 17), **norm)
    case("rgb png height only", "rgb.png", size=(4, W))
    case("rgb png width only", "rgb.png", size=(H, 5))
    case("rgb png factor 5", "rgb.png", size=(2, 3))
    case("rgb png to 1x1", "rgb.png", size=(1, 1))
    case("rgb png nhwc", "rgb.png", size=(7, 9), nhwc=True, **norm)
    case("rgb png one mean std", "rgb.png", size=(7, 9), mean=[0.5], std=[0.25])
    case("rgb png scale 1", "rgb.png", scale=1.0)
    case("grey png as grey down", "grey.png", channels=1, size=(6, 4), mean=[0.5], std=[0.5])
    case("large png down", "large.png", size=(20, 24), **norm)
    case("large png grey down", "large.png", channels=1, size=(20, 24))
    with open(os.path.join(EXPECTED, "cases.json"), "w") as f:
        json.dump(cases, f, indent=1)


# ---- folders ----

def make_folders():
    for d in ["folder", "flat", "mixed"]:
        shutil.rmtree(os.path.join(OUT, d), ignore_errors=True)

    def img(rel, seed, h=8, w=10, fmt=None):
        p = os.path.join(OUT, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        Image.fromarray(pattern(h, w, 3, seed), "RGB").save(p, format=fmt)

    # torchvision's order: classes by name; in a class os.walk's folders sorted, then file names.
    img("folder/bird/b1.png", 20)
    img("folder/cat/c1.jpg", 21)
    img("folder/cat/c2.png", 22)
    img("folder/cat/zz.png", 23)
    img("folder/cat/more/c3.png", 24, h=9, w=12)
    img("folder/cat/.c0.png", 25)              # hidden file
    img("folder/dog/D2.PNG", 26, fmt="PNG")    # upper-case extension
    img("folder/dog/d1.png", 27)
    img("folder/.thumbs/x.png", 28)            # hidden folder: not a class
    write(os.path.join(OUT, "folder/cat/notes.txt"), b"not an image\n")
    files = ["bird/b1.png", "cat/c1.jpg", "cat/c2.png", "cat/zz.png", "cat/more/c3.png", "dog/D2.PNG", "dog/d1.png"]
    labels = [0, 1, 1, 1, 1, 2, 2]
    folder_opts = {"size": (5, 6), "mean": IMAGENET_MEAN, "std": IMAGENET_STD}
    batch = np.stack([reference(os.path.join(OUT, "folder", f), **folder_opts) for f in files])
    np.save(os.path.join(EXPECTED, "folder_batch.npy"), batch)

    img("flat/a.png", 30, h=7, w=9)
    img("flat/b.jpg", 31, h=7, w=9)
    img("flat/c.png", 32, h=7, w=9)
    img("flat/.hidden.png", 33, h=3, w=3)
    write(os.path.join(OUT, "flat/readme.txt"), b"three images\n")
    flat_files = ["a.png", "b.jpg", "c.png"]
    flat = np.stack([reference(os.path.join(OUT, "flat", f), channels=1, nhwc=True) for f in flat_files])
    np.save(os.path.join(EXPECTED, "flat_batch.npy"), flat)

    img("mixed/a.png", 40, h=7, w=9)
    img("mixed/b.png", 41, h=7, w=8)

    with open(os.path.join(EXPECTED, "folder.json"), "w") as f:
        json.dump({"folder": {"files": files, "classes": ["bird", "cat", "dog"], "labels": labels,
                              "height": 5, "width": 6, "mean": IMAGENET_MEAN, "std": IMAGENET_STD,
                              "batch": "folder_batch.npy", "levels": JPEG_LEVELS},
                   "flat": {"files": flat_files, "channels": 1, "nhwc": True, "batch": "flat_batch.npy",
                            "levels": JPEG_LEVELS},
                   "mixed": {"files": ["a.png", "b.png"]}}, f, indent=1)


# ---- the malformed corpus ----

def jpeg_segments(data):
    """(marker, start, end) of every marker segment before the first SOS, then the rest."""
    out, i = [], 2
    while i < len(data):
        assert data[i] == 0xFF
        m = data[i + 1]
        n = struct.unpack(">H", data[i + 2:i + 4])[0]
        out.append((m, i, i + 2 + n))
        if m == 0xDA:
            break
        i += 2 + n
    return out


def patch_sof(data, fn):
    b = bytearray(data)
    for m, s, e in jpeg_segments(data):
        if m in (0xC0, 0xC1, 0xC2):
            fn(b, s)
            return bytes(b)
    raise AssertionError("no SOF")


def many_scans(prog, copies):
    """A progressive JPEG whose last scan is repeated: libjpeg warns about the bogus progression
    and would decode every copy."""
    sos = [i for i in range(len(prog) - 1) if prog[i] == 0xFF and prog[i + 1] == 0xDA]
    last = prog[sos[-1]:-2]  # the last SOS segment and its entropy data, without EOI
    return prog[:-2] + last * copies + b"\xff\xd9"


def make_malformed():
    shutil.rmtree(BROKEN, ignore_errors=True)
    os.makedirs(BROKEN)
    good_png = open(os.path.join(OUT, "rgb.png"), "rb").read()
    good_jpg = open(os.path.join(OUT, "rgb.jpg"), "rb").read()
    prog_jpg = open(os.path.join(OUT, "progressive.jpg"), "rb").read()
    idat = good_png.index(b"IDAT")
    idat_len = struct.unpack(">I", good_png[idat - 4:idat])[0]
    bad_crc = bytearray(good_png)
    bad_crc[idat + 4 + idat_len] ^= 0x01  # the IDAT's CRC
    bad_ihdr_crc = bytearray(good_png)
    bad_ihdr_crc[8 + 8 + 13] ^= 0x01
    flipped = bytearray(good_png)
    flipped[idat + 4 + 20] ^= 0x55  # inside the deflate data, with the CRC still matching:
    flipped[idat + 4 + idat_len:idat + 8 + idat_len] = struct.pack(">I", zlib.crc32(flipped[idat:idat + 4 + idat_len]))
    line = b"\0" + b"\0" * 3
    tiny = zlib.compress(line)
    sos = good_jpg.index(b"\xff\xda")

    def set_size(h, w):
        return lambda b, s: b.__setitem__(slice(s + 5, s + 9), struct.pack(">HH", h, w))

    cases = {
        "empty.png": (b"", "BadInput", "is empty"),
        "truncated_signature.png": (SIG[:5], "BadInput", "ends inside the PNG signature"),
        "signature_only.png": (SIG, "BadInput", "the file is truncated"),
        "truncated.png": (good_png[:len(good_png) // 2], "BadInput", "the file is truncated"),
        "truncated_before_iend.png": (good_png[:-12], "BadInput", "the file is truncated"),
        "bad_crc.png": (bytes(bad_crc), "BadInput", "IDAT: CRC error"),
        "bad_ihdr_crc.png": (bytes(bad_ihdr_crc), "BadInput", "IHDR: CRC error"),
        "bad_deflate.png": (bytes(flipped), "BadInput", "corrupt PNG"),
        "huge.png": (SIG + ihdr(100000, 100000, 8, 2) + chunk(b"IDAT", tiny) + chunk(b"IEND", b""), "BadInput",
                     "is 100000x100000 pixels, more than the limit of 268435456"),
        "huge_wide.png": (SIG + ihdr(16385, 16384, 8, 0) + chunk(b"IDAT", tiny) + chunk(b"IEND", b""), "BadInput",
                          "is 16385x16384 pixels"),
        "zero_width.png": (SIG + ihdr(0, 4, 8, 2) + chunk(b"IDAT", tiny) + chunk(b"IEND", b""), "BadInput",
                           "is a corrupt PNG: Invalid IHDR data"),
        "bad_bit_depth.png": (SIG + ihdr(1, 1, 3, 0) + chunk(b"IDAT", tiny) + chunk(b"IEND", b""), "BadInput",
                              "is a corrupt PNG: Invalid IHDR data"),
        "no_idat.png": (SIG + ihdr(1, 1, 8, 2) + chunk(b"IEND", b""), "BadInput", "corrupt PNG"),
        "palette_missing.png": (SIG + ihdr(1, 1, 8, 3) + chunk(b"IDAT", zlib.compress(b"\0\0")) + chunk(b"IEND", b""),
                                "BadInput", "Missing PLTE before IDAT"),
        "short_image_data.png": (SIG + ihdr(4, 4, 8, 2) + chunk(b"IDAT", zlib.compress(line)) + chunk(b"IEND", b""),
                                 "BadInput", "Not enough image data"),
        "truncated.jpg": (good_jpg[:sos + (len(good_jpg) - sos) // 2], "BadInput",
                          "is a corrupt JPEG: Premature end of JPEG file (the file is truncated)"),
        "truncated_header.jpg": (good_jpg[:sos // 2], "BadInput", "(the file is truncated)"),
        "scan_cut_short.jpg": (good_jpg[:sos + (len(good_jpg) - sos) // 2] + b"\xff\xd9", "BadInput",
                               "Corrupt JPEG data: premature end of data segment"),
        "soi_only.jpg": (b"\xff\xd8\xff\xd9", "BadInput", "is a corrupt JPEG: JPEG datastream contains no image"),
        "garbage.jpg": (b"\xff\xd8\xff" + bytes(range(256)) * 4, "BadInput", "corrupt JPEG"),
        "huge.jpg": (patch_sof(good_jpg, set_size(65000, 65000)), "BadInput",
                     "is 65000x65000 pixels, more than the limit"),
        "zero_height.jpg": (patch_sof(good_jpg, set_size(0, 13)), "BadInput", "Empty JPEG image"),
        "twelve_bit.jpg": (patch_sof(good_jpg, lambda b, s: b.__setitem__(s + 4, 12)), "Unsupported",
                           "Unsupported JPEG data precision 12"),
        "lossless.jpg": (patch_sof(good_jpg, lambda b, s: b.__setitem__(s + 1, 0xC3)), "Unsupported",
                         "Unsupported JPEG process"),
        "many_scans.jpg": (many_scans(prog_jpg, 520), "BadInput", "more than 500 progressive scans"),
        "not_image.png": (b"hello, this is text\n", "Unsupported", "is not a PNG or JPEG image"),
        "gif.jpg": (b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "Unsupported", "is a GIF image"),
        "webp.png": (b"RIFF\x1a\x00\x00\x00WEBPVP8 ", "Unsupported", "is a WebP image"),
    }
    expected = {}
    for name, (data, kind, message) in cases.items():
        write(os.path.join(BROKEN, name), data)
        expected[name] = {"kind": kind, "message": message}
    with open(os.path.join(BROKEN, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)


def main():
    make_sources()
    make_cases()
    make_folders()
    make_malformed()


if __name__ == "__main__":
    main()
