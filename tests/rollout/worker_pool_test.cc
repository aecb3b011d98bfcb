// RolloutPool over loopback workers serving FakeBackends (tests/rollout/fake_backend.h):
// prompts spread over the workers, every sample delivered exactly once when a worker dies,
// turns unhealthy or restarts mid-call, the newest weights before any work for a worker that
// rejoins, versions mapped to the trainer's, and errors that name the worker.
#include "rollout/worker_pool.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "rollout/service.h"
#include "tests/rollout/fake_backend.h"

namespace ponder::rollout {
namespace {

using ::testing::HasSubstr;
using Key = std::pair<uint64_t, uint32_t>;
constexpr char kToken[] = "pool-secret";

// A FakeBackend served on loopback with the token.
struct Worker {
  explicit Worker(int64_t version = 0, int port = 0,
                  std::chrono::milliseconds delay = std::chrono::milliseconds(2))
      : backend(std::make_unique<testing::FakeBackend>(version, delay)) {
    ServerOptions o;
    o.listen = absl::StrCat("127.0.0.1:", port);
    o.token = kToken;
    absl::StatusOr<std::unique_ptr<RolloutServer>> s = RolloutServer::Start(backend.get(), o);
    EXPECT_TRUE(s.ok()) << s.status();
    if (s.ok()) server = std::move(*s);
  }
  ~Worker() { Stop(); }
  void Stop() {
    if (server) server->Shutdown();
    server.reset();
  }
  std::string address() const { return server->address(); }

  std::unique_ptr<testing::FakeBackend> backend;
  std::unique_ptr<RolloutServer> server;
};

PoolOptions Options(const std::vector<std::string>& addresses) {
  PoolOptions o;
  o.addresses = addresses;
  o.client.token = kToken;
  o.connect_timeout = absl::Seconds(10);
  o.health_interval = absl::Milliseconds(100);
  o.health_timeout = absl::Seconds(1);
  o.health_misses = 2;
  o.no_worker_timeout = absl::Seconds(30);
  return o;
}

GenerateRequest Request(uint64_t first, int prompts, uint32_t n) {
  GenerateRequest r;
  r.request_id = absl::StrCat("r", first);
  for (int i = 0; i < prompts; ++i) {
    PromptRequest p;
    p.prompt_index = first + static_cast<uint64_t>(i);
    p.token_ids = {1, 2, 3};
    p.n = n;
    p.sampling.seed = 100 + first + static_cast<uint64_t>(i);
    r.prompts.push_back(p);
  }
  return r;
}

// One tensor whose first byte tells versions apart.
std::vector<WeightTensor> Weights(unsigned char first_byte) {
  static std::map<unsigned char, std::shared_ptr<std::vector<unsigned char>>> keep;
  auto& bytes = keep[first_byte];
  bytes = std::make_shared<std::vector<unsigned char>>(16, first_byte);
  return {{.name = "w", .shape = {4}, .data = bytes->data(), .bytes = 16, .owner = bytes}};
}

// Every sample of `request` exactly once, and nothing else.
void ExpectEachSampleOnce(const GenerateRequest& request, const std::vector<Trajectory>& got) {
  std::map<Key, int> seen;
  for (const Trajectory& t : got) {
    EXPECT_EQ(t.finish_reason, FinishReason::kStop) << t.prompt_index << "/" << t.sample_index;
    ++seen[{t.prompt_index, t.sample_index}];
  }
  size_t want = 0;
  for (const PromptRequest& p : request.prompts) {
    for (uint32_t s = 0; s < p.n; ++s, ++want) {
      const Key key{p.prompt_index, s};
      EXPECT_EQ(seen[key], 1) << p.prompt_index << "/" << s;
    }
  }
  EXPECT_EQ(got.size(), want);
}

// Starts `request` and returns a notification and the trajectories as they come.
struct Running {
  absl::Notification done;
  absl::Status status;
  std::mutex mu;
  std::vector<Trajectory> got;
  std::shared_ptr<GenerateCall> call;

  void Start(RolloutPool& pool, const GenerateRequest& request) {
    GenerateCallbacks callbacks;
    callbacks.on_trajectory = [this](Trajectory t) {
      std::lock_guard<std::mutex> lock(mu);
      got.push_back(std::move(t));
    };
    callbacks.on_done = [this](absl::Status s) {
      status = s;
      done.Notify();
    };
    absl::StatusOr<std::shared_ptr<GenerateCall>> c = pool.StartGenerate(request, callbacks);
    ASSERT_TRUE(c.ok()) << c.status();
    call = *c;
  }
};

// Waits until `predicate` holds (at most ~20 s).
template <typename Predicate>
bool Eventually(Predicate predicate) {
  for (int i = 0; i < 2000; ++i) {
    if (predicate()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return predicate();
}

TEST(RolloutPoolTest, SpreadsPromptsAndDeliversEverySampleOnceInTrainerVersions) {
  Worker a(/*version=*/0), b(/*version=*/7);  // b's process has seen other weights before
  absl::StatusOr<std::unique_ptr<RolloutPool>> pool =
      RolloutPool::Connect(Options({a.address(), b.address()}));
  ASSERT_TRUE(pool.ok()) << pool.status();
  ASSERT_TRUE((*pool)->UpdateWeights(3, Weights(3)).ok());
  EXPECT_EQ(a.backend->first_byte(), 3);
  EXPECT_EQ(b.backend->first_byte(), 3);
  GenerateRequest request = Request(0, 8, 4);
  absl::StatusOr<std::vector<Trajectory>> got = (*pool)->Generate(request);
  ASSERT_TRUE(got.ok()) << got.status();
  ExpectEachSampleOnce(request, *got);
  for (const Trajectory& t : *got) {
    EXPECT_EQ(t.weight_version, 3);  // the trainer's number, whatever each worker counts
    ASSERT_EQ(t.segments.size(), 1u);
    EXPECT_EQ(t.segments[0].weight_version, 3);
  }
  // Equal workers, equal load: four prompts each.
  EXPECT_EQ(a.backend->generated_prompts().size(), 4u);
  EXPECT_EQ(b.backend->generated_prompts().size(), 4u);
  for (const rpc::WorkerStatus& w : (*pool)->Workers()) {
    EXPECT_EQ(w.state, "alive");
    EXPECT_EQ(w.weight_version, 3);
    EXPECT_EQ(w.served, 16);
  }
}

TEST(RolloutPoolTest, AWorkerThatDiesMidCallHasItsPromptsReissuedAndNothingCountedTwice) {
  Worker a, b;
  absl::StatusOr<std::unique_ptr<RolloutPool>> pool =
      RolloutPool::Connect(Options({a.address(), b.address()}));
  ASSERT_TRUE(pool.ok()) << pool.status();
  ASSERT_TRUE((*pool)->UpdateWeights(1, Weights(1)).ok());
  b.backend->Hold(-1);  // b delivers nothing until it dies
  GenerateRequest request = Request(10, 6, 3);
  Running run;
  run.Start(**pool, request);
  ASSERT_TRUE(Eventually([&] { return b.backend->generated_prompts().size() == 3; }));
  b.Stop();
  ASSERT_TRUE(run.done.WaitForNotificationWithTimeout(absl::Seconds(20)));
  ASSERT_TRUE(run.status.ok()) << run.status;
  ExpectEachSampleOnce(request, run.got);
  const PoolCounts counts = (*pool)->Counts();
  EXPECT_EQ(counts.failures, 1);
  EXPECT_EQ(counts.reissued_prompts, 3);
  EXPECT_EQ(counts.reissued_samples, 9);
  EXPECT_EQ(a.backend->generated_prompts().size(), 6u);  // its own three, then b's
}

TEST(RolloutPoolTest, AWorkerThatStopsServingIsFailedAndLateSamplesAreDropped) {
  Worker a, b;
  absl::StatusOr<std::unique_ptr<RolloutPool>> pool =
      RolloutPool::Connect(Options({a.address(), b.address()}));
  ASSERT_TRUE(pool.ok()) << pool.status();
  ASSERT_TRUE((*pool)->UpdateWeights(1, Weights(1)).ok());
  b.backend->Hold(-1);
  GenerateRequest request = Request(0, 4, 2);
  Running run;
  run.Start(**pool, request);
  ASSERT_TRUE(Eventually([&] { return b.backend->generated_prompts().size() == 2; }));
  b.server->SetServing(false);  // health probes fail: b is failed, its calls cancelled
  ASSERT_TRUE(run.done.WaitForNotificationWithTimeout(absl::Seconds(20)));
  ASSERT_TRUE(run.status.ok()) << run.status;
  ExpectEachSampleOnce(request, run.got);
  EXPECT_EQ((*pool)->Counts().failures, 1);
  bool failed = false;
  for (const rpc::WorkerStatus& w : (*pool)->Workers()) {
    if (w.address == b.address()) {
      failed = w.state == "failed" || w.state == "joining";
      EXPECT_THAT(w.last_error, HasSubstr("health"));
    }
  }
  EXPECT_TRUE(failed);
  // b serves again: it rejoins with the newest weights, then gets work again.
  b.backend->Release();
  b.server->SetServing(true);
  ASSERT_TRUE((*pool)->UpdateWeights(2, Weights(2)).ok());
  ASSERT_TRUE(Eventually([&] { return (*pool)->Counts().joins == 1; }));
  EXPECT_EQ(b.backend->first_byte(), 2);
}

TEST(RolloutPoolTest, ARestartedWorkerGetsTheNewestWeightsBeforeAnyWork) {
  Worker a;
  auto b = std::make_unique<Worker>();
  const std::string b_address = b->address();
  const int b_port = b->server->port();
  absl::StatusOr<std::unique_ptr<RolloutPool>> pool =
      RolloutPool::Connect(Options({a.address(), b_address}));
  ASSERT_TRUE(pool.ok()) << pool.status();
  ASSERT_TRUE((*pool)->UpdateWeights(1, Weights(1)).ok());
  b.reset();                                                // dies between calls
  ASSERT_TRUE((*pool)->UpdateWeights(2, Weights(2)).ok());  // b misses it: failed
  ASSERT_TRUE((*pool)->UpdateWeights(3, Weights(3)).ok());
  Worker restarted(/*version=*/0, b_port);  // a new process on the same port
  ASSERT_TRUE(Eventually([&] { return (*pool)->Counts().joins == 1; }));
  // Straight to the newest version, before any work.
  std::vector<std::string> log = restarted.backend->log();
  ASSERT_FALSE(log.empty());
  EXPECT_EQ(log[0], "update v1");  // its own numbering: the pool maps 3 -> 1
  EXPECT_EQ(restarted.backend->first_byte(), 3);
  GenerateRequest request = Request(0, 8, 2);
  absl::StatusOr<std::vector<Trajectory>> got = (*pool)->Generate(request);
  ASSERT_TRUE(got.ok()) << got.status();
  ExpectEachSampleOnce(request, *got);
  for (const Trajectory& t : *got) EXPECT_EQ(t.weight_version, 3);
  EXPECT_FALSE(restarted.backend->generated_prompts().empty());
  EXPECT_EQ((*pool)->Counts().failures, 1);
}

TEST(RolloutPoolTest, WorkWaitsForAWorkerThenFailsNamingTheAddresses) {
  auto a = std::make_unique<Worker>();
  const std::string address = a->address();
  PoolOptions options = Options({address});
  options.no_worker_timeout = absl::Milliseconds(600);
  absl::StatusOr<std::unique_ptr<RolloutPool>> pool = RolloutPool::Connect(options);
  ASSERT_TRUE(pool.ok()) << pool.status();
  ASSERT_TRUE((*pool)->UpdateWeights(1, Weights(1)).ok());
  a.reset();
  ASSERT_TRUE(Eventually([&] { return (*pool)->Counts().failures == 1; }));
  absl::StatusOr<std::vector<Trajectory>> got = (*pool)->Generate(Request(0, 2, 2));
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(got.status().message(), HasSubstr("no rollout worker alive"));
  EXPECT_THAT(got.status().message(), HasSubstr(address));
}

TEST(RolloutPoolTest, AMissingWorkerOrAWrongTokenFailsTheStartNamingTheAddress) {
  Worker a;
  PoolOptions options = Options({a.address(), "127.0.0.1:1"});
  options.connect_timeout = absl::Milliseconds(500);
  absl::StatusOr<std::unique_ptr<RolloutPool>> pool = RolloutPool::Connect(options);
  ASSERT_FALSE(pool.ok());
  EXPECT_EQ(pool.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(pool.status().message(), HasSubstr("no rollout worker answers at 127.0.0.1:1"));

  options = Options({a.address()});
  options.client.token = "wrong";
  pool = RolloutPool::Connect(options);
  ASSERT_FALSE(pool.ok());
  EXPECT_EQ(pool.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(pool.status().message(), HasSubstr(a.address()));

  pool = RolloutPool::Connect(Options({"nonsense"}));
  ASSERT_FALSE(pool.ok());
  EXPECT_THAT(pool.status().message(), HasSubstr("rollout.addresses"));
  EXPECT_THAT(pool.status().message(), HasSubstr("must be HOST:PORT"));
}

TEST(RolloutPoolTest, ADnsNameStandsForEveryAddressItResolvesTo) {
  Worker a;
  // "localhost" resolves to 127.0.0.1 here: one worker, reached through the name.
  const std::string by_name = absl::StrCat("localhost:", a.server->port());
  absl::StatusOr<std::unique_ptr<RolloutPool>> pool = RolloutPool::Connect(Options({by_name}));
  ASSERT_TRUE(pool.ok()) << pool.status();
  std::vector<rpc::WorkerStatus> workers = (*pool)->Workers();
  ASSERT_EQ(workers.size(), 1u);
  EXPECT_EQ(workers[0].address, absl::StrCat("127.0.0.1:", a.server->port()));
  EXPECT_EQ(workers[0].source, by_name);
}

TEST(RolloutPoolTest, CancelReturnsTheSamplesNotYetDeliveredAsAborted) {
  Worker a;
  absl::StatusOr<std::unique_ptr<RolloutPool>> pool = RolloutPool::Connect(Options({a.address()}));
  ASSERT_TRUE(pool.ok()) << pool.status();
  ASSERT_TRUE((*pool)->UpdateWeights(1, Weights(1)).ok());
  a.backend->Hold(-1);
  Running run;
  run.Start(**pool, Request(0, 2, 3));
  ASSERT_TRUE(Eventually([&] { return a.backend->generated_prompts().size() == 2; }));
  run.call->Cancel();
  ASSERT_TRUE(run.done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_EQ(run.status.code(), absl::StatusCode::kCancelled);
  ASSERT_EQ(run.got.size(), 6u);
  for (const Trajectory& t : run.got) EXPECT_EQ(t.finish_reason, FinishReason::kAborted);
}

}  // namespace
}  // namespace ponder::rollout
