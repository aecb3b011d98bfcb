// RewardService over loopback gRPC: the gRPC backend gives the same results as the in-process
// one; tokens, unknown verifiers, per-item errors, health, and the `remote` verifier.
#include <gmock/gmock.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "absl/synchronization/notification.h"
#include "reward/reward.h"
#include "reward/reward_backend.h"
#include "reward/reward_server.h"
#include "reward/verifier_registry.h"

namespace ponder::reward {
namespace {

using ::testing::HasSubstr;

struct Job {
  RewardOptions reward;
  void Bind(config::Binder& b) { b.Field("reward", reward); }
};

RewardOptions Options(const std::string& yaml) {
  absl::StatusOr<Job> job = config::LoadString<Job>(yaml, "job.yaml");
  EXPECT_TRUE(job.ok()) << job.status();
  return job.ok() ? job->reward : RewardOptions();
}

const char* kConfig =
    "reward:\n"
    "  threads: 2\n"
    "  verifiers:\n"
    "    - name: math\n"
    "    - name: format\n"
    "      weight: 0.25\n"
    "      options: {tags: [answer]}\n"
    "  sources:\n"
    "    countdown: [{name: countdown}]\n";

std::vector<VerifyInput> Items() {
  std::vector<VerifyInput> items;
  for (int i = 0; i < 12; ++i) {
    VerifyInput in;
    in.prompt = "What is 3 + " + std::to_string(i) + "?";
    in.response = "<answer>\\boxed{" + std::to_string(3 + i % 3) + "}</answer>";
    in.ground_truth = "3";
    in.metadata = {{"index", i}, {"tags", {"a", "b"}}};
    items.push_back(in);
  }
  VerifyInput countdown;
  countdown.response = "<answer>(1+2)*4</answer>";
  countdown.ground_truth = {{"numbers", {1, 2, 4}}, {"target", 12}};
  countdown.data_source = "countdown";
  items.push_back(countdown);
  VerifyInput bad;
  bad.response = "\\boxed{1}";
  bad.ground_truth = nlohmann::json::array();  // an item error
  items.push_back(bad);
  return items;
}

class RewardServiceTest : public ::testing::Test {
 protected:
  void StartServer(const std::string& token = "") {
    auto reward = Reward::Create(Options(kConfig));
    ASSERT_TRUE(reward.ok()) << reward.status();
    reward_ = std::shared_ptr<const Reward>(std::move(*reward));
    RewardServerOptions options;
    options.token = token;
    auto server = RewardServer::Start(options, reward_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }
  absl::StatusOr<std::unique_ptr<GrpcRewardBackend>> Connect(const std::string& token = "",
                                                             size_t chunk = 256) {
    RewardClientOptions options;
    options.addresses = {server_->address()};
    options.token = token;
    options.max_batch_items = chunk;
    return GrpcRewardBackend::Create(options);
  }
  std::unique_ptr<GrpcRewardBackend> Client(const std::string& token = "", size_t chunk = 256) {
    auto client = Connect(token, chunk);
    EXPECT_TRUE(client.ok()) << client.status();
    return std::move(*client);
  }
  std::shared_ptr<const Reward> reward_;
  std::unique_ptr<RewardServer> server_;
};

TEST_F(RewardServiceTest, GrpcBackendMatchesInProcess) {
  StartServer();
  LocalRewardBackend local(reward_);
  auto expected = local.Score(Items(), {});
  ASSERT_TRUE(expected.ok());
  for (size_t chunk : {size_t{256}, size_t{5}}) {
    auto got = Client("", chunk)->Score(Items(), {});
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_EQ(got->size(), expected->size());
    for (size_t i = 0; i < got->size(); ++i) {
      const ItemResult& a = (*expected)[i];
      const ItemResult& b = (*got)[i];
      EXPECT_EQ(a.status, b.status) << i;
      EXPECT_DOUBLE_EQ(a.result.score, b.result.score) << i;
      EXPECT_EQ(a.result.correct, b.result.correct) << i;
      EXPECT_EQ(a.result.components, b.result.components) << i;
      EXPECT_EQ(a.result.details, b.result.details) << i;
    }
  }
  // Spot checks: 3 + 0 correct with format, the countdown source, the bad item.
  EXPECT_DOUBLE_EQ((*expected)[0].result.score, 1.25);
  EXPECT_DOUBLE_EQ((*expected)[1].result.score, 0.25);
  EXPECT_DOUBLE_EQ((*expected)[12].result.score, 1.0);
  EXPECT_EQ((*expected)[13].status.code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(RewardServiceTest, TokenIsRequiredWhenConfigured) {
  StartServer("s3cret");
  // Refused at the start (the client checks the token before any work), naming the server.
  auto refused = Connect();
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("requires a token"));
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr(server_->address()));
  auto wrong = Connect("s3cres");
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(wrong.status().message()), HasSubstr("is wrong"));
  auto ok = Client("s3cret")->Score(Items(), {});
  ASSERT_TRUE(ok.ok()) << ok.status();
  auto list = Client("s3cret")->ListVerifiers();
  ASSERT_TRUE(list.ok()) << list.status();
  std::vector<std::string> names;
  for (const auto& v : *list) names.push_back(v.name);
  EXPECT_THAT(names, ::testing::IsSupersetOf({"math", "remote", "reward", "reward:countdown"}));
}

TEST_F(RewardServiceTest, UnknownVerifierFailsTheRequest) {
  StartServer();
  BatchOptions options;
  options.verifier = "nope";
  auto refused = Client()->Score(Items(), options);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("unknown verifier 'nope'"));
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr(server_->address()));
}

TEST_F(RewardServiceTest, HealthServiceReportsServing) {
  StartServer();
  auto channel = grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::ByteBuffer request, response;  // HealthCheckRequest{service: ""} is empty
  grpc::Slice empty("");
  request = grpc::ByteBuffer(&empty, 1);
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
  for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  EXPECT_EQ(bytes, std::string("\x08\x01", 2));  // status: SERVING
}

TEST_F(RewardServiceTest, RemoteVerifierScoresThroughTheServer) {
  StartServer("tok");
  auto remote = VerifierRegistry::Builtins().CreateFromYaml(
      "remote", "{address: '" + server_->address() + "', verifier: math, token: tok}", "test");
  ASSERT_TRUE(remote.ok()) << remote.status();
  VerifyInput input;
  input.response = "so \\boxed{\\frac{1}{2}}";
  input.ground_truth = "0.5";
  auto result = (*remote)->Score(input);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_DOUBLE_EQ(result->score, 1.0);
  EXPECT_EQ(result->correct, true);
  EXPECT_EQ(result->details["extracted"], "\\frac{1}{2}");
  input.ground_truth = 17;  // a number crosses as a number
  result = (*remote)->Score(input);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->correct, false);
  input.ground_truth = nlohmann::json::object();
  result = (*remote)->Score(input);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("math: ground_truth"));
}

TEST(RemoteVerifierTest, UnreachableServerIsAnItemError) {
  auto remote = VerifierRegistry::Builtins().CreateFromYaml(
      "remote", "{address: '127.0.0.1:1', timeout_s: 2}", "test");
  ASSERT_TRUE(remote.ok()) << remote.status();
  VerifyInput input;
  input.response = "1";
  input.ground_truth = "1";
  auto result = (*remote)->Score(input);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("remote verifier at 127.0.0.1:1"));
}

TEST(RemoteVerifierTest, OptionsAreChecked) {
  auto remote = VerifierRegistry::Builtins().CreateFromYaml("remote", "{address: nowhere}", "x");
  ASSERT_FALSE(remote.ok());
  EXPECT_THAT(std::string(remote.status().message()),
              HasSubstr("options.address must be HOST:PORT"));
  remote = VerifierRegistry::Builtins().Create("remote", config::Block());
  ASSERT_FALSE(remote.ok());
  EXPECT_THAT(std::string(remote.status().message()),
              HasSubstr("options.address must not be empty"));
}

TEST(RewardServerTest, BadListenAddressIsAnError) {
  auto reward = Reward::Create(RewardOptions());
  ASSERT_TRUE(reward.ok());
  std::shared_ptr<const Reward> shared(std::move(*reward));
  RewardServerOptions options;
  options.listen = "localhost";
  auto server = RewardServer::Start(options, shared);
  ASSERT_FALSE(server.ok());
  EXPECT_THAT(std::string(server.status().message()), HasSubstr("must be HOST:PORT"));
  options.listen = "203.0.113.7:0";  // not an address of this machine
  server = RewardServer::Start(options, shared);
  ASSERT_FALSE(server.ok());
  EXPECT_THAT(std::string(server.status().message()), HasSubstr("cannot listen on 203.0.113.7:0"));
}

TEST(MakeRewardBackendTest, PicksByAddressesAndNamesAMissingServer) {
  RewardOptions options;
  auto local = MakeRewardBackend(options);
  ASSERT_TRUE(local.ok());
  EXPECT_NE(dynamic_cast<LocalRewardBackend*>(local->get()), nullptr);
  auto reward = Reward::Create(options);
  ASSERT_TRUE(reward.ok());
  auto server = RewardServer::Start({}, std::shared_ptr<const Reward>(std::move(*reward)));
  ASSERT_TRUE(server.ok()) << server.status();
  options.addresses = {(*server)->address()};
  auto remote = MakeRewardBackend(options);
  ASSERT_TRUE(remote.ok()) << remote.status();
  EXPECT_NE(dynamic_cast<GrpcRewardBackend*>(remote->get()), nullptr);
  options.addresses = {(*server)->address(), "127.0.0.1:9"};
  options.connect_timeout_s = 0.5;
  auto missing = MakeRewardBackend(options);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(missing.status().message()),
              HasSubstr("no reward server answers at 127.0.0.1:9"));
  options.addresses = {"nonsense"};
  auto bad = MakeRewardBackend(options);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("reward.addresses"));
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("must be HOST:PORT"));
}

// Two servers: one dies; its chunks go to the other after a backoff and nothing is lost.
// With every server gone, the items become errors (per item, after max_attempts), counted.
TEST(GrpcRewardBackendTest, RetriesOnAnotherServerThenGivesPerItemErrors) {
  RewardOptions config;
  auto made = Reward::Create(config);
  ASSERT_TRUE(made.ok());
  std::shared_ptr<const Reward> reward(std::move(*made));
  auto a = RewardServer::Start({}, reward);
  auto b = RewardServer::Start({}, reward);
  ASSERT_TRUE(a.ok() && b.ok());
  RewardClientOptions options;
  options.addresses = {(*a)->address(), (*b)->address()};
  options.max_batch_items = 2;
  options.backoff.initial = absl::Milliseconds(20);
  auto client = GrpcRewardBackend::Create(options);
  ASSERT_TRUE(client.ok()) << client.status();
  (*b)->Shutdown(absl::ZeroDuration());
  std::vector<VerifyInput> items = Items();
  auto got = (*client)->Score(items, {});
  ASSERT_TRUE(got.ok()) << got.status();
  LocalRewardBackend local(reward);
  auto want = local.Score(items, {});
  ASSERT_TRUE(want.ok());
  for (size_t i = 0; i < items.size(); ++i) {
    EXPECT_EQ((*got)[i].status, (*want)[i].status) << i;
    EXPECT_DOUBLE_EQ((*got)[i].result.score, (*want)[i].result.score) << i;
  }
  EXPECT_GE((*client)->Counts().retries, 1);
  EXPECT_EQ((*client)->Counts().failed_items, 0);

  (*a)->Shutdown(absl::ZeroDuration());
  got = (*client)->Score(items, {});
  ASSERT_TRUE(got.ok()) << got.status();  // the call itself succeeds ...
  for (const ItemResult& r : *got) {      // ... and every item carries the error
    EXPECT_EQ(r.status.code(), absl::StatusCode::kUnavailable);
    EXPECT_THAT(std::string(r.status.message()), HasSubstr("after 4 attempts"));
  }
  EXPECT_EQ((*client)->Counts().failed_items, static_cast<int64_t>(items.size()));
  for (const rpc::WorkerStatus& w : (*client)->Workers()) EXPECT_EQ(w.state, "failed");
}

}  // namespace
}  // namespace ponder::reward
