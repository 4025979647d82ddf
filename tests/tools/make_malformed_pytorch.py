#!/usr/bin/python3
"""Writes the malformed PyTorch corpus to tests/data/malformed/pytorch/: small broken files, each of
which the reader must refuse with one Error naming the file. expected.json maps every file (or
folder) to a piece of the message it must produce.

Run with Debian's interpreter (python3-torch 1.13):  /usr/bin/python3 tests/tools/make_malformed_pytorch.py

Valid starting points come from torch.save; the broken parts are written by hand. The hostile
pickles (os.system, builtins.eval, ...) are spelled out opcode by opcode: nothing here pickles a
live callable.
"""
import collections
import io
import json
import pickletools
import shutil
import struct
import tarfile
import zipfile
from pathlib import Path

import torch

OUT = Path(__file__).resolve().parents[1] / "data" / "malformed" / "pytorch"
PREFIX = "archive/"


def torch_zip(obj):
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def torch_legacy(obj):
    buf = io.BytesIO()
    torch.save(obj, buf, _use_new_zipfile_serialization=False)
    return buf.getvalue()


def entries_of(data):
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return [(i.filename, z.read(i.filename)) for i in z.infolist()]


def make_zip(entries, compression=zipfile.ZIP_STORED):
    """entries: (name, bytes) pairs, written in order (duplicates allowed)."""
    buf = io.BytesIO()
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about duplicate names, which we want
        with zipfile.ZipFile(buf, "w", compression=compression) as z:
            for name, data in entries:
                zi = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
                zi.compress_type = compression
                z.writestr(zi, data)
    return buf.getvalue()


def pickle_zip(pkl, storages=(), compression=zipfile.ZIP_STORED):
    """A torch-style archive around a hand-written data.pkl."""
    return make_zip([(PREFIX + "data.pkl", pkl)] + [(PREFIX + "data/" + k, v) for k, v in storages] +
                    [(PREFIX + "version", b"3\n")], compression)


def binunicode(s):
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def storage_pid(key, numel, storage_type=b"torch\nFloatStorage\n"):
    """('storage', torch.<type>, key, 'cpu', numel) BINPERSID"""
    return (b"(" + binunicode("storage") + b"c" + storage_type + binunicode(key) + binunicode("cpu") +
            b"J" + struct.pack("<i", numel) + b"tQ")


def int_tuple(values):
    return b"(" + b"".join(b"J" + struct.pack("<i", v) for v in values) + b"t"


def rebuild_v2(pid, offset, size, stride):
    """torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())"""
    return (b"ctorch._utils\n_rebuild_tensor_v2\n(" + pid + b"J" + struct.pack("<i", offset) + int_tuple(size) +
            int_tuple(stride) + b"\x89ccollections\nOrderedDict\n)RtR")


def state_dict_pickle(*items):
    """{name: value, ...} as a protocol-2 pickle."""
    return b"\x80\x02}(" + b"".join(binunicode(k) + v for k, v in items) + b"u."


def patch(data, offset, fmt, value):
    b = bytearray(data)
    struct.pack_into(fmt, b, offset, value)
    return bytes(b)


def eocd_offset(data):
    return data.rindex(b"PK\x05\x06")


def main():
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    torch.manual_seed(0)
    sd = collections.OrderedDict(weight=torch.randn(2, 3), bias=torch.randn(2))
    good = torch_zip(sd)  # torch's writer: ZIP64 end records, 64-byte aligned storages
    plain = make_zip(entries_of(good))  # Python's writer: classic end record only
    expected = {}

    def write(name, data, message):
        (OUT / name).write_bytes(data)
        expected[name] = message

    # --- the container -----------------------------------------------------------------------
    write("empty.pt", b"", "empty file")
    write("truncated_zip.pt", good[: len(good) // 2], "end-of-central-directory")
    end = eocd_offset(plain)
    write("cd_offset_past_end.pt", patch(plain, end + 16, "<I", 0x7FFFFF00), "reaches past its end record")
    # torch's ZIP64 end record: the 64-bit central directory offset wraps around.
    end64 = good.rindex(b"PK\x06\x06")
    write("cd_offset_past_end_zip64.pt", patch(good, end64 + 48, "<Q", 0xFFFFFFFFFFFFFF00),
          "reaches past its end record")
    locator = good.rindex(b"PK\x06\x07")
    write("zip64_locator_wrong.pt", patch(good, locator + 8, "<Q", 3), "no ZIP64 end record")
    # Central directory entry 0: compressed and uncompressed sizes far beyond the file.
    cd = plain.index(b"PK\x01\x02")
    big = patch(patch(plain, cd + 20, "<I", 0x10000000), cd + 24, "<I", 0x10000000)
    write("entry_size_beyond_file.pt", big, "run past the start of the central directory")
    write("local_offset_past_cd.pt", patch(plain, cd + 42, "<I", 0x7FFFFF00), "is not before the central directory")
    # The local header's name differs from the central directory's.
    local_name = plain.index(b"archive/data.pkl")
    write("local_name_mismatch.pt", plain[:local_name] + b"X" + plain[local_name + 1:], "local header names another file")
    write("duplicate_entries.pt", make_zip(entries_of(good) + [(PREFIX + "data/0", b"\0" * 24)]), "appears twice")
    write("no_data_pkl.pt", make_zip([("archive/version", b"3\n")]), "no data.pkl")
    write("empty_zip.pt", b"PK\x05\x06" + b"\0" * 18, "no data.pkl")
    write("npz_archive.pt", make_zip([("a.npy", b"\x93NUMPY")]), "NumPy .npz")
    # data.pkl's bytes no longer match its CRC-32.
    pkl_at = plain.index(b"\x80\x02", local_name)
    write("crc_mismatch.pt", plain[:pkl_at + 3] + bytes([plain[pkl_at + 3] ^ 0x20]) + plain[pkl_at + 4:], "CRC-32")
    deflated = make_zip(entries_of(good), compression=zipfile.ZIP_DEFLATED)
    pkl_deflated = deflated.index(b"archive/data.pkl") + len("archive/data.pkl")
    write("deflate_corrupt.pt", deflated[:pkl_deflated + 2] + b"\xff\xff\xff\xff" + deflated[pkl_deflated + 6:],
          "archive/data.pkl")
    write("encrypted_entry.pt", patch(plain, cd + 8, "<H", 1), "encrypted")
    write("bad_byteorder.pt", make_zip(entries_of(good) + [(PREFIX + "byteorder", b"middle")]), "not 'little' or 'big'")
    with io.BytesIO() as tbuf:
        with tarfile.open(fileobj=tbuf, mode="w", format=tarfile.PAX_FORMAT) as tar:
            info = tarfile.TarInfo("storages")
            info.size = 4
            tar.addfile(info, io.BytesIO(b"\x80\x02K\x00"))
        write("tar_format.pt", tbuf.getvalue(), "tar archive")

    # --- the pickle ------------------------------------------------------------------------
    write("not_a_checkpoint.pt", b"hello, this is text\n", "neither a zip archive nor a pickle")
    write("unknown_opcode.pt", pickle_zip(b"\x80\x02}\xff."), "unknown pickle opcode 0xff at offset 3")
    write("protocol_6.pt", pickle_zip(b"\x80\x06}."), "pickle protocol 6")
    # os.system("echo pwned") by GLOBAL + REDUCE.
    write("os_system_reduce.pt", pickle_zip(b"\x80\x02cos\nsystem\n" + binunicode("echo pwned") + b"\x85R."),
          "refusing to load: the pickle calls os.system")
    write("builtins_eval.pt", pickle_zip(b"\x80\x02cbuiltins\neval\n" + binunicode("1+1") + b"\x85R."),
          "refusing to load: the pickle calls builtins.eval")
    write("py2_builtin_exec.pt", pickle_zip(b"\x80\x02c__builtin__\nexec\n" + binunicode("pass") + b"\x85R."),
          "builtins.exec")
    # Protocol 4: STACK_GLOBAL('subprocess', 'Popen') and an attribute path to os.system via torch.
    write("stack_global_popen.pt",
          pickle_zip(b"\x80\x04\x8c\x0asubprocess\x8c\x05Popen\x93" + binunicode("id") + b"\x85R."),
          "subprocess.Popen")
    write("dotted_os_system.pt", pickle_zip(b"\x80\x04\x8c\x05torch\x8c\x09os.system\x93" + binunicode("id") + b"\x85R."),
          "torch.os.system")
    write("torch_load_in_pickle.pt", pickle_zip(b"\x80\x02ctorch.serialization\nload\n" + binunicode("x.pt") + b"\x85R."),
          "torch.serialization.load")
    write("huge_memo_index.pt", pickle_zip(b"\x80\x02j\xff\xff\xff\xff."), "memo key 4294967295 was never stored")
    write("stack_underflow.pt", pickle_zip(b"\x80\x02R."), "stack underflow")
    write("string_past_end.pt", pickle_zip(b"\x80\x02X\xff\xff\xff\x7fabc"), "truncated")
    write("no_stop.pt", pickle_zip(b"\x80\x02}q\x00"), "truncated")
    # A list nested 100000 deep inside a dict ({'a': [[[...]]]}), built without recursion.
    depth = 100_000
    nested = b"\x80\x02}" + binunicode("a") + b"]" * depth + b"a" * (depth - 1) + b"s."
    # (deflated: 200 KB of pickle in a few hundred bytes)
    write("deep_nesting.pt", pickle_zip(nested, compression=zipfile.ZIP_DEFLATED), "nest deeper than")

    # --- torch objects -----------------------------------------------------------------------
    w = struct.pack("<6f", *range(6))
    # data.pkl refers to storage '7', which the archive does not hold.
    write("missing_storage.pt",
          pickle_zip(state_dict_pickle(("w", rebuild_v2(storage_pid("7", 6), 0, (2, 3), (3, 1)))), [("0", w)]),
          "no record 'archive/data/7'")
    # A [3, 3] view of a 6-element storage.
    write("storage_too_small.pt",
          pickle_zip(state_dict_pickle(("w", rebuild_v2(storage_pid("0", 6), 0, (3, 3), (3, 1)))), [("0", w)]),
          "reaches element 8 of a storage holding 6")
    # A storage claiming 100 floats in a 24-byte record.
    write("record_too_small.pt",
          pickle_zip(state_dict_pickle(("w", rebuild_v2(storage_pid("0", 100), 0, (2, 3), (3, 1)))), [("0", w)]),
          "holds 24 bytes")
    write("offset_past_storage.pt",
          pickle_zip(state_dict_pickle(("w", rebuild_v2(storage_pid("0", 6), 5, (2,), (1,)))), [("0", w)]),
          "storage offset 5")
    write("negative_stride.pt",
          pickle_zip(state_dict_pickle(("w", rebuild_v2(storage_pid("0", 6), 0, (2, 3), (3, -1)))), [("0", w)]),
          "negative stride")
    write("unknown_storage_type.pt",
          pickle_zip(state_dict_pickle(("w", rebuild_v2(storage_pid("0", 6, b"torch\nFooStorage\n"), 0, (6,), (1,)))),
                     [("0", w)]),
          "not a torch storage type")
    write("rebuild_without_storage.pt",
          pickle_zip(state_dict_pickle(("w", b"ctorch._utils\n_rebuild_tensor_v2\n(J\x00\x00\x00\x00" +
                                        b"J\x00\x00\x00\x00)\x29\x89N\x74R"))),
          "argument 1 is not a storage")
    write("shape_overflow.pt",
          pickle_zip(state_dict_pickle(("w", rebuild_v2(storage_pid("0", 6), 0, (2**31 - 1,) * 3, (0, 0, 0)))),
                     [("0", w)]),
          "overflows")
    write("only_complex.pt", torch_zip({"c": torch.zeros(2, dtype=torch.complex128)}),
          "tensor 'c': complex128 tensors are not supported")
    write("bad_persistent_id.pt", pickle_zip(b"\x80\x02" + binunicode("hello") + b"Q."), "persistent id")

    # --- legacy format -------------------------------------------------------------------------
    legacy = torch_legacy(sd)
    write("legacy_truncated.pt", legacy[:-10], "truncated: storage")
    # The first storage's element count in the data section no longer matches the pickle.
    f = io.BytesIO(legacy)
    for _ in range(5):  # magic, protocol, sys_info, the object, the storage keys
        for _op in pickletools.genops(f):
            pass
    count_at = f.tell()
    write("legacy_count_mismatch.pt", patch(legacy, count_at, "<q", 5), "but the pickle says 6")
    write("legacy_wrong_magic.pt", b"\x80\x02M\x39\x30." + legacy[15:], "not torch.save's magic number")
    write("legacy_protocol_1000.pt", legacy[:18] + struct.pack("<H", 1000) + legacy[20:], "protocol version 1000")

    # --- sharded index ---------------------------------------------------------------------------
    def sharded(name, weight_map, files):
        d = OUT / name
        d.mkdir()
        (d / "pytorch_model.bin.index.json").write_text(json.dumps({"weight_map": weight_map}))
        for fname, data in files.items():
            (d / fname).write_bytes(data)

    shard = torch_zip(sd)
    sharded("index_escapes", {"weight": "../shard.bin", "bias": "shard.bin"}, {"shard.bin": shard})
    expected["index_escapes"] = "not a file in the same folder"
    sharded("index_missing_shard", {"weight": "shard.bin", "bias": "gone.bin"}, {"shard.bin": shard})
    expected["index_missing_shard"] = "'gone.bin' listed in weight_map is missing"
    sharded("index_wrong_tensor", {"weight": "shard.bin", "bias": "shard.bin", "extra": "shard.bin"},
            {"shard.bin": shard})
    expected["index_wrong_tensor"] = "'extra' in shard.bin, which does not hold it"
    d = OUT / "index_not_json"
    d.mkdir()
    (d / "pytorch_model.bin.index.json").write_text('{"weight_map": {"w": "a.bin"')
    expected["index_not_json"] = "not valid JSON"

    (OUT / "expected.json").write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"wrote {len(expected)} malformed cases to {OUT} ({total} bytes)")


if __name__ == "__main__":
    main()
