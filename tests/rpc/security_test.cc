// Who may call Ponder's services: a call without the token, or with a wrong one, is refused
// by every method of RolloutService and RewardService (and logged with the caller's
// address); TLS and mutual TLS work with a certificate the test makes with openssl; TLS
// files that are missing or wrong are named; --listen values and loopback binding.
#include "rpc/security.h"

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "ponder/v1/reward.grpc.pb.h"
#include "reward/reward.h"
#include "reward/reward_backend.h"
#include "reward/reward_server.h"
#include "rollout/grpc_backend.h"
#include "rollout/service.h"
#include "rpc/channel.h"
#include "tests/rollout/fake_backend.h"
#include "tests/testing.h"

namespace ponder::rpc {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// Captures what spdlog's default logger writes while alive.
class LogCapture {
 public:
  LogCapture() : previous_(spdlog::default_logger()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(text_);
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", sink));
  }
  ~LogCapture() { spdlog::set_default_logger(previous_); }
  std::string text() const { return text_.str(); }

 private:
  std::ostringstream text_;
  std::shared_ptr<spdlog::logger> previous_;
};

class SecurityTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string pattern = "/tmp/ponder_security_test_XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    // A self-signed certificate for 127.0.0.1 (its own CA), with an EC key: quick to make.
    const std::string command = absl::StrCat(
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 ",
        "-subj /CN=ponder-test -addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout ", dir_,
        "/key.pem -out ", dir_, "/cert.pem");
    ponder::testing::CommandResult r = ponder::testing::RunCommand(command);
    ASSERT_EQ(r.exit_code, 0) << command << "\n" << r.err;
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  static TlsOptions ServerTls() { return {dir_ + "/cert.pem", dir_ + "/key.pem", ""}; }
  static TlsOptions ClientTls() { return {"", "", dir_ + "/cert.pem"}; }

  static std::string dir_;
};
std::string SecurityTest::dir_;

std::unique_ptr<rollout::RolloutServer> ServeRollout(rollout::RolloutBackend* backend,
                                                     const std::string& token,
                                                     const TlsOptions& tls = {}) {
  rollout::ServerOptions o;
  o.token = token;
  o.tls = tls;
  absl::StatusOr<std::unique_ptr<rollout::RolloutServer>> s =
      rollout::RolloutServer::Start(backend, o);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? std::move(*s) : nullptr;
}

std::unique_ptr<rollout::GrpcRolloutBackend> RolloutClient(const std::string& address,
                                                           const std::string& token,
                                                           const TlsOptions& tls = {}) {
  rollout::GrpcBackendOptions o;
  o.token = token;
  o.tls = tls;
  o.connect_timeout = absl::Seconds(5);
  absl::StatusOr<std::unique_ptr<rollout::GrpcRolloutBackend>> c =
      rollout::GrpcRolloutBackend::Connect(address, o);
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? std::move(*c) : nullptr;
}

// The three RolloutService methods, called with `token`: their status codes.
std::vector<absl::StatusCode> CallEveryRolloutMethod(rollout::GrpcRolloutBackend& client) {
  std::vector<absl::StatusCode> codes;
  codes.push_back(client.GetStatus().status().code());
  std::vector<unsigned char> bytes(16, 1);
  codes.push_back(
      client
          .UpdateWeights(5,
                         {{.name = "w", .shape = {4}, .data = bytes.data(), .bytes = bytes.size()}})
          .code());
  rollout::GenerateRequest request;
  request.prompts.push_back({.prompt_index = 0, .token_ids = {1, 2}, .n = 1});
  codes.push_back(client.Generate(request).status().code());
  return codes;
}

TEST_F(SecurityTest, RolloutServiceRefusesEveryMethodWithoutTheRightTokenAndLogsThePeer) {
  rollout::testing::FakeBackend backend;
  std::unique_ptr<rollout::RolloutServer> server = ServeRollout(&backend, "rollout-secret");
  ASSERT_NE(server, nullptr);
  const auto refused = std::vector<absl::StatusCode>(3, absl::StatusCode::kUnauthenticated);
  {
    LogCapture log;
    EXPECT_EQ(CallEveryRolloutMethod(*RolloutClient(server->address(), "")), refused);
    EXPECT_THAT(log.text(),
                HasSubstr("RolloutService.GetStatus: rejected a call from ipv4:127.0.0.1:"));
    EXPECT_THAT(log.text(), HasSubstr("(no token)"));
  }
  {
    // At most a line a second: the next one counts the rejections it did not log.
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    LogCapture log;
    EXPECT_EQ(CallEveryRolloutMethod(*RolloutClient(server->address(), "rollout-secreT")), refused);
    EXPECT_THAT(log.text(), HasSubstr("(wrong token); 2 more rejected since the last line"));
  }
  absl::StatusOr<rollout::BackendStatus> status = RolloutClient(server->address(), "")->GetStatus();
  EXPECT_THAT(std::string(status.status().message()), HasSubstr("this call carries none"));
  EXPECT_THAT(std::string(status.status().message()), HasSubstr(server->address()));
  // Nothing the refused calls sent reached the backend.
  EXPECT_EQ(backend.version(), 0);
  EXPECT_TRUE(backend.generated_prompts().empty());
  EXPECT_EQ(CallEveryRolloutMethod(*RolloutClient(server->address(), "rollout-secret")),
            std::vector<absl::StatusCode>(3, absl::StatusCode::kOk));
  EXPECT_EQ(backend.version(), 5);
}

TEST_F(SecurityTest, RewardServiceRefusesEveryMethodWithoutTheRightToken) {
  absl::StatusOr<std::unique_ptr<reward::Reward>> reward = reward::Reward::Create({});
  ASSERT_TRUE(reward.ok());
  reward::RewardServerOptions options;
  options.token = "reward-secret";
  auto server = reward::RewardServer::Start(
      options, std::shared_ptr<const reward::Reward>(std::move(*reward)));
  ASSERT_TRUE(server.ok()) << server.status();
  auto stub = ponder::v1::RewardService::NewStub(
      grpc::CreateChannel((*server)->address(), grpc::InsecureChannelCredentials()));
  LogCapture log;
  for (const std::string& token : {std::string(), std::string("reward-secreT")}) {
    grpc::ClientContext score_context;
    AttachToken(score_context, token);
    ponder::v1::ScoreRequest request;
    request.add_items()->set_response("1");
    ponder::v1::ScoreResponse response;
    EXPECT_EQ(stub->Score(&score_context, request, &response).error_code(),
              grpc::StatusCode::UNAUTHENTICATED)
        << token;
    grpc::ClientContext list_context;
    AttachToken(list_context, token);
    ponder::v1::ListVerifiersResponse list;
    EXPECT_EQ(stub->ListVerifiers(&list_context, {}, &list).error_code(),
              grpc::StatusCode::UNAUTHENTICATED)
        << token;
  }
  EXPECT_THAT(log.text(), HasSubstr("RewardService.Score: rejected a call from ipv4:127.0.0.1:"));
  // The right token, as metadata or in the request.
  grpc::ClientContext context;
  AttachToken(context, "reward-secret");
  ponder::v1::ListVerifiersResponse list;
  EXPECT_TRUE(stub->ListVerifiers(&context, {}, &list).ok());
  grpc::ClientContext field_context;
  ponder::v1::ScoreRequest request;
  request.set_token("reward-secret");
  ponder::v1::ScoreResponse response;
  EXPECT_TRUE(stub->Score(&field_context, request, &response).ok());
}

TEST_F(SecurityTest, TlsWorksAndPlaintextClientsAreNotServed) {
  rollout::testing::FakeBackend backend;
  std::unique_ptr<rollout::RolloutServer> server = ServeRollout(&backend, "t", ServerTls());
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(CallEveryRolloutMethod(*RolloutClient(server->address(), "t", ClientTls())),
            std::vector<absl::StatusCode>(3, absl::StatusCode::kOk));
  rollout::GrpcBackendOptions plain;
  plain.token = "t";
  plain.connect_timeout = absl::Seconds(1);
  absl::StatusOr<std::unique_ptr<rollout::GrpcRolloutBackend>> refused =
      rollout::GrpcRolloutBackend::Connect(server->address(), plain);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable);

  // The reward server too, through the trainer's client.
  absl::StatusOr<std::unique_ptr<reward::Reward>> reward = reward::Reward::Create({});
  ASSERT_TRUE(reward.ok());
  reward::RewardServerOptions options;
  options.tls = ServerTls();
  auto reward_server = reward::RewardServer::Start(
      options, std::shared_ptr<const reward::Reward>(std::move(*reward)));
  ASSERT_TRUE(reward_server.ok()) << reward_server.status();
  reward::RewardClientOptions client;
  client.addresses = {(*reward_server)->address()};
  client.tls = ClientTls();
  auto scorer = reward::GrpcRewardBackend::Create(client);
  ASSERT_TRUE(scorer.ok()) << scorer.status();
  reward::VerifyInput input;
  input.response = "\\boxed{4}";
  input.ground_truth = "4";
  auto scored = (*scorer)->Score({input}, {});
  ASSERT_TRUE(scored.ok()) << scored.status();
  EXPECT_EQ((*scored)[0].result.score, 1.0);
  client.tls = {};
  client.connect_timeout = absl::Seconds(1);
  EXPECT_FALSE(reward::GrpcRewardBackend::Create(client).ok());
}

TEST_F(SecurityTest, MutualTlsRequiresAClientCertificate) {
  rollout::testing::FakeBackend backend;
  TlsOptions mutual = ServerTls();
  mutual.ca = dir_ + "/cert.pem";
  std::unique_ptr<rollout::RolloutServer> server = ServeRollout(&backend, "", mutual);
  ASSERT_NE(server, nullptr);
  // The same options on both sides: each presents the certificate and checks the other's.
  EXPECT_TRUE(RolloutClient(server->address(), "", mutual)->GetStatus().ok());
  rollout::GrpcBackendOptions anonymous;
  anonymous.tls = ClientTls();
  anonymous.connect_timeout = absl::Seconds(1);
  absl::StatusOr<std::unique_ptr<rollout::GrpcRolloutBackend>> refused =
      rollout::GrpcRolloutBackend::Connect(server->address(), anonymous);
  if (refused.ok()) {  // the handshake may complete before the server checks: the call fails
    EXPECT_FALSE((*refused)->GetStatus().ok());
  }
}

TEST_F(SecurityTest, TlsFilesThatAreMissingOrWrongAreNamed) {
  TlsOptions missing = {dir_ + "/nope.pem", dir_ + "/key.pem", ""};
  auto credentials = ServerCredentialsFor(missing);
  ASSERT_FALSE(credentials.ok());
  EXPECT_THAT(std::string(credentials.status().message()),
              HasSubstr("cannot read the TLS certificate file '" + dir_ + "/nope.pem'"));
  std::ofstream(dir_ + "/not.pem") << "hello";
  auto not_pem = ChannelCredentialsFor({"", "", dir_ + "/not.pem"});
  ASSERT_FALSE(not_pem.ok());
  EXPECT_THAT(std::string(not_pem.status().message()), HasSubstr("is not PEM"));
  auto half = ServerCredentialsFor({dir_ + "/cert.pem", "", ""});
  ASSERT_FALSE(half.ok());
  EXPECT_THAT(std::string(half.status().message()),
              HasSubstr("cert and key must be given together"));
  // A server that cannot load its certificate does not start.
  rollout::testing::FakeBackend backend;
  rollout::ServerOptions o;
  o.tls = missing;
  auto server = rollout::RolloutServer::Start(&backend, o);
  ASSERT_FALSE(server.ok());
  EXPECT_THAT(std::string(server.status().message()), HasSubstr("nope.pem"));
}

TEST(ListenAddressTest, LoopbackUnlessToldOtherwise) {
  EXPECT_EQ(*ListenAddress(""), "127.0.0.1:0");
  EXPECT_EQ(*ListenAddress("50051"), "127.0.0.1:50051");
  EXPECT_EQ(*ListenAddress(":50051"), "127.0.0.1:50051");
  EXPECT_EQ(*ListenAddress("0.0.0.0:50051"), "0.0.0.0:50051");
  EXPECT_EQ(*ListenAddress("[::]:7"), "[::]:7");
  EXPECT_THAT(std::string(ListenAddress("nowhere").status().message()),
              HasSubstr("listen address 'nowhere' must be HOST:PORT"));
  EXPECT_THAT(std::string(ListenAddress("99999").status().message()),
              HasSubstr("listen port 99999 is not in [0, 65535]"));
  EXPECT_TRUE(IsLoopbackAddress("127.0.0.1:5"));
  EXPECT_TRUE(IsLoopbackAddress("[::1]:5"));
  EXPECT_TRUE(IsLoopbackAddress("localhost:5"));
  EXPECT_FALSE(IsLoopbackAddress("0.0.0.0:5"));
  EXPECT_FALSE(IsLoopbackAddress("10.1.2.3:5"));
}

TEST(TokenFromTest, FlagThenEnvironmentThenConfig) {
  unsetenv("PONDER_TEST_TOKEN");
  EXPECT_EQ(TokenFrom("", "PONDER_TEST_TOKEN", "c"), "c");
  setenv("PONDER_TEST_TOKEN", "e", 1);
  EXPECT_EQ(TokenFrom("", "PONDER_TEST_TOKEN", "c"), "e");
  EXPECT_EQ(TokenFrom("f", "PONDER_TEST_TOKEN", "c"), "f");
  unsetenv("PONDER_TEST_TOKEN");
  EXPECT_TRUE(SameSecret("abc", "abc"));
  EXPECT_FALSE(SameSecret("abc", "abd"));
  EXPECT_FALSE(SameSecret("abc", "abcd"));
  EXPECT_FALSE(SameSecret("", "a"));
}

TEST(ResolveTest, NamesStandForTheirAddresses) {
  auto ip = Resolve("10.0.0.5:50051");
  ASSERT_TRUE(ip.ok());
  ASSERT_EQ(ip->size(), 1u);
  EXPECT_EQ((*ip)[0].address, "10.0.0.5:50051");
  EXPECT_EQ((*ip)[0].authority, "");
  auto local = Resolve("localhost:7");
  ASSERT_TRUE(local.ok()) << local.status();
  ASSERT_EQ(local->size(), 1u);  // IPv4 preferred: one worker, not one per address family
  EXPECT_EQ((*local)[0].address, "127.0.0.1:7");
  EXPECT_EQ((*local)[0].authority, "localhost");
  EXPECT_EQ((*local)[0].source, "localhost:7");
  EXPECT_THAT(std::string(Resolve("localhost").status().message()), HasSubstr("must be HOST:PORT"));
}

}  // namespace
}  // namespace ponder::rpc
