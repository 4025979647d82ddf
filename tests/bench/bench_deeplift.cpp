// DeepLIFT (Rescale, zero baseline) against the same computation in torch
// (tests/bench/torch_deeplift.py): attributions of the top class's logit to the input, for a
// batch of B inputs (the engine benchmark's hashed array), timed R times.
//
//   paramscope-bench-deeplift MODEL.onnx [--batch B] [--repeat R] [--save MAP.f32]
//
// Prints JSON: the median and minimum wall time (ms) of one xai::deeplift call, the classes
// explained, the map's sum and sum of |map|, and the largest |summation-to-delta| error. --save
// writes the map as raw little-endian float32 (batch first) for run_benchmarks.py to compare.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "hashed_input.h"
#include "paramscope/attribution.h"
#include "paramscope/engine.h"
#include "paramscope/error.h"

using namespace paramscope;
using bench::hashed;

int main(int argc, char** argv) try {
  if (argc < 2) {
    std::fprintf(stderr, "usage: paramscope-bench-deeplift MODEL.onnx [--batch B] [--repeat R] [--save MAP.f32]\n");
    return 2;
  }
  std::int64_t batch = 1;
  int repeat = 5;
  std::string save;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const char* v = argv[i + 1];
    if (k == "--batch")
      batch = std::atoll(v);
    else if (k == "--repeat")
      repeat = std::atoi(v);
    else if (k == "--save")
      save = v;
    else
      throw usage_error("unknown option " + k);
  }
  const engine::Model model = engine::Model::load(argv[1]);
  std::vector<std::int64_t> shape = model.inputs().at(0).shape;
  shape[0] = batch;
  const Array x = hashed(shape, 0);
  const Array x0 = xai::make_baseline(x, {});  // zeros
  std::vector<double> ms;
  xai::Attribution a;
  for (int r = 0; r < repeat; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    a = xai::deeplift(model, x, x0, xai::Target{});
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  double sum = 0, abs_sum = 0, worst_delta = 0;
  for (std::int64_t i = 0; i < a.map.size(); ++i) {
    sum += a.map.data<float>()[i];
    abs_sum += std::fabs(a.map.data<float>()[i]);
  }
  for (double d : a.delta) worst_delta = std::max(worst_delta, std::fabs(d));
  if (!save.empty()) {
    std::ofstream f(save, std::ios::binary);
    f.write(reinterpret_cast<const char*>(a.map.data<float>()),
            static_cast<std::streamsize>(a.map.size() * static_cast<std::int64_t>(sizeof(float))));
    if (!f) throw std::runtime_error("cannot write " + save);
  }
  std::string classes;
  for (const auto c : a.classes) classes += (classes.empty() ? "" : ", ") + std::to_string(c);
  std::printf(
      "{\"batch\": %lld, \"ms\": {\"median\": %.3f, \"min\": %.3f}, \"classes\": [%s], \"map_sum\": %.8g, "
      "\"map_abs_sum\": %.8g, \"max_abs_delta\": %.3g}\n",
      static_cast<long long>(batch), ms[ms.size() / 2], ms[0], classes.c_str(), sum, abs_sum, worst_delta);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "paramscope-bench-deeplift: %s\n", e.what());
  return 1;
}
