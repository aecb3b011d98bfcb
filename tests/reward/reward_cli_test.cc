// `ponder verify` and `ponder reward`, run as the user runs them.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <cstdio>
#include <fstream>

#include "nlohmann/json.hpp"
#include "reward/reward_backend.h"
#include "rpc/channel.h"
#include "tests/monitor/monitor_testing.h"
#include "tests/reward/process_testing.h"
#include "tests/testing.h"

namespace ponder::reward {
namespace {

using ::testing::HasSubstr;

std::string Ponder() { return testing::BinaryPath("cli/ponder"); }

std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string TempFile(const std::string& name, const std::string& content) {
  std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path) << content;
  return path;
}

TEST(VerifyCommandTest, OneResponse) {
  auto r = testing::RunCommand(Ponder() + " verify --verifier math --response " +
                               Quote("so \\boxed{2^{19}}") + " --answer 524288");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["score"], 1.0);
  EXPECT_EQ(j["correct"], true);
  EXPECT_EQ(j["details"]["extracted"], "2^{19}");
}

TEST(VerifyCommandTest, JsonlInputKeepsOrderAndReportsBadLines) {
  std::string input =
      TempFile("verify_input.jsonl",
               "{\"response\": \"<answer>1+2</answer>\", \"ground_truth\": {\"numbers\": [1, 2], "
               "\"target\": 3}}\n"
               "not json\n"
               "{\"response\": \"<answer>2*2</answer>\", \"ground_truth\": {\"numbers\": [2, 2], "
               "\"target\": 5}, \"metadata\": {\"id\": 7}}\n"
               "{\"response\": \"<answer>1</answer>\", \"ground_truth\": {\"target\": 1}}\n");
  auto r = testing::RunCommand(Ponder() + " verify --verifier countdown --input " + input);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  std::vector<nlohmann::json> lines;
  size_t start = 0, nl;
  while ((nl = r.out.find('\n', start)) != std::string::npos) {
    lines.push_back(nlohmann::json::parse(r.out.substr(start, nl - start)));
    start = nl + 1;
  }
  ASSERT_EQ(lines.size(), 4u) << r.out;
  EXPECT_EQ(lines[0]["score"], 1.0);
  EXPECT_EQ(lines[0]["correct"], true);
  EXPECT_TRUE(lines[1]["score"].is_null());
  EXPECT_THAT(lines[1]["error"].get<std::string>(),
              HasSubstr("verify_input.jsonl:2: not valid JSON"));
  EXPECT_EQ(lines[2]["score"], 0.1);
  EXPECT_EQ(lines[2]["correct"], false);
  EXPECT_THAT(lines[3]["error"].get<std::string>(), HasSubstr("\"numbers\" is missing"));
}

TEST(VerifyCommandTest, BadOptionsAndUsage) {
  auto r = testing::RunCommand(Ponder() +
                               " verify --verifier math --options '{tail_chars: -1}' --response x "
                               "--answer 1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("--options:"));
  EXPECT_THAT(r.err, HasSubstr("reward.verifiers[0].options.tail_chars must be >= 0 (got -1)"));
  r = testing::RunCommand(Ponder() + " verify --verifier nope --response x --answer 1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("must be a registered verifier (got 'nope'"));
  r = testing::RunCommand(Ponder() + " verify --verifier math");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("give either --response with --answer"));
}

TEST(VerifyCommandTest, ConfiguredRewardFromAJobFile) {
  std::string job = TempFile("verify_job.yaml",
                             "reward:\n"
                             "  verifiers:\n"
                             "    - name: math\n"
                             "    - name: format\n"
                             "      weight: 0.5\n"
                             "      options: {tags: [answer]}\n");
  auto r = testing::RunCommand(Ponder() + " verify --config " + job +
                               " --verifier reward --response '<answer>\\boxed{7}</answer>' "
                               "--answer 7");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["score"], 1.5);
  EXPECT_EQ(j["correct"], true);
  EXPECT_EQ(j["components"]["format"], 1.0);
  EXPECT_EQ(j["details"]["math"]["extracted"], "7");
  // A verifier of that reward alone.
  r = testing::RunCommand(Ponder() + " verify --config " + job +
                          " --verifier format --response '<answer>7</answer>' --answer 7");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["score"], 1.0);
}

TEST(JobConfigTest, RewardSectionIsValidatedWithFileAndLine) {
  std::string job = TempFile("reward_job.yaml",
                             "run:\n  name: t\nreward:\n  verifiers:\n    - name: math\n"
                             "      options: {extract: [boxd]}\n");
  auto r = testing::RunCommand(Ponder() + " config check " + job);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("reward_job.yaml:6:26: reward.verifiers[0].options.extract must "
                               "list only boxed, hashes, answer_phrase and latex"));
  job = TempFile("reward_job_ok.yaml", "reward:\n  sources:\n    countdown: [{name: countdown}]\n");
  r = testing::RunCommand(Ponder() + " config check " + job);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("countdown:"));
  EXPECT_THAT(r.out, HasSubstr("timeout_s: 30"));
}

TEST(RewardCommandTest, ServesUntilSignalled) {
  std::string job = TempFile("reward_server.yaml", "reward:\n  threads: 2\n");
  testing::ChildProcess server;
  ASSERT_TRUE(server.Start(
      {Ponder(), "reward", "--listen", "127.0.0.1:0", "--config", job, "reward.timeout_s=5"},
      {"PONDER_REWARD_TOKEN=abc"}));
  std::string line = server.ReadLine(std::chrono::seconds(30));
  ASSERT_THAT(line, HasSubstr("ponder reward listening on 127.0.0.1:"));
  EXPECT_THAT(line, HasSubstr("(token required)"));
  std::string address = line.substr(line.find("127.0.0.1:"));
  address = address.substr(0, address.find(' '));

  RewardClientOptions client;
  client.addresses = {address};
  client.token = "abc";
  auto backend = GrpcRewardBackend::Create(client);
  ASSERT_TRUE(backend.ok()) << backend.status();
  VerifyInput input;
  input.response = "The answer is 1,234.";
  input.ground_truth = "1234";
  auto results = (*backend)->Score({input, input}, {});
  ASSERT_TRUE(results.ok()) << results.status();
  ASSERT_EQ(results->size(), 2u);
  EXPECT_EQ((*results)[1].result.correct, true);
  client.token = "";  // refused at the start, naming the server
  auto refused = GrpcRewardBackend::Create(client);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr(address));
  EXPECT_EQ(server.Stop(SIGTERM), 0);
}

// The first two lines of `ponder reward --listen 127.0.0.1:0 monitor.http.port=0`: the gRPC
// address it listens on and the port of its /metrics.
void ReadAddresses(testing::ChildProcess& server, std::string* address, int* port) {
  std::string line = server.ReadLine(std::chrono::seconds(30));
  ASSERT_THAT(line, HasSubstr("ponder reward listening on 127.0.0.1:"));
  *address = line.substr(line.find("127.0.0.1:"));
  *address = address->substr(0, address->find(' '));
  line = server.ReadLine(std::chrono::seconds(30));
  ASSERT_THAT(line, HasSubstr("ponder reward: metrics at http://127.0.0.1:"));
  *port = std::stoi(line.substr(line.rfind(':') + 1));
}

TEST(RewardCommandTest, ServesPrometheusMetricsWithMonitorHttp) {
  testing::ChildProcess server;
  ASSERT_TRUE(server.Start({Ponder(), "reward", "--listen", "127.0.0.1:0", "monitor.http.port=0",
                            "reward.timeout_s=30"}));
  std::string address;
  int port = 0;
  ASSERT_NO_FATAL_FAILURE(ReadAddresses(server, &address, &port));

  RewardClientOptions client;
  client.addresses = {address};
  auto backend = GrpcRewardBackend::Create(client);
  ASSERT_TRUE(backend.ok());
  VerifyInput math;
  math.response = "The answer is 1,234.";
  math.ground_truth = "1234";
  ASSERT_TRUE((*backend)->Score({math, math}, {}).ok());
  // A program for the code verifier: its sandbox verdict is counted.
  VerifyInput code;
  code.response = "```python\nprint(int(input()) * 2)\n```";
  code.ground_truth = {{"language", "python"}, {"tests", {{{"stdin", "2\n"}, {"stdout", "4\n"}}}}};
  BatchOptions with_code;
  with_code.verifier = "code";
  auto scored = (*backend)->Score({code}, with_code);
  ASSERT_TRUE(scored.ok()) << scored.status();

  httplib::Client http("127.0.0.1", port);
  auto res = http.Get("/metrics");
  ASSERT_TRUE(res);
  const std::string& text = res->body;
  EXPECT_THAT(text, HasSubstr("ponder_process_info{role=\"reward\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("ponder_reward_items_total{scorer=\"reward\",outcome=\"OK\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("ponder_reward_item_seconds_count{scorer=\"reward\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("ponder_reward_items_total{scorer=\"code\",outcome=\"OK\"} 1\n"));
  if ((*scored)[0].status.ok()) {
    const std::string verdict = (*scored)[0].result.details.value("verdict", "");
    EXPECT_THAT(text,
                HasSubstr("ponder_reward_code_verdicts_total{verdict=\"" + verdict + "\"} 1\n"));
  }
  EXPECT_THAT(
      text,
      HasSubstr("ponder_rpc_total{service=\"RewardService\",method=\"Score\",code=\"OK\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("ponder_reward_items_in_flight 0\n"));
  const monitor::PromtoolResult check = monitor::PromtoolCheck(text);
  EXPECT_EQ(check.exit_code, 0) << check.output << "\n" << text;
  EXPECT_EQ(server.Stop(SIGTERM), 0);
}

// Calls refused for the token are counted in /metrics; on SIGTERM the server answers
// NOT_SERVING to health probes until --drain ends or a second signal comes.
TEST(RewardCommandTest, CountsRefusedCallsAndSaysNotServingBeforeItStops) {
  testing::ChildProcess server;
  ASSERT_TRUE(server.Start(
      {Ponder(), "reward", "--listen", "127.0.0.1:0", "--drain", "600", "monitor.http.port=0"},
      {"PONDER_REWARD_TOKEN=abc"}));
  std::string address;
  int port = 0;
  ASSERT_NO_FATAL_FAILURE(ReadAddresses(server, &address, &port));

  RewardClientOptions client;
  client.addresses = {address};
  client.token = "abd";
  auto refused = GrpcRewardBackend::Create(client);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnauthenticated);
  httplib::Client http("127.0.0.1", port);
  auto res = http.Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_THAT(res->body, ::testing::ContainsRegex(
                             "ponder_rpc_total\\{service=\"RewardService\",method=\"[A-Za-z]+\","
                             "code=\"UNAUTHENTICATED\"\\} 1\n"));

  auto channel = rpc::MakeChannel(address, {});
  ASSERT_TRUE(channel.ok()) << channel.status();
  ASSERT_TRUE(rpc::CheckHealth(*channel, absl::Seconds(10)).ok());
  server.Signal(SIGTERM);
  absl::Status health;
  for (int i = 0; i < 600 && health.ok(); ++i) {  // up to a minute (a busy machine)
    usleep(100000);
    health = rpc::CheckHealth(*channel, absl::Seconds(10));
  }
  EXPECT_THAT(std::string(health.message()), HasSubstr("NOT_SERVING"));
  EXPECT_EQ(server.Stop(SIGTERM), 0);  // the second signal ends the drain
  EXPECT_THAT(server.ReadLine(std::chrono::seconds(10)),
              HasSubstr("ponder reward: shutting down (signal 15)"));
}

TEST(RewardCommandTest, BadListenAddressFails) {
  auto r = testing::RunCommand(Ponder() + " reward --listen nowhere");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("listen address 'nowhere' must be HOST:PORT"));
  // A port alone binds loopback.
  r = testing::RunCommand(Ponder() + " reward --listen 70000");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("listen port 70000 is not in [0, 65535]"));
}

}  // namespace
}  // namespace ponder::reward
