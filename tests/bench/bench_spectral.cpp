// paramscope-bench-spectral: timings of the spectral metrics that docs/benchmarks.md records.
//   paramscope-bench-spectral svd [--rows R] [--cols C] [--repeat N] [--float64] [--no-numpy]
//       singular values of one R x C float32 Gaussian matrix (default 4096 x 4096), against
//       numpy.linalg.svd(compute_uv=False) on the same matrix in the same run (numpy_svd.py);
//       --float64 also runs numpy's float64 SVD as the accuracy reference. Then the whole
//       spectral_metrics() of the matrix stored as a safetensors file, and the power-law fit alone.
//   paramscope-bench-spectral batch [--count K] [--rows R] [--cols C]
//       K small matrices (default 32 of 768 x 768): one after another, then spread over the pool.
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "paramscope/checkpoint.h"
#include "paramscope/error.h"
#include "paramscope/jobs.h"
#include "paramscope/spectral.h"
#include "paramscope/writers.h"

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

struct Args {
  std::string mode;
  std::int64_t rows = 4096, cols = 4096;
  int repeat = 2, count = 32;
  bool float64 = false, numpy = true;
};

std::vector<float> gaussian(std::int64_t rows, std::int64_t cols, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d;
  std::vector<float> v(static_cast<std::size_t>(rows * cols));
  for (float& x : v) x = d(rng);
  return v;
}

std::string run_capture(const std::string& cmd) {
  std::FILE* p = popen(cmd.c_str(), "r");
  if (!p) throw paramscope::usage_error("cannot run " + cmd);
  std::string out;
  char buf[65536];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  if (pclose(p) != 0) throw paramscope::usage_error(cmd + " failed");
  return out;
}

// Largest |a_i - b_i| relative to the largest value.
double max_rel_error(const std::vector<double>& a, const std::vector<double>& b) {
  double e = 0;
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) e = std::max(e, std::fabs(a[i] - b[i]));
  return e / b.front();
}

int svd(const Args& a) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("paramscope-bench-spectral-" + std::to_string(getpid()));
  fs::create_directories(dir);
  const std::vector<float> w = gaussian(a.rows, a.cols, 1);
  nlohmann::json out = {{"rows", a.rows}, {"cols", a.cols}};

  nlohmann::json np;
  if (a.numpy) {
    paramscope::write_npy(dir / "matrix.npy",
                          paramscope::TensorToWrite::from_floats("w", paramscope::DType::F32, {a.rows, a.cols}, w));
    np = nlohmann::json::parse(run_capture("/usr/bin/python3 " PARAMSCOPE_BENCH_DIR "/numpy_svd.py " +
                                           (dir / "matrix.npy").string() + " --repeat " + std::to_string(a.repeat) +
                                           (a.float64 ? " --float64" : "")));
    out["numpy_seconds"] = np["seconds"];
    out["numpy_all_seconds"] = np["all_seconds"];
    out["numpy_blas"] = np["blas"];
    if (a.float64) out["numpy_float64_seconds"] = np["seconds_float64"];
  }

  std::vector<double> times, s;
  for (int i = 0; i < a.repeat; ++i) {
    const auto t0 = Clock::now();
    s = paramscope::singular_values(w, a.rows, a.cols);
    times.push_back(since(t0));
  }
  out["paramscope_seconds"] = *std::min_element(times.begin(), times.end());
  out["paramscope_all_seconds"] = times;
  if (a.numpy) {
    out["speedup_vs_numpy"] = np["seconds"].get<double>() / out["paramscope_seconds"].get<double>();
    const auto n32 = np["singular_values"].get<std::vector<double>>();
    out["max_rel_diff_vs_numpy_float32"] = max_rel_error(s, n32);
    if (a.float64) {
      const auto n64 = np["singular_values_float64"].get<std::vector<double>>();
      out["max_rel_error_vs_numpy_float64"] = max_rel_error(s, n64);
      out["numpy_float32_max_rel_error_vs_float64"] = max_rel_error(n32, n64);
      out["smallest_sigma"] = {{"paramscope", s.back()}, {"numpy_float32", n32.back()}, {"numpy_float64", n64.back()}};
    }
  }

  // The whole criterion path: a bf16 file read through the reader, all metrics and the fit.
  paramscope::write_safetensors(dir / "w.safetensors", {paramscope::TensorToWrite::from_floats(
                                                           "w", paramscope::DType::BF16, {a.rows, a.cols}, w)});
  const paramscope::Checkpoint ck = paramscope::open_checkpoint(dir / "w.safetensors");
  auto t0 = Clock::now();
  const paramscope::SpectralMetrics m = paramscope::spectral_metrics(ck.tensors()[0]);
  out["spectral_metrics_bf16_seconds"] = since(t0);
  std::vector<double> eigen(m.singular_values.size());
  for (std::size_t i = 0; i < eigen.size(); ++i) eigen[i] = m.singular_values[i] * m.singular_values[i];
  paramscope::SpectralMetrics fit;
  t0 = Clock::now();
  paramscope::fit_power_law(eigen, fit);
  out["fit_seconds"] = since(t0);
  out["alpha"] = m.alpha;
  out["stable_rank"] = m.stable_rank;
  out["effective_rank"] = m.effective_rank;
  fs::remove_all(dir);

  std::printf("%s\n", out.dump().c_str());
  if (a.numpy)
    std::fprintf(stderr, "%lld x %lld: paramscope %.2f s, numpy %.2f s (%.1fx)\n", static_cast<long long>(a.rows),
                 static_cast<long long>(a.cols), out["paramscope_seconds"].get<double>(), np["seconds"].get<double>(),
                 out["speedup_vs_numpy"].get<double>());
  return 0;
}

int batch(const Args& a) {
  std::vector<std::vector<float>> mats;
  for (int i = 0; i < a.count; ++i) mats.push_back(gaussian(a.rows, a.cols, 100 + static_cast<unsigned>(i)));
  std::vector<double> first(mats.size());
  auto t0 = Clock::now();
  for (std::size_t i = 0; i < mats.size(); ++i) first[i] = paramscope::singular_values(mats[i], a.rows, a.cols)[0];
  const double serial = since(t0);
  paramscope::ThreadPool& pool = paramscope::ThreadPool::global();
  std::vector<double> again(mats.size());
  t0 = Clock::now();
  pool.parallel_for(mats.size(), 1, [&](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i) again[i] = paramscope::singular_values(mats[i], a.rows, a.cols)[0];
  });
  const double parallel = since(t0);
  const nlohmann::json out = {{"count", a.count},
                              {"rows", a.rows},
                              {"cols", a.cols},
                              {"pool_threads", pool.threads()},
                              {"serial_seconds", serial},
                              {"pool_seconds", parallel},
                              {"speedup", serial / parallel},
                              {"same_results", first == again}};
  std::printf("%s\n", out.dump().c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  if (argc >= 2) a.mode = argv[1];
  if (a.mode == "batch") a.rows = a.cols = 768;
  for (int i = 2; i < argc; ++i) {
    const std::string k = argv[i];
    const bool has_value = i + 1 < argc;
    if (k == "--rows" && has_value)
      a.rows = std::atoll(argv[++i]);
    else if (k == "--cols" && has_value)
      a.cols = std::atoll(argv[++i]);
    else if (k == "--repeat" && has_value)
      a.repeat = std::max(1, std::atoi(argv[++i]));
    else if (k == "--count" && has_value)
      a.count = std::max(1, std::atoi(argv[++i]));
    else if (k == "--float64")
      a.float64 = true;
    else if (k == "--no-numpy")
      a.numpy = false;
    else
      a.mode = "?";
  }
  if ((a.mode != "svd" && a.mode != "batch") || a.rows <= 0 || a.cols <= 0) {
    std::fprintf(stderr,
                 "usage: paramscope-bench-spectral svd [--rows R] [--cols C] [--repeat N] [--float64] [--no-numpy]\n"
                 "       paramscope-bench-spectral batch [--count K] [--rows R] [--cols C]\n");
    return 2;
  }
  try {
    return a.mode == "svd" ? svd(a) : batch(a);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "paramscope-bench-spectral: %s\n", e.what());
    return 1;
  }
}
