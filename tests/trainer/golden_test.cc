// Golden runs: `ponder train` on configs/tiny.yaml and configs/learn_{grpo,ppo,kimi}.yaml with
// every algorithm preset, and `ponder sft` on configs/learn_sft.yaml, seeded and on one thread,
// must give exactly the metrics (and sample files) recorded in tests/data/trainer/golden/.
// Refactoring the controller, the learner or the algorithms must not change a single number;
// a change that is meant to alter them re-records the files (see the README there) and says
// why in its commit.
//
// The learn_* runs start from the recorded SFT model (tests/data/trainer/golden/warm_start/),
// not from a fresh `ponder sft`, so that each run's numbers depend on the RL code only.
//
//   PONDER_UPDATE_GOLDEN=1 build/tests/trainer/trainer_golden_tests   # re-record
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tests/testing.h"

namespace ponder::trainer {
namespace {

namespace fs = std::filesystem;
namespace pt = ponder::testing;
using nlohmann::json;

const char* const kPresets[] = {"grpo", "dr_grpo", "dapo",         "ppo", "vapo",
                                "kimi", "rloo",    "reinforce_pp", "gspo"};

struct GoldenCase {
  std::string name;     // the golden file's stem
  std::string command;  // "train" or "sft"
  std::string config;   // under configs/
  std::string overrides;
};

// Short runs: two steps, one thread (the run's seed is the config's).
std::vector<GoldenCase> Cases() {
  std::vector<GoldenCase> cases;
  cases.push_back({"learn_sft", "sft", "learn_sft.yaml", "run.threads=1"});
  const std::string warm_start = pt::SourcePath("tests/data/trainer/golden/warm_start");
  for (const char* preset : kPresets) {
    // The tiny model starts from scratch and scores nothing, so DAPO's dynamic sampling finds
    // no group with a signal: it stops after two rounds and trains on what it kept (nothing).
    const std::string dapo_cap = std::string(preset) == "dapo"
                                     ? " algorithm.filter_groups.max_num_gen_batches=2"
                                       " algorithm.filter_groups.allow_partial_batch=true"
                                     : "";
    cases.push_back(
        {absl::StrCat("tiny-", preset), "train", "tiny.yaml",
         absl::StrCat("run.threads=1 trainer.steps=2 algorithm.name=", preset, dapo_cap)});
    for (const char* config : {"learn_grpo", "learn_ppo", "learn_kimi"}) {
      cases.push_back(
          {absl::StrCat(config, "-", preset), "train", absl::StrCat(config, ".yaml"),
           absl::StrCat("run.threads=1 trainer.steps=2 data.train_batch_size=16 model.path=",
                        warm_start, " algorithm.name=", preset)});
    }
  }
  return cases;
}

// FNV-1a, 64 bits: a stable fingerprint of a file's bytes.
std::string Fingerprint(const std::string& bytes) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return absl::StrFormat("%016x", h);
}

// What a run is compared by: its metrics.jsonl lines without the clock (wall_time, timing/*,
// perf/*), then a fingerprint of each samples file.
std::string Record(const std::string& run_dir) {
  std::string out;
  std::ifstream in(run_dir + "/metrics.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    json record = json::parse(line);
    record.erase("wall_time");
    json metrics = json::object();
    for (const auto& [name, value] : record.at("metrics").items()) {
      if (absl::StartsWith(name, "timing/") || absl::StartsWith(name, "perf/")) continue;
      metrics[name] = value;
    }
    record["metrics"] = metrics;
    absl::StrAppend(&out, record.dump(), "\n");
  }
  std::vector<fs::path> samples;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(fs::path(run_dir) / "samples", ec)) {
    samples.push_back(entry.path());
  }
  std::sort(samples.begin(), samples.end());
  for (const fs::path& path : samples) {
    const std::string bytes = pt::ReadFile(path.string());
    absl::StrAppend(&out,
                    json{{"samples", path.filename().string()},
                         {"bytes", bytes.size()},
                         {"fnv1a64", Fingerprint(bytes)}}
                        .dump(),
                    "\n");
  }
  return out;
}

void PrintTo(const GoldenCase& c, std::ostream* os) {
  *os << "ponder " << c.command << " --config configs/" << c.config << " " << c.overrides;
}

class GoldenTest : public ::testing::TestWithParam<GoldenCase> {
 protected:
  void SetUp() override {
    std::string pattern = "/tmp/ponder_golden_test_XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  std::string root_;
};

TEST_P(GoldenTest, SameMetricsAsRecorded) {
  const GoldenCase& c = GetParam();
  const std::string run_dir = root_ + "/run";
  pt::CommandResult r = pt::RunCommand(
      absl::StrCat(pt::BinaryPath("cli/ponder"), " ", c.command, " --config ",
                   pt::SourcePath("configs/" + c.config), " run.dir=", run_dir, " ", c.overrides));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string got = Record(run_dir);
  const std::string golden =
      pt::SourcePath(absl::StrCat("tests/data/trainer/golden/", c.name, ".jsonl"));
  const char* update = std::getenv("PONDER_UPDATE_GOLDEN");
  if (update != nullptr && std::string(update) == "1") {
    std::ofstream(golden, std::ios::trunc) << got;
    GTEST_SKIP() << "recorded " << golden;
  }
  ASSERT_TRUE(fs::exists(golden)) << golden << " is missing (PONDER_UPDATE_GOLDEN=1 records it)";
  const std::string want = pt::ReadFile(golden);
  // Line by line, so that a failure names the step and the metric that moved.
  std::istringstream got_lines(got), want_lines(want);
  std::string got_line, want_line;
  int line = 0;
  while (std::getline(want_lines, want_line)) {
    ++line;
    ASSERT_TRUE(std::getline(got_lines, got_line)) << c.name << ": line " << line << " missing";
    const json g = json::parse(got_line), w = json::parse(want_line);
    if (w.contains("metrics")) {
      ASSERT_EQ(g.value("step", -1), w.at("step").get<int64_t>()) << c.name << ": line " << line;
      for (const auto& [name, value] : w.at("metrics").items()) {
        EXPECT_EQ(g["metrics"].value(name, json()), value)
            << c.name << ": step " << w["step"] << ": " << name;
      }
      for (const auto& [name, value] : g.at("metrics").items()) {
        EXPECT_TRUE(w["metrics"].contains(name))
            << c.name << ": step " << w["step"] << ": new metric " << name;
      }
    } else {
      EXPECT_EQ(g, w) << c.name << ": sample file differs";
    }
  }
  EXPECT_FALSE(std::getline(got_lines, got_line)) << c.name << ": extra line " << got_line;
}

INSTANTIATE_TEST_SUITE_P(Runs, GoldenTest, ::testing::ValuesIn(Cases()),
                         [](const ::testing::TestParamInfo<GoldenCase>& info) {
                           std::string name = info.param.name;
                           for (char& ch : name) {
                             if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace ponder::trainer
