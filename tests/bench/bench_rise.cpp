// RISE against the same computation in torch (tests/bench/torch_rise.py): N masks made batch by
// batch, the masked copies of one input run through the model, the softmax probability of the
// top class weighing each mask. The input is the engine benchmark's hashed array.
//
//   paramscope-bench-rise MODEL.onnx [--masks N] [--cells S] [--p P] [--batch B] [--repeat R]
//
// Prints JSON: the median and minimum wall time (ms), the class explained, its probability and
// the map's sum (the torch side's masks differ, so sums agree only statistically).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
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
    std::fprintf(stderr,
                 "usage: paramscope-bench-rise MODEL.onnx [--masks N] [--cells S] [--p P] [--batch B] "
                 "[--repeat R]\n");
    return 2;
  }
  xai::RiseOptions o;
  int repeat = 1;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const char* v = argv[i + 1];
    if (k == "--masks")
      o.masks = std::atoll(v);
    else if (k == "--cells")
      o.cells = std::atoll(v);
    else if (k == "--p")
      o.p = std::atof(v);
    else if (k == "--batch")
      o.batch = std::atoll(v);
    else if (k == "--repeat")
      repeat = std::atoi(v);
    else
      throw usage_error("unknown option " + k);
  }
  const engine::Model model = engine::Model::load(argv[1]);
  std::vector<std::int64_t> shape = model.inputs().at(0).shape;
  shape[0] = 1;
  const Array x = hashed(shape, 0);
  xai::Target t;
  t.softmax = true;
  std::vector<double> ms;
  xai::Attribution a;
  for (int r = 0; r < repeat; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    a = xai::rise(model, x, t, o);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  double sum = 0;
  for (std::int64_t i = 0; i < a.map.size(); ++i) sum += a.map.data<float>()[i];
  std::printf(
      "{\"masks\": %lld, \"cells\": %lld, \"batch\": %lld, \"ms\": {\"median\": %.1f, \"min\": %.1f}, "
      "\"class\": %lld, \"score\": %.6f, \"map_sum\": %.6g}\n",
      static_cast<long long>(o.masks), static_cast<long long>(o.cells), static_cast<long long>(o.batch),
      ms[ms.size() / 2], ms[0], static_cast<long long>(a.classes[0]), a.score[0], sum);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "paramscope-bench-rise: %s\n", e.what());
  return 1;
}
