// RolloutService over loopback gRPC (port 0): the same trajectories as in process, streaming
// as samples finish, cancellation and deadlines reaching the engine, bad requests, weight
// updates (and malformed update streams sent with the raw stub).
#include "rollout/service.h"

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <mutex>
#include <thread>

#include "absl/synchronization/notification.h"
#include "base/crc32c.h"
#include "ponder/v1/rollout.grpc.pb.h"
#include "rollout/engine.h"
#include "rollout/grpc_backend.h"
#include "tests/rollout/tiny_model.h"

namespace ponder::rollout {
namespace {

using ::testing::HasSubstr;
using Key = std::pair<uint64_t, uint32_t>;

EngineOptions Options(int64_t slots, int64_t max_seq_len = 128) {
  EngineOptions o;
  o.max_seq_len = max_seq_len;
  o.kv_cache_bytes = int64_t{1} << 30;
  o.max_running = slots;
  return o;
}

SamplingOptions Sampling(uint64_t seed, int64_t max_new, double temperature = 1.0) {
  SamplingOptions s;
  s.seed = seed;
  s.max_new_tokens = max_new;
  s.temperature = temperature;
  return s;
}

PromptRequest Prompt(uint64_t index, int length, uint32_t n, const SamplingOptions& s) {
  PromptRequest p;
  p.prompt_index = index;
  for (int i = 0; i < length; ++i)
    p.token_ids.push_back(static_cast<int32_t>((index * 5 + i * 11) % 90 + 2));
  p.n = n;
  p.sampling = s;
  return p;
}

std::map<Key, Trajectory> ByKey(const std::vector<Trajectory>& ts) {
  std::map<Key, Trajectory> out;
  for (const Trajectory& t : ts) out[{t.prompt_index, t.sample_index}] = t;
  return out;
}

// A model slow enough that a long request is still running when the test acts on it.
testing::TinyModelOptions Bigger() {
  testing::TinyModelOptions big;
  big.hidden = 128;
  big.intermediate = 256;
  big.layers = 4;
  big.max_positions = 1024;
  return big;
}

// An engine on a seeded tiny model, served on a loopback port, and a client.
struct Served {
  explicit Served(uint64_t seed, int64_t slots = 8, bool big = false) {
    engine = std::move(*RolloutEngine::Create(
        big ? testing::MakeTinyModel(seed, Bigger()) : testing::MakeTinyModel(seed),
        Options(slots, big ? 1024 : 128)));
    ServerOptions o;
    o.listen = "127.0.0.1:0";
    absl::StatusOr<std::unique_ptr<RolloutServer>> s = RolloutServer::Start(engine.get(), o);
    EXPECT_TRUE(s.ok()) << s.status();
    server = std::move(*s);
    absl::StatusOr<std::unique_ptr<GrpcRolloutBackend>> c =
        GrpcRolloutBackend::Connect(server->address());
    EXPECT_TRUE(c.ok()) << c.status();
    client = std::move(*c);
  }
  ~Served() {
    client.reset();
    server.reset();  // before the engine it serves
  }
  std::unique_ptr<RolloutEngine> engine;
  std::unique_ptr<RolloutServer> server;
  std::unique_ptr<GrpcRolloutBackend> client;
};

TEST(RolloutServiceTest, SameTrajectoriesAsInProcess) {
  Served remote(1);
  auto local = std::move(*RolloutEngine::Create(testing::MakeTinyModel(1), Options(8)));
  SamplingOptions nucleus = Sampling(42, 30, 0.7);
  nucleus.top_p = 0.9;
  nucleus.top_k = 20;
  nucleus.repetition_penalty = 1.3;
  GenerateRequest r;
  r.prompts = {Prompt(3, 6, 3, nucleus), Prompt(4, 9, 2, Sampling(0, 25, 0.0))};
  std::map<Key, Trajectory> want = ByKey(*local->Generate(r));
  absl::StatusOr<std::vector<Trajectory>> got = remote.client->Generate(r);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), 5u);
  for (const auto& [key, t] : ByKey(*got)) {
    const Trajectory& w = want.at(key);
    EXPECT_EQ(t.token_ids, w.token_ids);
    EXPECT_EQ(t.logprobs, w.logprobs);  // bit for bit
    EXPECT_EQ(t.finish_reason, w.finish_reason);
    EXPECT_EQ(t.segments, w.segments);
    EXPECT_EQ(t.prompt_tokens, w.prompt_tokens);
  }
}

TEST(RolloutServiceTest, TrajectoriesStreamAsTheyFinish) {
  Served remote(1, 8, /*big=*/true);  // the long sample takes seconds, not milliseconds
  GenerateRequest r;
  r.prompts = {Prompt(0, 4, 1, Sampling(1, 1000)), Prompt(1, 4, 1, Sampling(2, 3))};
  std::vector<uint64_t> order;
  uint32_t running_at_first = 0;
  absl::Status status = remote.client->Generate(r, [&](Trajectory t) {
    if (order.empty()) running_at_first = remote.client->GetStatus()->active_sequences;
    order.push_back(t.prompt_index);
  });
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(order, (std::vector<uint64_t>{1, 0}));
  // The long sample was still generating (the status may not yet show the short one's slot
  // as free).
  EXPECT_GE(running_at_first, 1u);
}

TEST(RolloutServiceTest, BadRequestsEndInvalidArgumentWithTheMessage) {
  Served remote(1);
  auto problem = [&](const GenerateRequest& r) {
    absl::StatusOr<std::vector<Trajectory>> out = remote.client->Generate(r);
    EXPECT_FALSE(out.ok());
    EXPECT_TRUE(absl::IsInvalidArgument(out.status())) << out.status();
    return std::string(out.status().message());
  };
  GenerateRequest r;
  r.prompts = {Prompt(2, 4, 1, Sampling(1, 10))};
  r.prompts[0].token_ids[0] = 500;
  EXPECT_THAT(problem(r), HasSubstr("token_ids[0] = 500 is outside the vocabulary [0, 96)"));
  r.prompts = {Prompt(2, 0, 1, Sampling(1, 10))};
  EXPECT_THAT(problem(r), HasSubstr("prompt_index 2): the prompt is empty"));
  r.prompts = {Prompt(2, 4, 0, Sampling(1, 10))};
  EXPECT_THAT(problem(r), HasSubstr("n must be >= 1"));
  r.prompts = {Prompt(2, 4, 1, Sampling(1, 200))};
  EXPECT_THAT(problem(r), HasSubstr("max_new_tokens 200 = 204 exceed the context of 128"));
  r.prompts = {Prompt(2, 4, 1, Sampling(1, 10, -0.5))};
  EXPECT_THAT(problem(r), HasSubstr("sampling.temperature must be >= 0"));
  r.prompts.clear();
  EXPECT_THAT(problem(r), HasSubstr("no prompts"));
  // max_new_tokens 0 on the wire means the server's default (256 here: over the context).
  r.prompts = {Prompt(2, 4, 1, Sampling(1, 10))};
  r.prompts[0].sampling.max_new_tokens = 0;
  EXPECT_THAT(problem(r), HasSubstr("max_new_tokens 256"));
}

TEST(RolloutServiceTest, CancellingTheCallFreesTheWorkersSlots) {
  Served remote(1, 16, /*big=*/true);
  GenerateRequest r;
  r.prompts = {Prompt(0, 4, 16, Sampling(1, 1000))};
  absl::Notification done;
  absl::Status status;
  GenerateCallbacks callbacks;
  callbacks.on_done = [&](absl::Status s) {
    status = s;
    done.Notify();
  };
  auto call = remote.client->StartGenerate(r, callbacks);
  ASSERT_TRUE(call.ok());
  while (remote.engine->counters().decode_tokens < 8) {
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  (*call)->Cancel();
  done.WaitForNotification();
  EXPECT_TRUE(absl::IsCancelled(status)) << status;
  // The server notices and the engine frees the slots.
  for (int i = 0; i < 500 && remote.engine->GetStatus()->active_sequences > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(remote.engine->GetStatus()->active_sequences, 0u);
  EXPECT_LT(remote.engine->counters().decode_tokens, 16 * 1000);
}

TEST(RolloutServiceTest, DeadlinesReachTheEngine) {
  Served remote(1, 16, /*big=*/true);
  GenerateRequest r;
  r.prompts = {Prompt(0, 4, 16, Sampling(1, 1000))};
  r.deadline = absl::Now() + absl::Milliseconds(300);
  absl::StatusOr<std::vector<Trajectory>> out = remote.client->Generate(r);
  ASSERT_FALSE(out.ok());
  EXPECT_TRUE(absl::IsDeadlineExceeded(out.status())) << out.status();
  for (int i = 0; i < 500 && remote.engine->GetStatus()->active_sequences > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(remote.engine->GetStatus()->active_sequences, 0u);
  // It was stopped mid-generation.
  EXPECT_GT(remote.engine->counters().decode_tokens, 0);
  EXPECT_LT(remote.engine->counters().decode_tokens, 16 * 1000);
}

TEST(RolloutServiceTest, UpdateWeightsStreamsAndApplies) {
  Served remote(1);
  auto fresh = std::move(*RolloutEngine::Create(testing::MakeTinyModel(2), Options(8)));
  GenerateRequest r;
  r.prompts = {Prompt(0, 5, 2, Sampling(3, 20))};
  std::map<Key, Trajectory> want = ByKey(*fresh->Generate(r));
  GrpcBackendOptions small_chunks;
  small_chunks.chunk_bytes = 1000;  // many chunks per tensor
  auto client = std::move(*GrpcRolloutBackend::Connect(remote.server->address(), small_chunks));
  ASSERT_TRUE(client->UpdateWeights(3, testing::WeightsOf(testing::MakeTinyModel(2))).ok());
  BackendStatus status = *client->GetStatus();
  EXPECT_EQ(status.weight_version, 3);
  for (const auto& [key, t] : ByKey(*client->Generate(r))) {
    EXPECT_EQ(t.token_ids, want.at(key).token_ids);
    EXPECT_EQ(t.weight_version, 3);
  }
  // A bad update (a tensor missing) is refused by the engine; nothing changes.
  std::vector<WeightTensor> w = testing::WeightsOf(testing::MakeTinyModel(5));
  w.pop_back();
  absl::Status bad = client->UpdateWeights(4, w);
  EXPECT_TRUE(absl::IsInvalidArgument(bad)) << bad;
  EXPECT_THAT(bad.message(), HasSubstr("an update must hold every parameter"));
  EXPECT_EQ(client->GetStatus()->weight_version, 3);
}

// Malformed streams, written by hand with the raw stub.
class RawUpdate {
 public:
  explicit RawUpdate(const std::string& address)
      : stub_(v1::RolloutService::NewStub(
            grpc::CreateChannel(address, grpc::InsecureChannelCredentials()))) {
    context_.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    writer_ = stub_->UpdateWeights(&context_, &response_);
  }
  void Begin(int64_t version, uint32_t tensors, uint64_t bytes) {
    v1::UpdateWeightsRequest m;
    m.mutable_begin()->set_version(version);
    m.mutable_begin()->set_num_tensors(tensors);
    m.mutable_begin()->set_total_bytes(bytes);
    writer_->Write(m);
  }
  void Chunk(const WeightTensor& t) {
    v1::UpdateWeightsRequest m;
    v1::TensorChunk* c = m.mutable_chunk();
    c->set_name(t.name);
    c->set_dtype(v1::DTYPE_F32);
    for (int64_t d : t.shape) c->add_shape(d);
    c->set_total_bytes(t.bytes);
    c->set_data(t.data, t.bytes);
    writer_->Write(m);
  }
  void Commit(uint32_t crc) {
    v1::UpdateWeightsRequest m;
    m.mutable_commit()->set_crc32c(crc);
    writer_->Write(m);
  }
  grpc::Status Finish() {
    writer_->WritesDone();
    return writer_->Finish();
  }

 private:
  std::unique_ptr<v1::RolloutService::Stub> stub_;
  grpc::ClientContext context_;
  v1::UpdateWeightsResponse response_;
  std::unique_ptr<grpc::ClientWriter<v1::UpdateWeightsRequest>> writer_;
};

TEST(RolloutServiceTest, UpdatesApplyOnlyWhenCompleteAndIntact) {
  Served remote(1);
  std::vector<WeightTensor> w = testing::WeightsOf(testing::MakeTinyModel(2));
  uint64_t total = 0;
  uint32_t crc = 0;
  for (const WeightTensor& t : w) {
    total += t.bytes;
    crc = Crc32cExtend(crc, t.data, t.bytes);
  }
  {  // a corrupted checksum
    RawUpdate u(remote.server->address());
    u.Begin(1, static_cast<uint32_t>(w.size()), total);
    for (const WeightTensor& t : w) u.Chunk(t);
    u.Commit(crc ^ 0x10);
    grpc::Status s = u.Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::DATA_LOSS);
    EXPECT_THAT(s.error_message(), HasSubstr("CRC-32C mismatch"));
  }
  {  // the stream ends before the commit
    RawUpdate u(remote.server->address());
    u.Begin(1, static_cast<uint32_t>(w.size()), total);
    for (const WeightTensor& t : w) u.Chunk(t);
    grpc::Status s = u.Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(), HasSubstr("ended before the commit message"));
  }
  {  // a chunk before the begin message
    RawUpdate u(remote.server->address());
    u.Chunk(w[0]);
    grpc::Status s = u.Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(), HasSubstr("a chunk came before the begin message"));
  }
  EXPECT_EQ(remote.engine->weight_version(), 0);
  {  // the same, done right
    RawUpdate u(remote.server->address());
    u.Begin(1, static_cast<uint32_t>(w.size()), total);
    for (const WeightTensor& t : w) u.Chunk(t);
    u.Commit(crc);
    grpc::Status s = u.Finish();
    EXPECT_TRUE(s.ok()) << s.error_message();
  }
  EXPECT_EQ(remote.engine->weight_version(), 1);
}

TEST(RolloutServiceTest, StatusAndBindErrors) {
  Served remote(1);
  BackendStatus s = *remote.client->GetStatus();
  EXPECT_EQ(s.max_context, 128u);
  EXPECT_GT(s.kv_cache_bytes_budget, 0u);
  EXPECT_EQ(s.active_sequences, 0u);
  ServerOptions taken;
  taken.listen = remote.server->address();
  absl::StatusOr<std::unique_ptr<RolloutServer>> second =
      RolloutServer::Start(remote.engine.get(), taken);
  ASSERT_FALSE(second.ok());
  EXPECT_THAT(second.status().message(), HasSubstr("cannot listen on"));
  GrpcBackendOptions quick;
  quick.connect_timeout = absl::Milliseconds(200);
  absl::StatusOr<std::unique_ptr<GrpcRolloutBackend>> nobody =
      GrpcRolloutBackend::Connect("127.0.0.1:1", quick);
  ASSERT_FALSE(nobody.ok());
  EXPECT_THAT(nobody.status().message(), HasSubstr("no rollout worker answers at 127.0.0.1:1"));
}

}  // namespace
}  // namespace ponder::rollout
