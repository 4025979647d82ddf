#!/bin/sh
# Installs, with apt-get, what ParamScope needs on Debian 12 and is not there yet.
#   install-deps.sh           build + run dependencies
#   install-deps.sh --test    also what the test suite needs (Xvfb, Python/numpy for cross-checks,
#                             ONNX's backend conformance data)
#   install-deps.sh --dev     also what regenerates fixtures and runs benchmarks (torch, h5py, onnx)
set -eu

build="cmake ninja-build g++ pkg-config file dpkg-dev
  qt6-base-dev libqt6opengl6-dev qt6-svg-dev libgl-dev libegl-dev libx11-dev
  libvtk9-dev libhdf5-dev libtbb-dev libeigen3-dev
  libonnx-dev libprotobuf-dev protobuf-compiler
  nlohmann-json3-dev libcli11-dev libfmt-dev libyaml-cpp-dev zlib1g-dev
  libopenblas-dev liblapacke-dev libpng-dev libjpeg-dev"
# Figures render headless through Mesa's EGL surfaceless platform (no X server needed):
# libegl1 (the GLVND loader), libegl-mesa0 (Mesa's EGL), libgl1-mesa-dri (llvmpipe).
run="xvfb xauth libgl1-mesa-dri libegl1 libegl-mesa0"
test="python3 python3-numpy libonnx-testdata"
dev="python3-torch python3-sklearn python3-h5py python3-onnx python3-pil clang libclang-rt-14-dev"

want="$build $run"
for arg in "$@"; do
  case "$arg" in
    --test) want="$want $test" ;;
    --dev) want="$want $test $dev" ;;
    *) echo "install-deps.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

missing=""
for p in $want; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=""; fi
echo "install-deps.sh: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
