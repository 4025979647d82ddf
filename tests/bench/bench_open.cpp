// paramscope-bench: timings that docs/benchmarks.md records.
//   paramscope-bench open PATH [--repeat N]   open a checkpoint (headers only) and build its tree
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "paramscope/checkpoint.h"
#include "paramscope/error.h"

namespace {

long status_kb(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) return std::stol(line.substr(std::strlen(key)));
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3 || std::strcmp(argv[1], "open") != 0) {
    std::fprintf(stderr, "usage: paramscope-bench open PATH [--repeat N]\n");
    return 2;
  }
  int repeat = 5;
  if (argc >= 5 && std::strcmp(argv[3], "--repeat") == 0) repeat = std::max(1, std::atoi(argv[4]));
  try {
    std::vector<double> times;
    std::size_t tensors = 0, blocks = 0;
    std::uint64_t params = 0;
    for (int i = 0; i < repeat; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      const paramscope::Checkpoint c = paramscope::open_checkpoint(argv[2]);
      tensors = c.tensors().size();
      blocks = c.hierarchy().blocks().size();
      params = c.parameter_count();
      times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(times.begin(), times.end());
    std::printf(
        "{\"open_seconds_min\": %.6f, \"open_seconds_median\": %.6f, \"tensors\": %zu, \"blocks\": %zu, "
        "\"parameters\": %llu, \"rss_file_kb\": %ld, \"peak_rss_kb\": %ld}\n",
        times.front(), times[times.size() / 2], tensors, blocks, static_cast<unsigned long long>(params),
        status_kb("RssFile:"), status_kb("VmHWM:"));
  } catch (const paramscope::Error& e) {
    std::fprintf(stderr, "paramscope-bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
