// paramscope-cli jobs FILE.yaml|FILE.json: runs several importance / mask / compare-criteria /
// inspect commands in one go, opening each checkpoint once.
//
//   defaults:                 # merged into every job (optional)
//     checkpoint: ../models/llama
//   jobs:
//     - command: importance
//       criterion: magnitude
//       granularity: row
//       output: maps/magnitude-rows.h5
//     - command: mask
//       criterion: wanda
//       stats: stats.safetensors
//       top: 10%
//       scope: row
//       output: masks/wanda-10.safetensors
//
// Keys are the subcommand's long options (without "--"); lists repeat an option; true/false
// switch flags. Paths are relative to the job file's folder.
#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <filesystem>
#include <set>

#include "commands.h"
#include "paramscope/error.h"

namespace paramscope::cli {
namespace fs = std::filesystem;
namespace {

const std::set<std::string> kPathKeys = {"checkpoint", "base",    "stats", "contrast-stats", "a-stats", "b-stats",
                                         "output",     "summary", "path"};

std::string key_of(std::string k) {
  for (char& c : k)
    if (c == '_') c = '-';
  return k;
}

std::vector<std::string> job_arguments(const YAML::Node& job, const YAML::Node& defaults, const fs::path& dir,
                                       const std::string& where) {
  YAML::Node merged(YAML::NodeType::Map);
  if (defaults && defaults.IsMap())
    for (const auto& kv : defaults) merged[kv.first.as<std::string>()] = kv.second;
  if (!job.IsMap()) throw usage_error(where + ": a job is a mapping of option names to values");
  for (const auto& kv : job) merged[kv.first.as<std::string>()] = kv.second;
  if (!merged["command"])
    throw usage_error(where + ": missing 'command' (importance, mask, compare-criteria, inspect)");
  const std::string command = merged["command"].as<std::string>();
  if (command == "jobs") throw usage_error(where + ": a job file cannot run job files");
  std::vector<std::string> args = {"paramscope-cli", command};
  auto value = [&](const std::string& key, const YAML::Node& v) {
    if (!v.IsScalar()) throw usage_error(where + ": option '" + key + "' must be a value or a list of values");
    std::string s = v.as<std::string>();
    if (kPathKeys.count(key) && !s.empty() && fs::path(s).is_relative()) s = (dir / s).lexically_normal().string();
    return s;
  };
  if (merged["checkpoint"]) args.push_back(value("checkpoint", merged["checkpoint"]));
  for (const auto& kv : merged) {
    const std::string key = key_of(kv.first.as<std::string>());
    if (key == "command" || key == "checkpoint") continue;
    const YAML::Node& v = kv.second;
    if (v.IsSequence()) {
      for (const auto& item : v) {
        args.push_back("--" + key);
        args.push_back(value(key, item));
      }
    } else if (v.IsScalar() && (v.as<std::string>() == "true" || v.as<std::string>() == "false")) {
      if (v.as<std::string>() == "true") args.push_back("--" + key);
    } else {
      args.push_back("--" + key);
      args.push_back(value(key, v));
    }
  }
  return args;
}

void run_jobs(const std::string& file, bool keep_going, Context& ctx) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(file);
  } catch (const YAML::BadFile&) {
    throw io_error(file, "cannot read the job file");
  } catch (const YAML::Exception& e) {
    throw bad_input(file, std::string("not valid YAML or JSON: ") + e.what());
  }
  const YAML::Node jobs = root.IsSequence() ? root : root["jobs"];
  if (!jobs || !jobs.IsSequence()) throw bad_input(file, "expected a list of jobs (or a mapping with 'jobs:')");
  const fs::path dir = fs::path(file).parent_path();
  int failed = 0;
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    const std::string where = file + ": job " + std::to_string(i + 1);
    try {
      const auto args = job_arguments(jobs[i], root.IsMap() ? root["defaults"] : YAML::Node(), dir, where);
      std::fprintf(stderr, "[%zu/%zu] %s\n", i + 1, jobs.size(), args[1].c_str());
      CLI::App app{"paramscope-cli", "paramscope-cli"};
      app.require_subcommand(1);
      add_all_commands(app, ctx);
      std::vector<const char*> argv;
      for (const auto& a : args) argv.push_back(a.c_str());
      try {
        app.parse(static_cast<int>(argv.size()), argv.data());
      } catch (const CLI::ParseError& e) {
        throw usage_error(where + " (" + args[1] + "): " + e.what());
      }
    } catch (const Error& e) {
      if (e.kind() == Error::Kind::Cancelled) throw;
      // Say which job failed, once.
      const std::string what = e.what();
      const Error named(e.kind(), what.rfind(where, 0) == 0 ? what : where + ": " + what);
      if (!keep_going) throw named;
      std::fprintf(stderr, "paramscope-cli: %s\n", named.what());
      ++failed;
    }
  }
  if (failed) ctx.exit_code = kBadInput;
}

}  // namespace

void add_jobs_command(CLI::App& app, Context& ctx) {
  auto file = std::make_shared<std::string>();
  auto keep_going = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand("jobs",
                                 "Run a job file (YAML or JSON) of importance, mask, compare-criteria and "
                                 "inspect commands, opening each checkpoint once.");
  cmd->add_option("file", *file, "Job file")->required();
  cmd->add_flag("--keep-going", *keep_going, "Run the remaining jobs after one fails (exit code 1 at the end)");
  cmd->callback([file, keep_going, &ctx] { run_jobs(*file, *keep_going, ctx); });
}

}  // namespace paramscope::cli
