// `ponder generate --prompts ...` and `ponder rollout --listen ...` end to end, on llama2.c's
// stories260K (tests/data/model/stories260K) and the prompts in tests/data/rollout.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "model/tokenizer.h"
#include "rollout/engine.h"
#include "rollout/grpc_backend.h"
#include "tests/monitor/monitor_testing.h"
#include "tests/testing.h"

extern char** environ;

namespace ponder::rollout {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
namespace pt = ponder::testing;

std::string Model() { return pt::SourcePath("tests/data/model/stories260K/stories260K.bin"); }
std::string Tokenizer() { return pt::SourcePath("tests/data/model/stories260K/tok512.bin"); }
std::string Ponder() { return pt::BinaryPath("cli/ponder"); }

std::string TempPath(const std::string& name) {
  return "/tmp/ponder_rollout_cli_" + std::to_string(getpid()) + "_" + name;
}

std::vector<json> ReadJsonLines(const std::string& path) {
  std::vector<json> out;
  std::istringstream in(pt::ReadFile(path));
  std::string line;
  while (std::getline(in, line)) out.push_back(json::parse(line));
  return out;
}

std::string GenerateCommand(const std::string& output, const std::string& extra) {
  return Ponder() + " generate --model " + Model() + " --tokenizer " + Tokenizer() + " --prompts " +
         pt::SourcePath("tests/data/rollout/prompts.jsonl") + " --output " + output +
         " --max-new-tokens 24 --kv-cache-mb 16 " + extra;
}

TEST(GenerateCliTest, BatchWritesOneLinePerSample) {
  const std::string out = TempPath("greedy.jsonl");
  pt::CommandResult r = pt::RunCommand(GenerateCommand(out, "--n 2 --temperature 0"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // 16 MiB of 1280-byte tokens in blocks of 16: 819 blocks; the six samples run at once.
  EXPECT_THAT(r.err, MatchesRegex(".*3 prompts, 6 samples, [0-9]+ tokens in [0-9.]+ s "
                                  "\\([0-9]+ tokens/s\\)\n"
                                  "ponder generate: peak 6 samples at once, KV cache peak [0-9]+ "
                                  "of 819 blocks \\(16 tokens each\\), 0 preempted\n"));
  std::vector<json> lines = ReadJsonLines(out);
  ASSERT_EQ(lines.size(), 6u);
  for (size_t i = 0; i < lines.size(); ++i) {
    const json& j = lines[i];
    EXPECT_EQ(j["prompt_index"], i / 2);
    EXPECT_EQ(j["sample_index"], i % 2);
    EXPECT_EQ(j["token_ids"].size(), j["logprobs"].size());
    EXPECT_GT(j["token_ids"].size(), 0u);
    EXPECT_THAT(j["finish_reason"].get<std::string>(), MatchesRegex("stop|length"));
    EXPECT_EQ(j["version"], 0);
    EXPECT_TRUE(j["text"].is_string());
  }
  // Greedy: both samples of a prompt are the same.
  EXPECT_EQ(lines[0]["token_ids"], lines[1]["token_ids"]);
  EXPECT_EQ(lines[0]["text"], lines[1]["text"]);
  // The same tokens as the engine run in process on the same prompt.
  RolloutOptions options;
  options.kv_cache_bytes = 16 << 20;
  model::ModelOptions m;
  m.path = Model();
  m.tokenizer = Tokenizer();
  absl::StatusOr<LoadedEngine> loaded = LoadRolloutEngine(m, options);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  model::EncodeOptions bos;
  bos.add_bos = true;
  GenerateRequest request;
  PromptRequest p;
  p.token_ids = *loaded->tokenizer->Encode("Once upon a time", bos);
  p.sampling.temperature = 0;
  p.sampling.max_new_tokens = 24;
  p.sampling.stop_token_ids = {1, 2};  // the checkpoint's BOS and EOS
  request.prompts.push_back(p);
  std::vector<Trajectory> want = *loaded->engine->Generate(request);
  EXPECT_EQ(lines[0]["token_ids"].get<std::vector<int32_t>>(), want[0].token_ids);
  std::remove(out.c_str());
}

TEST(GenerateCliTest, SameSeedSameFileOtherSeedOtherSamples) {
  const std::string a = TempPath("a.jsonl"), b = TempPath("b.jsonl"), c = TempPath("c.jsonl");
  ASSERT_EQ(pt::RunCommand(GenerateCommand(a, "--n 3 --seed 5 --top-p 0.9")).exit_code, 0);
  ASSERT_EQ(pt::RunCommand(GenerateCommand(b, "--n 3 --seed 5 --top-p 0.9")).exit_code, 0);
  ASSERT_EQ(pt::RunCommand(GenerateCommand(c, "--n 3 --seed 6 --top-p 0.9")).exit_code, 0);
  EXPECT_EQ(pt::ReadFile(a), pt::ReadFile(b));
  EXPECT_NE(pt::ReadFile(a), pt::ReadFile(c));
  std::vector<json> lines = ReadJsonLines(a);
  EXPECT_NE(lines[0]["token_ids"], lines[1]["token_ids"]);  // samples differ
  for (const std::string& p : {a, b, c}) std::remove(p.c_str());
}

// `--prompt X --seed S` and `--prompts` with the one line {"prompt": X} draw with the same
// sampler (model/sampling.h), so they print the same text, sampling at temperature > 0 with
// top-k and top-p on.
TEST(GenerateCliTest, PromptAndPromptsGiveTheSameText) {
  const std::string prompts = TempPath("one.jsonl"), out = TempPath("one_out.jsonl");
  {
    std::FILE* f = std::fopen(prompts.c_str(), "w");
    std::fputs("{\"prompt\": \"The little dog\"}\n", f);
    std::fclose(f);
  }
  const std::string common = " generate --model " + Model() + " --tokenizer " + Tokenizer() +
                             " --max-new-tokens 40 --temperature 0.9 --top-p 0.95 --top-k 100";
  std::vector<std::string> texts;
  for (const char* seed : {"3", "4", "5"}) {
    pt::CommandResult batch = pt::RunCommand(Ponder() + common + " --seed " + seed + " --prompts " +
                                             prompts + " --output " + out + " --kv-cache-mb 16");
    ASSERT_EQ(batch.exit_code, 0) << batch.err;
    std::vector<json> lines = ReadJsonLines(out);
    ASSERT_EQ(lines.size(), 1u);
    pt::CommandResult single =
        pt::RunCommand(Ponder() + common + " --seed " + seed + " --prompt 'The little dog'");
    ASSERT_EQ(single.exit_code, 0) << single.err;
    EXPECT_EQ(single.out, lines[0]["text"].get<std::string>()) << "seed " << seed;
    EXPECT_FALSE(single.out.empty());
    texts.push_back(single.out);
  }
  // Sampled, not greedy: the seeds give different texts.
  std::sort(texts.begin(), texts.end());
  EXPECT_GT(std::unique(texts.begin(), texts.end()) - texts.begin(), 1);
  std::remove(prompts.c_str());
  std::remove(out.c_str());
}

TEST(GenerateCliTest, BadInputNamesTheFileAndLine) {
  const std::string prompts = TempPath("bad.jsonl"), out = TempPath("bad_out.jsonl");
  {
    std::FILE* f = std::fopen(prompts.c_str(), "w");
    std::fputs("{\"prompt\": \"ok\"}\n{\"text\": \"no\"}\n", f);
    std::fclose(f);
  }
  pt::CommandResult r = pt::RunCommand(Ponder() + " generate --model " + Model() + " --tokenizer " +
                                       Tokenizer() + " --prompts " + prompts + " --output " + out);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr(prompts + ":2: needs either \"prompt\""));
  r = pt::RunCommand(Ponder() + " generate --model " + Model() + " --prompts " + prompts);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--prompts needs --output OUT.jsonl"));
  r = pt::RunCommand(Ponder() + " generate --model " + Model() + " --tokenizer " + Tokenizer() +
                     " --prompts " + pt::SourcePath("tests/data/rollout/prompts.jsonl") +
                     " --output " + out + " --n 1 --max-seq-len 16 --max-new-tokens 20");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("prompts.jsonl:1: "));
  EXPECT_THAT(r.err, HasSubstr("exceed the context of 16 tokens"));
  std::remove(prompts.c_str());
  std::remove(out.c_str());
}

// Starts `ponder rollout` and returns its pid; its stdout goes to `stdout_path`.
pid_t StartWorker(const std::string& stdout_path, const std::string& stderr_path,
                  const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args = {Ponder(),      "rollout",   "--listen",
                                   "127.0.0.1:0", "--model",   Model(),
                                   "--tokenizer", Tokenizer(), "rollout.kv_cache_bytes=16777216"};
  args.insert(args.end(), extra.begin(), extra.end());
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  posix_spawn_file_actions_addopen(&actions, 2, stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  pid_t pid = -1;
  posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

TEST(RolloutCliTest, ServesTheSameTrajectoriesAsInProcessAndStopsOnSigterm) {
  const std::string out = TempPath("worker.out"), err = TempPath("worker.err");
  pid_t pid = StartWorker(out, err);
  ASSERT_GT(pid, 0);
  std::string address;
  for (int i = 0; i < 600 && address.empty(); ++i) {  // up to a minute (a busy machine)
    std::string text = pt::ReadFile(out);
    const std::string key = "listening on ";
    size_t at = text.find(key);
    if (at != std::string::npos && text.find(' ', at + key.size()) != std::string::npos) {
      address = text.substr(at + key.size(), text.find(' ', at + key.size()) - at - key.size());
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  ASSERT_FALSE(address.empty()) << pt::ReadFile(err);
  absl::StatusOr<std::unique_ptr<GrpcRolloutBackend>> client = GrpcRolloutBackend::Connect(address);
  ASSERT_TRUE(client.ok()) << client.status();
  GenerateRequest request;
  request.return_text = true;
  PromptRequest p;
  p.prompt_index = 9;
  p.token_ids = {1, 403, 407};
  p.n = 3;
  p.sampling.seed = 4;
  p.sampling.max_new_tokens = 30;
  p.sampling.stop_strings = {"."};
  request.prompts.push_back(p);
  absl::StatusOr<std::vector<Trajectory>> remote = (*client)->Generate(request);
  ASSERT_TRUE(remote.ok()) << remote.status();
  EXPECT_EQ((*client)->GetStatus()->max_context, 512u);

  model::ModelOptions m;
  m.path = Model();
  m.tokenizer = Tokenizer();
  RolloutOptions options;
  options.kv_cache_bytes = 16 << 20;
  absl::StatusOr<LoadedEngine> local = LoadRolloutEngine(m, options);
  ASSERT_TRUE(local.ok()) << local.status();
  std::vector<Trajectory> want = *local->engine->Generate(request);
  auto key = [](const Trajectory& t) { return t.sample_index; };
  std::sort(remote->begin(), remote->end(), [&](auto& a, auto& b) { return key(a) < key(b); });
  std::sort(want.begin(), want.end(), [&](auto& a, auto& b) { return key(a) < key(b); });
  ASSERT_EQ(remote->size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ((*remote)[i].token_ids, want[i].token_ids);
    EXPECT_EQ((*remote)[i].logprobs, want[i].logprobs);
    EXPECT_EQ((*remote)[i].text, want[i].text);
    EXPECT_EQ((*remote)[i].finish_reason, want[i].finish_reason);
  }
  client->reset();
  ASSERT_EQ(kill(pid, SIGTERM), 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << pt::ReadFile(err);
  EXPECT_THAT(pt::ReadFile(err), HasSubstr("stopping (signal 15)"));
  std::remove(out.c_str());
  std::remove(err.c_str());
}

// The text after `key` up to the next space or newline in the file at `path`, waiting up to a
// minute for it to be written.
std::string WaitForWord(const std::string& path, const std::string& key) {
  for (int i = 0; i < 600; ++i) {
    const std::string text = pt::ReadFile(path);
    const size_t at = text.find(key);
    const size_t end = at == std::string::npos ? at : text.find_first_of(" \n", at + key.size());
    if (end != std::string::npos) return text.substr(at + key.size(), end - at - key.size());
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return "";
}

TEST(RolloutCliTest, ServesPrometheusMetricsWithMonitorHttp) {
  const std::string out = TempPath("metrics.out"), err = TempPath("metrics.err");
  pid_t pid = StartWorker(out, err, {"monitor.http.port=0"});
  ASSERT_GT(pid, 0);
  const std::string address = WaitForWord(out, "listening on ");
  const std::string url = WaitForWord(out, "metrics at http://");
  ASSERT_FALSE(address.empty() || url.empty()) << pt::ReadFile(err);
  auto client = GrpcRolloutBackend::Connect(address);
  ASSERT_TRUE(client.ok()) << client.status();
  GenerateRequest request;
  request.prompts.push_back({.prompt_index = 0, .token_ids = {1, 403}, .n = 2, .sampling = {}});
  request.prompts[0].sampling.max_new_tokens = 5;
  ASSERT_TRUE((*client)->Generate(request).ok());

  const std::string host = url.substr(0, url.find(':'));
  const int port = std::stoi(url.substr(url.find(':') + 1));
  httplib::Client http(host, port);
  auto res = http.Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  const std::string& text = res->body;
  EXPECT_THAT(text, HasSubstr("ponder_process_info{role=\"rollout\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("ponder_rollout_weight_version 0\n"));
  // The budget is rollout.kv_cache_bytes rounded down to whole cache blocks.
  EXPECT_THAT(text, ::testing::ContainsRegex(
                        "ponder_rollout_kv_cache_bytes\\{kind=\"budget\"\\} 16[0-9]{6}\n"));
  EXPECT_THAT(text, HasSubstr("ponder_rollout_sequences{state=\"waiting\"} 0\n"));
  EXPECT_THAT(
      text,
      HasSubstr(
          "ponder_rpc_total{service=\"RolloutService\",method=\"Generate\",code=\"OK\"} 1\n"));
  EXPECT_THAT(
      text,
      HasSubstr("ponder_rpc_seconds_count{service=\"RolloutService\",method=\"Generate\"} 1\n"));
  EXPECT_THAT(text, ::testing::ContainsRegex("ponder_rollout_generated_tokens_total [1-9]"));
  const monitor::PromtoolResult check = monitor::PromtoolCheck(text);
  EXPECT_EQ(check.exit_code, 0) << check.output << "\n" << text;

  client->reset();
  ASSERT_EQ(kill(pid, SIGTERM), 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << pt::ReadFile(err);
  std::remove(out.c_str());
  std::remove(err.c_str());
}

// Calls refused for the token are counted in /metrics; on SIGTERM the worker answers
// NOT_SERVING to health probes until --drain ends or a second signal comes.
TEST(RolloutCliTest, CountsRefusedCallsAndSaysNotServingBeforeItStops) {
  const std::string out = TempPath("drain.out"), err = TempPath("drain.err");
  pid_t pid = StartWorker(out, err, {"--token", "abc", "--drain", "600", "monitor.http.port=0"});
  ASSERT_GT(pid, 0);
  const std::string address = WaitForWord(out, "listening on ");
  const std::string url = WaitForWord(out, "metrics at http://");
  ASSERT_FALSE(address.empty() || url.empty()) << pt::ReadFile(err);
  GrpcBackendOptions wrong;
  wrong.token = "abd";
  auto client = GrpcRolloutBackend::Connect(address, wrong);
  ASSERT_TRUE(client.ok()) << client.status();
  EXPECT_EQ((*client)->GetStatus().status().code(), absl::StatusCode::kUnauthenticated);
  GenerateRequest request;
  request.prompts.push_back({.prompt_index = 0, .token_ids = {1, 403}, .n = 1, .sampling = {}});
  EXPECT_EQ((*client)->Generate(request).status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ((*client)->UpdateWeights(1, {}).code(), absl::StatusCode::kUnauthenticated);
  GrpcBackendOptions none;
  auto anonymous = GrpcRolloutBackend::Connect(address, none);
  ASSERT_TRUE(anonymous.ok()) << anonymous.status();
  EXPECT_EQ((*anonymous)->GetStatus().status().code(), absl::StatusCode::kUnauthenticated);

  const std::string host = url.substr(0, url.find(':'));
  const int port = std::stoi(url.substr(url.find(':') + 1));
  httplib::Client http(host, port);
  auto res = http.Get("/metrics");
  ASSERT_TRUE(res);
  const std::string& text = res->body;
  EXPECT_THAT(text, HasSubstr("ponder_rpc_total{service=\"RolloutService\",method=\"GetStatus\","
                              "code=\"UNAUTHENTICATED\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("ponder_rpc_total{service=\"RolloutService\",method=\"Generate\","
                              "code=\"UNAUTHENTICATED\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("ponder_rpc_total{service=\"RolloutService\",method="
                              "\"UpdateWeights\",code=\"UNAUTHENTICATED\"} 1\n"));

  ASSERT_TRUE((*client)->CheckHealth(absl::Seconds(10)).ok());
  ASSERT_EQ(kill(pid, SIGTERM), 0);
  absl::Status health;
  for (int i = 0; i < 600 && health.ok(); ++i) {  // up to a minute (a busy machine)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    health = (*client)->CheckHealth(absl::Seconds(10));
  }
  EXPECT_THAT(std::string(health.message()), HasSubstr("NOT_SERVING"));
  ASSERT_EQ(kill(pid, SIGTERM), 0);  // the second signal ends the drain
  client->reset();
  anonymous->reset();
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << pt::ReadFile(err);
  EXPECT_THAT(pt::ReadFile(err), HasSubstr("not serving (signal 15); stopping in 600 s"));
  EXPECT_THAT(pt::ReadFile(err), HasSubstr("stopping (signal 15)"));
  std::remove(out.c_str());
  std::remove(err.c_str());
}

TEST(RolloutCliTest, MissingModelAndBadConfigAreErrors) {
  pt::CommandResult r = pt::RunCommand(Ponder() + " rollout --listen 127.0.0.1:0");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("no model: give --model PATH"));
  r = pt::RunCommand(Ponder() + " rollout --listen 127.0.0.1:0 --model " + Model() +
                     " rollout.sampling.top_p=3");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("rollout.sampling.top_p must be <= 1 (got 3)"));
  r = pt::RunCommand(Ponder() + " rollout --listen 127.0.0.1:0 --model /nonexistent/model.bin");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("/nonexistent/model.bin"));
}

}  // namespace
}  // namespace ponder::rollout
