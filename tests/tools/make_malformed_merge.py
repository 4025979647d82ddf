#!/usr/bin/python3
"""Malformed merge recipes for tests/cli/test_cli_merge.cpp: each must be refused with one error
that names the file. Run: /usr/bin/python3 tests/tools/make_malformed_merge.py"""
import os

OUT = os.path.join(os.path.dirname(__file__), "..", "data", "merge", "malformed")

M = b"merge_method: ties\nbase_model: base\nmodels:\n  - model: a\n"
PT = "per_tensor_"

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
    # Per-tensor settings (mergekit's filters and gradients) and the keys of pcb / importance_weighted.
    PT + "filter_not_in_list.yaml": M + b"    parameters:\n      weight: {filter: mlp, value: 1}\n",
    PT + "filter_entry_no_value.yaml": M + b"    parameters:\n      weight:\n        - filter: mlp\n",
    PT + "filter_not_text.yaml": M + b"    parameters:\n      weight:\n        - filter: [mlp]\n          value: 1\n",
    PT + "filter_unknown_key.yaml": M + b"    parameters:\n      weight:\n        - filter: mlp\n"
                                        b"          value: 1\n          layers: 3\n",
    PT + "filter_mixed_list.yaml": M + b"    parameters:\n      weight:\n        - 0.5\n        - {value: 1}\n",
    PT + "gradient_empty.yaml": M + b"    parameters: {weight: []}\n",
    PT + "gradient_not_numbers.yaml": M + b"    parameters: {weight: [0.5, heavy]}\n",
    PT + "gradient_nested.yaml": M + b"    parameters: {weight: [[0.5, 1]]}\n",
    PT + "filter_value_nan.yaml": M + b"    parameters:\n      weight:\n        - value: .nan\n",
    PT + "pcb_ratio_range.yaml": b"merge_method: pcb\nbase_model: base\nparameters: {pcb_ratio: 1.5}\n"
                                 b"models:\n  - model: a\n",
    PT + "pcb_ratio_other_method.yaml": b"merge_method: ties\nbase_model: base\nparameters: {pcb_ratio: 0.1}\n"
                                        b"models:\n  - model: a\n    parameters: {weight: 1}\n",
    PT + "criterion_missing.yaml": b"merge_method: importance_weighted\nbase_model: base\nmodels:\n  - model: a\n",
    PT + "criterion_not_text.yaml": b"merge_method: importance_weighted\nbase_model: base\n"
                                    b"parameters: {criterion: [fisher]}\nmodels:\n  - model: a\n",
    PT + "stats_other_method.yaml": M + b"    parameters: {weight: 1, stats: s.safetensors}\n",
    PT + "stats_empty.yaml": b"merge_method: fisher\nbase_model: base\nmodels:\n  - model: a\n"
                             b"    parameters: {stats: ''}\n",
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in CASES.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    print(f"{OUT}: {len(CASES)} files")


if __name__ == "__main__":
    main()
