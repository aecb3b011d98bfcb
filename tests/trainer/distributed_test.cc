// Trainer ranks as threads of one process, over loopback: collectives, the bucketed gradient
// sum, and what happens when a rank dies, hangs or gives up. CTest runs this binary in a
// network namespace of its own (tests/netns_run.sh): LibTorch's TCPStore listens on every
// interface, and there only loopback exists.
#include "trainer/distributed.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <thread>

#include "trainer/gradient_reducer.h"

namespace ponder::trainer {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

// Each test gets its own rendezvous port (the namespace is private: any port is free).
int NextPort() {
  static std::atomic<int> port{29600};
  return port++;
}

RankGroupOptions Options(int64_t rank, int64_t size, int port, double timeout_s = 20.0) {
  RankGroupOptions o;
  o.env.rank = rank;
  o.env.world_size = size;
  o.env.master_addr = "127.0.0.1";
  o.env.master_port = port;
  o.env.source = "test";
  o.options.timeout_s = timeout_s;
  o.options.init_timeout_s = 30.0;
  o.options.heartbeat_s = 0.2;
  // The default would end the test process; record instead.
  o.on_lost = [](const absl::Status&) {};
  return o;
}

// Runs fn(rank) on `size` threads and returns their statuses.
std::vector<absl::Status> RunRanks(int64_t size, const std::function<absl::Status(int64_t)>& fn) {
  std::vector<absl::Status> out(size);
  std::vector<std::thread> threads;
  for (int64_t r = 0; r < size; ++r) {
    threads.emplace_back([&, r] {
      try {
        out[r] = fn(r);
      } catch (const std::exception& e) {
        out[r] = absl::InternalError(e.what());
      }
    });
  }
  for (auto& t : threads) t.join();
  return out;
}

TEST(RankGroupTest, SumsBroadcastsAndSendsBytesFromRankZero) {
  const int port = NextPort();
  auto statuses = RunRanks(3, [&](int64_t r) -> absl::Status {
    auto group = RankGroup::Create(Options(r, 3, port));
    if (!group.ok()) return group.status();
    RankGroup& g = **group;
    EXPECT_EQ(g.rank(), r);
    EXPECT_EQ(g.size(), 3);
    EXPECT_EQ(g.backend(), "gloo");
    EXPECT_THAT(g.Describe(r), HasSubstr("pid "));

    std::vector<at::Tensor> sum = {at::full({4}, static_cast<double>(r + 1), at::kDouble)};
    if (auto s = g.AllReduceSum(sum, "test sum"); !s.ok()) return s;
    EXPECT_TRUE(sum[0].equal(at::full({4}, 6.0, at::kDouble)));

    // Tensors of several shapes and types in one call.
    std::vector<at::Tensor> value = {at::full({2, 3}, static_cast<float>(r * 10)),
                                     at::full({4}, static_cast<double>(r + 5), at::kDouble),
                                     at::arange(5, at::kFloat).add(r).t()};
    if (auto s = g.Broadcast(value, "test broadcast"); !s.ok()) return s;
    EXPECT_TRUE(value[0].equal(at::zeros({2, 3})));
    EXPECT_TRUE(value[1].equal(at::full({4}, 5.0, at::kDouble)));
    EXPECT_TRUE(value[2].equal(at::arange(5, at::kFloat)));
    std::vector<at::Tensor> sums = {at::ones({3, 2}).t(), at::full({1}, r, at::kLong)};
    if (auto s = g.AllReduceSum(sums, "test sums"); !s.ok()) return s;
    EXPECT_TRUE(sums[0].equal(at::full({2, 3}, 3.0f)));
    EXPECT_EQ(sums[1].item<int64_t>(), 3);

    // Rank 0 is late (as when it generates rollouts); the others wait for it.
    std::string bytes = r == 0 ? std::string("batch\0with\xffzero", 15) : "stale";
    if (r == 0) std::this_thread::sleep_for(std::chrono::milliseconds(700));
    if (auto s = g.BroadcastBytes(bytes, "the batch"); !s.ok()) return s;
    EXPECT_EQ(bytes, std::string("batch\0with\xffzero", 15));
    std::string empty = r == 0 ? "" : "x";
    if (auto s = g.BroadcastBytes(empty, "nothing"); !s.ok()) return s;
    EXPECT_EQ(empty, "");
    EXPECT_TRUE(g.lost().ok());
    return g.Finish();
  });
  for (const auto& s : statuses) EXPECT_TRUE(s.ok()) << s;
}

// A small model whose gradients differ per rank.
struct Net : torch::nn::Module {
  Net() {
    // Registered first: its (never produced) gradients land in the last bucket, which
    // Finish starts.
    unused = register_module("unused", torch::nn::Linear(2, 2));
    a = register_module("a", torch::nn::Linear(6, 5));
    b = register_module("b", torch::nn::Linear(5, 4));
  }
  at::Tensor forward(const at::Tensor& x) { return b(torch::tanh(a(x))); }
  torch::nn::Linear a{nullptr}, b{nullptr}, unused{nullptr};
};

std::vector<at::Tensor> Trainable(Net& net) {
  std::vector<at::Tensor> out;
  for (auto& p : net.parameters()) out.push_back(p);
  return out;
}

at::Tensor Input(int64_t rank, int64_t micro) {
  return at::arange(12, at::kFloat).reshape({2, 6}).mul(0.1 * (rank + 1)).add(0.05 * micro);
}

TEST(GradientReducerTest, GivesTheSumOfEveryRanksGradientsAndStartsBucketsDuringBackward) {
  constexpr int64_t kRanks = 3;
  torch::manual_seed(7);
  Net reference;
  // Independent reference: every rank's micro-batches backpropagated in one process.
  for (int64_t r = 0; r < kRanks; ++r) {
    if (r == 2) continue;  // rank 2 has no rows this step
    for (int64_t m = 0; m < 2; ++m) reference.forward(Input(r, m)).pow(2).sum().backward();
  }
  const int port = NextPort();
  std::vector<std::vector<at::Tensor>> grads(kRanks);
  std::vector<int64_t> overlapped(kRanks), buckets(kRanks);
  auto statuses = RunRanks(kRanks, [&](int64_t r) -> absl::Status {
    auto group = RankGroup::Create(Options(r, kRanks, port));
    if (!group.ok()) return group.status();
    Net net;
    {
      torch::NoGradGuard no_grad;
      auto to = net.parameters();
      auto from = reference.parameters();
      for (size_t i = 0; i < to.size(); ++i) to[i].copy_(from[i]);
    }
    // Tiny buckets: one or two parameters each, so several start before backward ends.
    GradientReducer reducer(group->get(), Trainable(net), /*bucket_bytes=*/100, "net");
    buckets[r] = reducer.num_buckets();
    for (int round = 0; round < 2; ++round) {  // the reducer is reusable
      for (auto& p : net.parameters()) p.mutable_grad() = at::Tensor();
      if (r != 2) {
        for (int64_t m = 0; m < 2; ++m) {
          if (m == 1) reducer.Arm();
          net.forward(Input(r, m)).pow(2).sum().backward();
        }
      }
      if (auto s = reducer.Finish(); !s.ok()) return s;
    }
    overlapped[r] = reducer.started_during_backward();
    for (auto& p : net.parameters()) grads[r].push_back(p.grad());
    return (*group)->Finish();
  });
  for (const auto& s : statuses) ASSERT_TRUE(s.ok()) << s;
  auto expected = reference.parameters();
  for (int64_t r = 0; r < kRanks; ++r) {
    ASSERT_EQ(grads[r].size(), expected.size());
    for (size_t i = 0; i < expected.size(); ++i) {
      if (!expected[i].grad().defined()) {  // `unused`: no rank had a gradient
        EXPECT_FALSE(grads[r][i].defined()) << "rank " << r << " parameter " << i;
        continue;
      }
      ASSERT_TRUE(grads[r][i].defined()) << "rank " << r << " parameter " << i;
      EXPECT_TRUE(torch::allclose(grads[r][i], expected[i].grad(), 1e-6, 1e-6))
          << "rank " << r << " parameter " << i;
    }
  }
  EXPECT_GE(buckets[0], 3);
  EXPECT_GT(overlapped[0], 0);  // started from the hooks, before Finish
  EXPECT_EQ(overlapped[2], 0);  // no backward on rank 2
}

TEST(RankGroupTest, ADeadRankIsNamedByTheOthers) {
  const int port = NextPort();
  std::atomic<bool> rank1_gone{false};
  std::atomic<int> joined{0};
  auto statuses = RunRanks(2, [&](int64_t r) -> absl::Status {
    auto group = RankGroup::Create(Options(r, 2, port, /*timeout_s=*/10.0));
    ++joined;
    if (!group.ok()) return group.status();
    if (r == 1) {
      // Dies once both ranks have the group (before that, rank 0 fails in Gloo's set-up).
      while (joined < 2) std::this_thread::sleep_for(std::chrono::milliseconds(10));
      group->reset();  // dies: connections closed, heartbeats stop
      rank1_gone = true;
      return absl::OkStatus();
    }
    while (!rank1_gone) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::vector<at::Tensor> t = {at::ones({8})};
    const auto start = std::chrono::steady_clock::now();
    absl::Status s = (*group)->AllReduceSum(t, "gradients of the policy");
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_LT(seconds, 10.0) << "not found within distributed.timeout_s";
    EXPECT_THAT(std::string((*group)->lost().message()), HasSubstr("rank 1 (host"));
    return s;
  });
  EXPECT_TRUE(statuses[1].ok());
  EXPECT_EQ(statuses[0].code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(statuses[0].message()),
              AllOf(HasSubstr("rank 1 (host"), HasSubstr("pid"), HasSubstr("no heartbeat"),
                    HasSubstr("gradients of the policy")));
}

TEST(RankGroupTest, ACollectiveARankNeverJoinsTimesOutNamingWhereEachRankIs) {
  const int port = NextPort();
  std::atomic<bool> done{false};
  auto statuses = RunRanks(2, [&](int64_t r) -> absl::Status {
    auto group = RankGroup::Create(Options(r, 2, port, /*timeout_s=*/2.0));
    if (!group.ok()) return group.status();
    if (r == 1) {  // alive (its heartbeats go on) but stuck elsewhere
      std::vector<at::Tensor> t = {at::ones({1})};
      EXPECT_TRUE((*group)->Broadcast(t, "the step's batch size").ok());
      while (!done) std::this_thread::sleep_for(std::chrono::milliseconds(10));
      return absl::OkStatus();
    }
    std::vector<at::Tensor> t = {at::ones({1})};
    EXPECT_TRUE((*group)->Broadcast(t, "the step's batch size").ok());
    absl::Status s = (*group)->AllReduceSum(t, "metrics of step 1");
    done = true;
    return s;
  });
  EXPECT_FALSE(statuses[0].ok());
  EXPECT_THAT(
      std::string(statuses[0].message()),
      AllOf(HasSubstr("metrics of step 1 failed on rank 0 (host"), HasSubstr("rank 1 (host"),
            HasSubstr("in collective #1 (the step's batch size)"),
            HasSubstr("in collective #2 (metrics of step 1)")));
}

TEST(RankGroupTest, LosingRankZeroEndsTheWaitForItsBytes) {
  const int port = NextPort();
  std::atomic<int> joined{0};
  auto statuses = RunRanks(2, [&](int64_t r) -> absl::Status {
    auto group = RankGroup::Create(Options(r, 2, port, /*timeout_s=*/10.0));
    ++joined;
    if (!group.ok()) return group.status();
    if (r == 0) {
      while (joined < 2) std::this_thread::sleep_for(std::chrono::milliseconds(10));
      std::this_thread::sleep_for(std::chrono::milliseconds(300));  // rank 1 is waiting
      return absl::OkStatus();                                      // gone: its store with it
    }
    std::string bytes;
    return (*group)->BroadcastBytes(bytes, "the batch of step 4");
  });
  EXPECT_TRUE(statuses[0].ok());
  EXPECT_EQ(statuses[1].code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(
      std::string(statuses[1].message()),
      AllOf(HasSubstr("rank 0 (host"), HasSubstr("store"), HasSubstr("the batch of step 4")));
}

TEST(RankGroupTest, RankZerosAbortReachesTheOthersWithItsMessage) {
  const int port = NextPort();
  std::atomic<int> joined{0}, ended{0};
  auto statuses = RunRanks(3, [&](int64_t r) -> absl::Status {
    auto group = RankGroup::Create(Options(r, 3, port));
    ++joined;
    if (!group.ok()) return group.status();
    if (r == 0) {
      while (joined < 3) std::this_thread::sleep_for(std::chrono::milliseconds(10));
      (*group)->Abort(absl::InvalidArgumentError("reward server at 10.0.0.9:50052 refused"));
      // The store stays up until the others have read the message.
      while (ended < 2) std::this_thread::sleep_for(std::chrono::milliseconds(10));
      return absl::OkStatus();
    }
    std::string bytes;
    absl::Status s = (*group)->BroadcastBytes(bytes, "the batch of step 1");
    ++ended;
    return s;
  });
  for (int r : {1, 2}) {
    EXPECT_THAT(std::string(statuses[r].message()),
                AllOf(HasSubstr("rank 0 (host"), HasSubstr("stopped: reward server"),
                      HasSubstr("waiting for the batch of step 1")));
  }
}

TEST(RankGroupTest, ARendezvousThatNeverFillsNamesTheAddressAndTheVariables) {
  RankGroupOptions o = Options(1, 2, NextPort());
  o.options.init_timeout_s = 1.0;
  auto group = RankGroup::Create(o);
  ASSERT_FALSE(group.ok());
  EXPECT_THAT(std::string(group.status().message()),
              AllOf(HasSubstr("rank 1 of 2"), HasSubstr("127.0.0.1:"),
                    HasSubstr("distributed.init_timeout_s = 1"), HasSubstr("MASTER_ADDR")));
}

}  // namespace
}  // namespace ponder::trainer
