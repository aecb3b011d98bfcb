// `ponder train`, `ponder sft` and `ponder eval` end to end on the built-in arithmetic task with
// a tiny model (configs/tiny.yaml): the run directory, exact resume after SIGKILL, damaged
// checkpoints, bad inputs, and the same run in process and over gRPC.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "tests/testing.h"
#include "tests/trainer/train_testing.h"

extern char** environ;

namespace ponder::trainer {
namespace {

namespace fs = std::filesystem;
namespace pt = ponder::testing;
using nlohmann::json;
using pt::DeterministicMetrics;
using pt::Ponder;
using pt::ReadJsonLines;
using pt::TinyConfig;
using pt::TrainArgs;
using ::testing::HasSubstr;

class TrainTest : public pt::TrainRunTest {};

// ---- The run directory -------------------------------------------------------------------

TEST_F(TrainTest, TinyConfigWritesTheRunDirectory) {
  pt::CommandResult r = Train("run", "");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // One progress line per step: reward, accuracy, length, step time, ETA.
  EXPECT_THAT(r.err, ::testing::ContainsRegex(
                         "step 4/4 \\| reward [0-9.]+ \\| acc [0-9.]+ \\| len [0-9.]+ \\| "
                         "[0-9.]+ s/step \\| ETA [0-9:]+"));
  const std::string dir = Path("run");
  EXPECT_THAT(pt::ReadFile(dir + "/config.yaml"), HasSubstr("name: grpo"));

  std::map<int64_t, json> metrics = DeterministicMetrics(dir);
  ASSERT_EQ(metrics.size(), 4u);
  for (int64_t step = 1; step <= 4; ++step) {
    const json& m = metrics.at(step);
    for (const char* name :
         {"reward/score/mean", "reward/accuracy", "actor/pg_loss", "actor/entropy",
          "actor/grad_norm", "actor/lr", "rollout/response_len/mean", "rollout/truncation_rate",
          "rollout/logp_mismatch/mean", "train/batch_samples"}) {
      EXPECT_TRUE(m.contains(name)) << name << " missing at step " << step;
    }
    EXPECT_EQ(m.contains("val/arithmetic/pass@4"), step % 2 == 0) << step;  // eval.every 2
  }
  // A behaviour log-prob from the rollout and the trainer's recomputation of it agree.
  EXPECT_LT(metrics.at(1)["rollout/logp_mismatch/mean"].get<double>(), 1e-4);

  for (int step = 1; step <= 4; ++step) {
    std::vector<json> samples = ReadJsonLines(absl::StrCat(dir, "/samples/step_", step, ".jsonl"));
    ASSERT_EQ(samples.size(), 32u) << step;  // 8 prompts x 4 samples
    for (const char* field : {"prompt", "response", "components", "score", "advantage",
                              "finish_reason", "details", "weight_version", "ground_truth"}) {
      EXPECT_TRUE(samples[0].contains(field)) << field;
    }
  }
  std::vector<json> eval = ReadJsonLines(dir + "/samples/eval_step_4.jsonl");
  EXPECT_EQ(eval.size(), 32u * 5);  // 32 held-out prompts: 4 samples and a greedy answer each

  // checkpoint.every 2, keep 2: step_2 and step_4, complete.
  for (const char* step : {"step_2", "step_4"}) {
    const fs::path c = fs::path(dir) / "checkpoints" / step;
    for (const char* file :
         {"policy/config.json", "policy/model.safetensors", "policy/tokenizer_chars.txt",
          "optimizer.pt", "rng.pt", "state.json", "manifest.json"}) {
      EXPECT_TRUE(fs::exists(c / file)) << (c / file);
    }
  }
  EXPECT_FALSE(fs::exists(fs::path(dir) / "checkpoints" / "step_4.tmp"));
}

// ---- Resume ------------------------------------------------------------------------------

// One thread; steps slow enough (~0.1 s) that a watcher sees step_3 before step_6.
constexpr char kResumeOverrides[] =
    "run.threads=1 trainer.steps=6 checkpoint.every=3 checkpoint.keep=0 eval.every=3 "
    "rollout.n=8 data.train_batch_size=16";

pid_t Spawn(const std::vector<std::string>& args, const std::string& stderr_path) {
  std::vector<std::string> copy = args;
  std::vector<char*> argv;
  for (std::string& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  pid_t pid = -1;
  if (posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

TEST_F(TrainTest, ResumeAfterSigkillIsExact) {
  pt::CommandResult whole = Train("whole", kResumeOverrides);
  ASSERT_EQ(whole.exit_code, 0) << whole.err;

  const std::string cut = Path("cut");
  pid_t pid = Spawn(TrainArgs(cut, kResumeOverrides), Path("cut.err"));
  ASSERT_GT(pid, 0);
  const fs::path step3 = fs::path(cut) / "checkpoints" / "step_3";
  bool killed = false;
  for (int i = 0; i < 60000 && !killed; ++i) {  // up to 5 minutes on a busy machine
    int status;
    if (waitpid(pid, &status, WNOHANG) == pid) break;  // ended on its own: checked below
    if (fs::exists(step3)) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      killed = true;
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  ASSERT_TRUE(killed) << "the run ended before it could be killed after step 3:\n"
                      << pt::ReadFile(Path("cut.err"));
  ASSERT_FALSE(fs::exists(fs::path(cut) / "checkpoints" / "step_6"))
      << "killed too late to test anything";

  pt::CommandResult resumed = pt::RunCommand(absl::StrCat(Ponder(), " train --resume ", cut));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_THAT(resumed.err, HasSubstr("resuming from"));
  EXPECT_THAT(resumed.err, HasSubstr("step_3"));

  const std::string weights = "/checkpoints/step_6/policy/model.safetensors";
  const std::string a = pt::ReadFile(Path("whole") + weights);
  const std::string b = pt::ReadFile(cut + weights);
  ASSERT_FALSE(a.empty());
  EXPECT_TRUE(a == b) << "final weights differ after resume";

  std::map<int64_t, json> want = DeterministicMetrics(Path("whole"));
  std::map<int64_t, json> got = DeterministicMetrics(cut);
  ASSERT_EQ(got.size(), 6u) << "each step once in metrics.jsonl";
  for (int64_t step = 4; step <= 6; ++step) {
    EXPECT_EQ(got.at(step), want.at(step)) << "step " << step;
  }
  for (int step = 4; step <= 6; ++step) {
    const std::string samples = absl::StrCat("/samples/step_", step, ".jsonl");
    EXPECT_EQ(pt::ReadFile(cut + samples), pt::ReadFile(Path("whole") + samples)) << samples;
  }
}

TEST_F(TrainTest, DamagedNewestCheckpointIsSkippedWithAWarning) {
  ASSERT_EQ(Train("run", "checkpoint.every=1 checkpoint.keep=0 trainer.steps=3").exit_code, 0);
  const fs::path weights =
      fs::path(Path("run")) / "checkpoints" / "step_3" / "policy" / "model.safetensors";
  fs::resize_file(weights, fs::file_size(weights) / 2);  // cut short on disk
  pt::CommandResult r =
      pt::RunCommand(absl::StrCat(Ponder(), " train --resume ", Path("run"), " trainer.steps=4"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("step_3"));
  EXPECT_THAT(r.err, HasSubstr("model.safetensors"));
  EXPECT_THAT(r.err, HasSubstr("resuming from"));
  EXPECT_THAT(r.err, HasSubstr("step_2"));
  EXPECT_THAT(r.err, HasSubstr("step 3/4"));  // step 3 is trained again
  EXPECT_TRUE(fs::exists(fs::path(Path("run")) / "checkpoints" / "step_4" / "manifest.json"));

  // With nothing valid left, resuming says so.
  for (const auto& step : fs::directory_iterator(fs::path(Path("run")) / "checkpoints")) {
    fs::remove(step.path() / "manifest.json");
  }
  r = pt::RunCommand(absl::StrCat(Ponder(), " train --resume ", Path("run")));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("cannot resume '" + Path("run") + "'"));
}

TEST_F(TrainTest, SigtermCheckpointsAndResumeFinishes) {
  const std::string dir = Path("run");
  pid_t pid = Spawn(TrainArgs(dir, "trainer.steps=100000 checkpoint.every=0"), Path("run.err"));
  ASSERT_GT(pid, 0);
  for (int i = 0; i < 60000 && !fs::exists(dir + "/samples/step_2.jsonl"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  const std::string err = pt::ReadFile(Path("run.err"));
  ASSERT_TRUE(WIFEXITED(status)) << err;
  EXPECT_EQ(WEXITSTATUS(status), 130) << err;
  EXPECT_THAT(err, HasSubstr("resume with: ponder train --resume " + dir));
  std::vector<int64_t> steps;
  for (const auto& e : fs::directory_iterator(dir + "/checkpoints")) {
    steps.push_back(std::stoll(e.path().filename().string().substr(5)));
  }
  ASSERT_EQ(steps.size(), 1u);
  EXPECT_GE(steps[0], 2);
  pt::CommandResult r = pt::RunCommand(
      absl::StrCat(Ponder(), " train --resume ", dir, " trainer.steps=", steps[0] + 1));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr(absl::StrCat("step ", steps[0] + 1, "/", steps[0] + 1)));
}

// ---- Bad inputs --------------------------------------------------------------------------

// A job on JSONL prompts in the tiny model's alphabet, scored by `verifier`.
std::string JsonlJob(const std::string& train_file, const std::string& verifier) {
  return absl::StrCat(R"(run: {name: jsonl, seed: 1}
model:
  tokenizer: "chars:0123456789+-*()=,>:\n"
  init: {hidden_size: 32, intermediate_size: 64, num_layers: 1, num_heads: 2, num_kv_heads: 1,
         max_position_embeddings: 32}
data:
  train_files: [)",
                      train_file, R"(]
  train_batch_size: 2
rollout:
  n: 2
  max_seq_len: 32
  sampling: {max_new_tokens: 6}
reward:
  verifiers: [{name: )",
                      verifier, R"(}]
algorithm: {name: grpo}
trainer: {steps: 2}
eval: {every: 0, at_end: false}
)");
}

TEST_F(TrainTest, ALineThatIsNotJsonIsNamedOrSkippedAndCounted) {
  Write("train.jsonl",
        "{\"prompt\": \"1+2=\", \"reward_model\": {\"ground_truth\": \"3\"}}\n"
        "{\"prompt\": \"2+2=\", \"reward_model\n"
        "{\"prompt\": \"3+4=\", \"reward_model\": {\"ground_truth\": \"7\"}}\n");
  Write("job.yaml", JsonlJob(Path("train.jsonl"), "exact_match"));
  pt::CommandResult r = Train("run", "", Path("job.yaml"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr(Path("train.jsonl") + ":2: "));

  r = Train("run", "data.on_bad_line=skip", Path("job.yaml"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("skipped 1 bad lines"));
  EXPECT_EQ(DeterministicMetrics(Path("run")).at(1)["data/skipped_lines"], 1.0);
}

TEST_F(TrainTest, APromptLongerThanTheContextIsNamedOrSkippedAndCounted) {
  Write("train.jsonl",
        "{\"prompt\": \"1+2=\", \"reward_model\": {\"ground_truth\": \"3\"}}\n"
        "{\"prompt\": \"1+1+1+1+1+1+1+1+1+1+1+1+1+1=\", \"reward_model\": {\"ground_truth\": "
        "\"14\"}}\n");
  Write("job.yaml", JsonlJob(Path("train.jsonl"), "exact_match"));
  // Sequential sampling: the first batch holds both prompts.
  pt::CommandResult r = Train("run", "", Path("job.yaml"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("train.jsonl:2 has 29 tokens"));
  EXPECT_THAT(r.err, HasSubstr("exceeds the context of 32 tokens"));

  r = Train("run", "data.on_bad_sample=skip", Path("job.yaml"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::map<int64_t, json> metrics = DeterministicMetrics(Path("run"));
  EXPECT_EQ(metrics.at(1)["data/skipped_prompts"].get<double>() +
                metrics.at(2)["data/skipped_prompts"].get<double>(),
            2.0);  // the long prompt, once in each step's batch of both prompts
  EXPECT_EQ(metrics.at(1)["train/batch_samples"], 2.0);
}

TEST_F(TrainTest, AGroundTruthTheVerifierCannotParseIsNamedOrSkippedAndCounted) {
  Write("train.jsonl",
        "{\"prompt\": \"1+2=\", \"reward_model\": {\"ground_truth\": "
        "{\"numbers\": [1, 2], \"target\": 3}}}\n"
        "{\"prompt\": \"3+4=\", \"reward_model\": {\"ground_truth\": \"garbage\"}}\n");
  Write("job.yaml", JsonlJob(Path("train.jsonl"), "countdown"));
  pt::CommandResult r = Train("run", "", Path("job.yaml"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("of prompt " + Path("train.jsonl") + ":2: countdown: "));
  EXPECT_THAT(r.err, HasSubstr("garbage"));

  r = Train("run", "data.on_bad_sample=skip", Path("job.yaml"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::map<int64_t, json> metrics = DeterministicMetrics(Path("run"));
  EXPECT_EQ(metrics.at(1)["reward/errors"], 2.0);  // both samples of the bad prompt
  EXPECT_EQ(metrics.at(1)["train/batch_samples"], 2.0);
}

TEST_F(TrainTest, AMissingModelFolderIsNamed) {
  pt::CommandResult r = Train("run", "model.path=" + Path("no_such_model"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr(Path("no_such_model")));
  EXPECT_THAT(r.err, HasSubstr("does not exist"));
  r = pt::RunCommand(absl::StrCat(Ponder(), " eval --model ", Path("no_such_model"),
                                  " --data builtin:arithmetic --config ", TinyConfig()));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr(Path("no_such_model")));
}

// A run directory the run cannot write to stops the run with the path and the reason (the
// target is a directory, so that running as root does not hide the failure).
TEST_F(TrainTest, AFailedWriteInTheRunDirectoryStopsTheRun) {
  fs::create_directories(fs::path(Path("run")) / "config.yaml.tmp");
  pt::CommandResult r = Train("run", "");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err,
              HasSubstr("cannot write '" + Path("run") + "/config.yaml.tmp': Is a directory"));
}

// ---- Backends ----------------------------------------------------------------------------

TEST_F(TrainTest, InProcessAndGrpcBackendsGiveTheSameMetrics) {
  // A model folder both sides start from: the tiny model after one step.
  ASSERT_EQ(Train("init", "trainer.steps=1 eval.at_end=false").exit_code, 0);
  const std::string model = Path("init/checkpoints/step_1/policy");
  const std::string overrides =
      absl::StrCat("model.path=", model, " model.tokenizer= trainer.steps=2 eval.every=0 ",
                   "eval.at_end=false checkpoint.at_end=false");

  pt::Server rollout(
      {Ponder(), "rollout", "--listen", "127.0.0.1:0", "--model", model, "rollout.max_seq_len=32",
       "rollout.kv_cache_bytes=4194304", "rollout.sampling.max_new_tokens=8"},
      Path("rollout.out"));
  pt::Server reward({Ponder(), "reward", "--listen", "127.0.0.1:0", "--config", TinyConfig()},
                    Path("reward.out"));
  ASSERT_FALSE(rollout.address.empty()) << pt::ReadFile(Path("rollout.out.err"));
  ASSERT_FALSE(reward.address.empty()) << pt::ReadFile(Path("reward.out.err"));

  pt::CommandResult local = Train("local", overrides);
  ASSERT_EQ(local.exit_code, 0) << local.err;
  pt::CommandResult remote =
      Train("remote", absl::StrCat(overrides, " rollout.addresses=[", rollout.address,
                                   "] reward.addresses=[", reward.address, "]"));
  ASSERT_EQ(remote.exit_code, 0) << remote.err;

  std::map<int64_t, json> want = DeterministicMetrics(Path("local"));
  std::map<int64_t, json> got = DeterministicMetrics(Path("remote"));
  ASSERT_EQ(want.size(), 2u);
  for (int64_t step : {1, 2}) {
    // The remote run also reports its workers (trainer/worker_report.h): all alive, nothing
    // failed or retried. Everything else is the same.
    json workers, rest;
    for (const auto& [name, value] : got.at(step).items()) {
      const bool about_workers = absl::StartsWith(name, "workers/") ||
                                 name == "reward/rpc_retries" || name == "reward/failed_items";
      (about_workers ? workers : rest)[name] = value;
    }
    EXPECT_EQ(rest, want.at(step)) << "step " << step;
    EXPECT_EQ(workers["workers/rollout_alive"], 1.0);
    EXPECT_EQ(workers["workers/reward_alive"], 1.0);
    EXPECT_EQ(workers["workers/rollout_failed"], 0.0);
    EXPECT_EQ(workers["workers/reissued_samples"], 0.0);
    EXPECT_EQ(workers["reward/rpc_retries"], 0.0);
    EXPECT_EQ(workers["reward/failed_items"], 0.0);
  }
  EXPECT_EQ(want.at(2)["reward/score/mean"], got.at(2)["reward/score/mean"]);
  // workers.json holds the worker table.
  json table = json::parse(pt::ReadFile(Path("remote") + "/workers.json"));
  ASSERT_EQ(table.at("workers").size(), 2u);
  EXPECT_EQ(table.at("workers")[0].at("role"), "rollout");
  EXPECT_EQ(table.at("workers")[0].at("address"), rollout.address);
  EXPECT_EQ(table.at("workers")[0].at("weight_version"), 2);
  EXPECT_EQ(table.at("workers")[1].at("role"), "reward");
}

// ---- SFT and eval ------------------------------------------------------------------------

TEST_F(TrainTest, SftWritesAFolderThatTrainAndEvalStartFrom) {
  Write("sft.yaml", R"(run: {name: sft, seed: 1}
model:
  tokenizer: "chars:0123456789+-*()=,>:\n"
  init: {hidden_size: 64, intermediate_size: 128, num_layers: 2, num_heads: 4, num_kv_heads: 2,
         max_position_embeddings: 32}
data:
  task: {name: arithmetic, levels: [1], train_size: 60, val_size: 8}
rollout: {max_seq_len: 32, sampling: {max_new_tokens: 8}}
reward:
  verifiers: [{name: exact_match, options: {extract: last_line}}]
sft: {steps: 80, batch_size: 32, eval_every: 40}
eval: {k: 2}
)");
  pt::CommandResult r = pt::RunCommand(
      absl::StrCat(Ponder(), " sft --config ", Path("sft.yaml"), " run.dir=", Path("sft")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string model = Path("sft/final");
  for (const char* file : {"config.json", "model.safetensors", "tokenizer_chars.txt"}) {
    EXPECT_TRUE(fs::exists(fs::path(model) / file)) << file;
  }
  std::vector<json> metrics = ReadJsonLines(Path("sft/metrics.jsonl"));
  ASSERT_FALSE(metrics.empty());
  double first_loss = -1, last_loss = -1;
  for (const json& line : metrics) {
    if (!line["metrics"].contains("sft/loss")) continue;
    if (first_loss < 0) first_loss = line["metrics"]["sft/loss"];
    last_loss = line["metrics"]["sft/loss"];
  }
  EXPECT_LT(last_loss, first_loss / 2) << "SFT loss did not fall";

  r = Train("rl", absl::StrCat("model.path=", model, " model.tokenizer= trainer.steps=2"));
  ASSERT_EQ(r.exit_code, 0) << r.err;

  r = pt::RunCommand(absl::StrCat(Ponder(), " eval --model ", model,
                                  " --data builtin:arithmetic --k 2 --config ", Path("sft.yaml"),
                                  " --samples ", Path("eval.jsonl")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json report = json::parse(r.out);
  EXPECT_TRUE(report.contains("val/arithmetic/pass@2")) << r.out;
  EXPECT_TRUE(report.contains("val/arithmetic/greedy_acc")) << r.out;
  EXPECT_EQ(ReadJsonLines(Path("eval.jsonl")).size(), 8u * 3);
}

}  // namespace
}  // namespace ponder::trainer
