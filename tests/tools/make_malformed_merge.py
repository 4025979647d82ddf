#!/usr/bin/python3
"""Malformed merge recipes for tests/cli/test_cli_merge.cpp: each must be refused with one error
that names the file. Run: /usr/bin/python3 tests/tools/make_malformed_merge.py"""
import os

OUT = os.path.join(os.path.dirname(__file__), "..", "data", "merge", "malformed")

CASES = {
    "unclosed_flow.yaml": b"merge_method: ties\nbase_model: [unclosed\n",
    "not_a_mapping.yaml": b"- merge_method: ties\n- models: []\n",
    "models_not_a_list.yaml": b"merge_method: ties\nbase_model: base\nmodels: a.safetensors\n",
    "weight_not_a_number.yaml": b"merge_method: ties\nbase_model: base\nmodels:\n  - model: a\n"
                                b"    parameters: {weight: heavy}\n",
    "duplicate_key.yaml": b"merge_method: ties\nbase_model: base\nmodels:\n  - model: a\n    parameters:\n"
                          b"      weight: 1\n      density: 0.5\n      density: 0.7\n",
    "binary.yaml": b"\x00\x01\xff\xfe garbage",
    "empty.yaml": b"",
    "deep_nesting.yaml": b"merge_method: ties\nparameters: " + b"[" * 2000 + b"]" * 2000 + b"\n",
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in CASES.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    print(f"{OUT}: {len(CASES)} files")


if __name__ == "__main__":
    main()
