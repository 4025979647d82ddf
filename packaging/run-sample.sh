#!/bin/sh
# Installs what is missing (apt-get), builds ParamScope, and runs its main job on the bundled
# samples: prints what they hold, then opens the GUI on them when a display is present, or
# otherwise writes a headless report to ./paramscope-report/.
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
"$src/packaging/install-deps.sh"
cd "$src"
cmake --preset release >/dev/null
cmake --build --preset release
bin="$src/build/release/app"
samples="$src/resources/samples"

"$bin/paramscope-cli" inspect "$samples/tiny-llama"
echo
"$bin/paramscope-cli" inspect --stats "$samples/digits-cnn/model.safetensors"

if [ -n "${DISPLAY:-}" ] && [ -x "$bin/paramscope" ]; then
  exec "$bin/paramscope" "$samples/tiny-llama" "$samples/digits-cnn/model.safetensors"
fi

out="$(pwd)/paramscope-report"
mkdir -p "$out"
for s in tiny-llama digits-cnn/model.safetensors digits-cnn/model.pt digits-cnn/model.onnx; do
  name=$(echo "$s" | tr '/.' '__')
  "$bin/paramscope-cli" inspect --stats --tensors "$samples/$s" >"$out/$name.txt"
  "$bin/paramscope-cli" inspect --stats --json "$samples/$s" >"$out/$name.json"
done
# Importance maps, masks and a criteria comparison of the sample decoder, as a job file (kept in
# the report, so it shows how to script ParamScope).
cat >"$out/jobs.yaml" <<EOF
defaults:
  checkpoint: $samples/tiny-llama
jobs:
  - command: importance
    criterion: magnitude
    granularity: neuron
    reduce: l2
    output: magnitude-rows.h5
    summary: magnitude-rows.csv
  - command: importance
    criterion: alpha
    granularity: tensor
    output: spectral.h5
    summary: spectral.json
  - command: mask
    criterion: magnitude
    top: 10%
    scope: global
    output: mask-magnitude-global-10.safetensors
  - command: mask
    criterion: wanda
    stats: $samples/tiny-llama-stats/task.safetensors
    scope: "2:4"
    output: mask-wanda-2of4.safetensors
  - command: compare-criteria
    a: magnitude
    b: wanda
    b-stats: $samples/tiny-llama-stats/task.safetensors
    output: compare-magnitude-wanda.csv
  - command: render
    view: profile
    criterion: magnitude
    output: figure-profile-magnitude.svg
  - command: render
    view: heatmap
    tensor: model.layers.0.mlp.up_proj.weight
    colormap: rdbu_r
    dpi: 200
    output: figure-heatmap-up_proj.png
  - command: render
    view: histogram
    tensor: model.layers.0.mlp.up_proj.weight
    criterion: magnitude
    top: 10%
    log-counts: true
    output: figure-histogram-up_proj.pdf
  - command: render
    view: spectrum
    tensor: model.layers.0.mlp.up_proj.weight
    output: figure-spectrum-up_proj.png
  - command: render
    view: surface
    criterion: magnitude
    module: mlp.up
    output: figure-surface-mlp_up.png
EOF
"$bin/paramscope-cli" jobs "$out/jobs.yaml" >"$out/jobs.log"
# Merging: the digit CNN's two fine-tunes (digits 0-4 and 5-9) by the sample's TIES recipe
# (docs/merging.md); the accuracies are in digits-merge/expected_accuracy.json.
"$bin/paramscope-cli" merge "$samples/digits-merge/ties.yaml" -o "$out/merged-digits" >"$out/merge-ties.txt"
echo
echo "TIES merge of the digit fine-tunes -> $out/merged-digits/ (kept % per fine-tune, sign conflicts):"
grep '(all)' "$out/merge-ties.txt"
# Where the two fine-tunes interfere (CSV, JSON and figures; docs/merging.md#interference-analysis).
"$bin/paramscope-cli" interfere "$samples/digits-merge/base" "$samples/digits-merge/ft-a" \
  "$samples/digits-merge/ft-b" --tensor classifier.1.weight -o "$out/interference-digits" >"$out/interfere.txt"
# The sample CNN on its 16 test digits, run by ParamScope's own ONNX engine (docs/engine.md).
"$bin/paramscope-cli" run "$samples/digits-cnn/model.onnx" --input "$samples/digits-cnn/inputs.npy" \
  -o "$out/digits-run" >"$out/run-digits.txt"
echo "The digits CNN run by the ONNX engine -> $out/digits-run/:"
cat "$out/run-digits.txt"
# Its accuracy on the 297 test digits, and Fisher importance from gradients the engine computes
# on 128 calibration digits (docs/engine.md#calibration-statistics-calibrate).
"$bin/paramscope-cli" eval "$samples/digits-cnn/model.onnx" --data "$samples/digits-cnn/test.npz" | head -1
"$bin/paramscope-cli" calibrate "$samples/digits-cnn/model.onnx" --data "$samples/digits-cnn/calibration.npz" \
  -o "$out/digits-stats.safetensors"
"$bin/paramscope-cli" importance "$samples/digits-cnn/model.onnx" -c fisher --stats "$out/digits-stats.safetensors" \
  -g tensor -o "$out/digits-fisher.h5" --summary "$out/digits-fisher.csv" >/dev/null
echo "Fisher importance of the digits CNN per tensor -> $out/digits-fisher.csv"
# Why the CNN decides as it does on its first 4 test digits: RISE, DeepLIFT, Integrated Gradients
# and gradient x input maps with PNG overlays, then how faithful each method is on all 16 digits
# (deletion and insertion curves; docs/attributions.md).
"$bin/paramscope-cli" attribute "$samples/digits-cnn/model.onnx" "$samples/digits-cnn/inputs.npy" --limit 4 \
  -m rise,deeplift,ig,gxi -o "$out/digits-attributions" >"$out/attribute-digits.txt"
echo "Attribution maps and overlays of 4 digits -> $out/digits-attributions/"
"$bin/paramscope-cli" evaluate "$samples/digits-cnn/model.onnx" "$samples/digits-cnn/inputs.npy" \
  -m rise,deeplift,ig,gxi,smoothgrad -o "$out/digits-faithfulness.csv" --curves "$out/digits-faithfulness-curves.json"
# The GUI's view of the sample, rendered on a virtual display.
if [ -x "$bin/paramscope" ] && command -v xvfb-run >/dev/null; then
  xvfb-run -a -s "-screen 0 1600x1000x24" "$bin/paramscope" --quit-after-load --compute magnitude --size 1500x950 \
    --screenshot "$out/gui-tiny-llama.png" \
    "$samples/tiny-llama" >/dev/null 2>&1 || echo "run-sample.sh: GUI screenshot failed" >&2
  xvfb-run -a -s "-screen 0 1600x1000x24" "$bin/paramscope" --quit-after-load --compute magnitude --size 1500x950 \
    --tensor model.layers.0.mlp.up_proj.weight --view heatmap --screenshot "$out/gui-tiny-llama-heatmap.png" \
    "$samples/tiny-llama" >/dev/null 2>&1 || echo "run-sample.sh: GUI screenshot failed" >&2
  xvfb-run -a -s "-screen 0 1600x1000x24" "$bin/paramscope" --quit-after-load --merge --size 1500x950 \
    --screenshot "$out/gui-merge-digits.png" "$samples/digits-merge/base" "$samples/digits-merge/ft-a" \
    "$samples/digits-merge/ft-b" >/dev/null 2>&1 || echo "run-sample.sh: GUI screenshot failed" >&2
  xvfb-run -a -s "-screen 0 1600x1000x24" "$bin/paramscope" --quit-after-load --size 1500x950 \
    --attribute "$samples/digits-cnn/model.onnx" --methods rise,deeplift,ig,gxi \
    --screenshot "$out/gui-attributions-digits.png" "$samples/digits-cnn/inputs.npy" >/dev/null 2>&1 ||
    echo "run-sample.sh: GUI screenshot failed" >&2
fi
echo
echo "No display: wrote the headless report to $out/"
ls -1 "$out"
