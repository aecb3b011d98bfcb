// The Python SDK (python/ponder_verifier) end to end: the example verifier in
// examples/python_verifier runs as a process, and Ponder scores through it with the `remote`
// verifier, alone and inside a composite reward.
#include <gmock/gmock.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "absl/synchronization/notification.h"
#include "base/config.h"
#include "reward/reward.h"
#include "reward/reward_backend.h"
#include "reward/verifier_registry.h"
#include "tests/reward/process_testing.h"
#include "tests/testing.h"

namespace ponder::reward {
namespace {

using ::testing::HasSubstr;

class PythonSdkTest : public ::testing::Test {
 protected:
  void Start(const std::string& token = "") {
    std::vector<std::string> argv = {
        "/usr/bin/python3", testing::SourcePath("examples/python_verifier/keyword_verifier.py"),
        "--listen", "127.0.0.1:0"};
    if (!token.empty()) {
      argv.push_back("--token");
      argv.push_back(token);
    }
    ASSERT_TRUE(server_.Start(argv, {"PYTHONPATH=" + testing::BinaryPath("python") + ":" +
                                     testing::SourcePath("python")}));
    std::string line = server_.ReadLine(std::chrono::seconds(30));
    ASSERT_THAT(line, HasSubstr("ponder_verifier: serving keywords on 127.0.0.1:"));
    address_ = line.substr(line.find("127.0.0.1:"));
    address_ = address_.substr(0, address_.find(' '));
  }
  testing::ChildProcess server_;
  std::string address_;
};

VerifyInput Input(std::string response, nlohmann::json truth) {
  VerifyInput in;
  in.prompt = "Name the capital of France.";
  in.response = std::move(response);
  in.ground_truth = std::move(truth);
  in.metadata = {{"source", "test"}};
  return in;
}

TEST_F(PythonSdkTest, RemoteVerifierScoresThroughThePythonServer) {
  Start();
  auto remote = VerifierRegistry::Builtins().CreateFromYaml(
      "remote", "{address: '" + address_ + "', verifier: keywords, timeout_s: 10}", "test");
  ASSERT_TRUE(remote.ok()) << remote.status();
  auto r = (*remote)->Score(Input("Paris is the capital of France.", {"paris", "FRANCE"}));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_DOUBLE_EQ(r->score, 1.0);
  EXPECT_EQ(r->correct, true);
  EXPECT_EQ(r->details["found"], 2);
  r = (*remote)->Score(Input("It is Lyon.", {"paris", "france", "lyon"}));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_NEAR(r->score, 1.0 / 3.0, 1e-12);
  EXPECT_EQ(r->correct, false);
  EXPECT_EQ(r->details["missing"], nlohmann::json({"paris", "france"}));
  // The Python verifier's own error comes back as this item's error.
  r = (*remote)->Score(Input("x", 42));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()),
              HasSubstr("keywords: ValueError: ground_truth must be a keyword or a list"));
  // Asking for a name the server does not have fails clearly.
  auto other = VerifierRegistry::Builtins().CreateFromYaml(
      "remote", "{address: '" + address_ + "', verifier: maths}", "test");
  ASSERT_TRUE(other.ok());
  r = (*other)->Score(Input("x", "x"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("unknown verifier 'maths'"));
}

TEST_F(PythonSdkTest, ListsItsVerifierAndAnswersHealthChecks) {
  Start();
  RewardClientOptions options;
  options.addresses = {address_};
  auto client = GrpcRewardBackend::Create(options);
  ASSERT_TRUE(client.ok()) << client.status();
  auto list = (*client)->ListVerifiers();
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].name, "keywords");
  EXPECT_EQ((*list)[0].description, "fraction of required keywords in the response");

  grpc::GenericStub stub(grpc::CreateChannel(address_, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::Slice empty("");
  grpc::ByteBuffer request(&empty, 1), response;
  absl::Notification done;
  grpc::Status status;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                 [&](grpc::Status s) {
                   status = std::move(s);
                   done.Notify();
                 });
  done.WaitForNotification();
  ASSERT_TRUE(status.ok()) << status.error_message();
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(response.Dump(&slices).ok());
  std::string bytes;
  for (const auto& slice : slices) {
    bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  EXPECT_EQ(bytes, std::string("\x08\x01", 2));  // SERVING
}

struct Job {
  RewardOptions reward;
  void Bind(config::Binder& b) { b.Field("reward", reward); }
};

TEST_F(PythonSdkTest, CompositeRewardWithARemoteTermAndATokenScoresABatch) {
  Start("py-secret");
  auto job = config::LoadString<Job>(
      "reward:\n"
      "  threads: 4\n"
      "  verifiers:\n"
      "    - name: remote\n"
      "      label: keywords\n"
      "      weight: 0.5\n"
      "      options: {address: '" +
          address_ +
          "', verifier: keywords, token: py-secret}\n"
          "    - name: format\n"
          "      weight: 0.5\n"
          "      options: {tags: [answer], allow_outside_text: true}\n",
      "job.yaml");
  ASSERT_TRUE(job.ok()) << job.status();
  auto reward = Reward::Create(job->reward);
  ASSERT_TRUE(reward.ok()) << reward.status();
  std::vector<VerifyInput> items;
  for (int i = 0; i < 20; ++i) {
    items.push_back(
        Input(i % 2 == 0 ? "<answer>Paris, France</answer>" : "Paris", {"paris", "france"}));
  }
  auto results = (*reward)->ScoreBatch(items, {});
  ASSERT_TRUE(results.ok()) << results.status();
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE((*results)[i].status.ok()) << i << ": " << (*results)[i].status;
    const VerifyResult& r = (*results)[i].result;
    if (i % 2 == 0) {
      EXPECT_DOUBLE_EQ(r.score, 1.0) << i;
      EXPECT_EQ(r.correct, true);
    } else {
      EXPECT_DOUBLE_EQ(r.score, 0.25) << i;  // half the keywords, no <answer>
      EXPECT_DOUBLE_EQ(r.components.at("keywords"), 0.5);
      EXPECT_DOUBLE_EQ(r.components.at("format"), 0.0);
    }
  }
  // Without the token the Python server refuses.
  auto no_token = VerifierRegistry::Builtins().CreateFromYaml(
      "remote", "{address: '" + address_ + "'}", "test");
  ASSERT_TRUE(no_token.ok());
  auto refused = (*no_token)->Score(Input("x", "x"));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnauthenticated);
}

}  // namespace
}  // namespace ponder::reward
