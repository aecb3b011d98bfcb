// ponder::reward — verifiers turned into rewards (DESIGN.md §4).
//
// A Reward is built from the job config's `reward:` section (reward/reward_options.h): a
// composite (weighted sum) of verifiers per data source, plus a thread pool that scores
// batches concurrently with a per-item timeout. Each item's VerifyInput::deadline is its
// start plus the timeout: a verifier that honours it answers by then (the code verifier gives
// a program still running a `timeout` verdict, score 0). An item whose verifier fails, or is
// still busy min(timeout, 1 s) past the deadline, gets its own error (DeadlineExceeded); the
// rest of the batch is scored normally.
//
//   PONDER_ASSIGN_OR_RETURN(std::unique_ptr<Reward> reward, Reward::Create(options));
//   PONDER_ASSIGN_OR_RETURN(std::vector<ItemResult> results, reward->ScoreBatch(items, {}));
//
// The trainer talks to a Reward through a RewardBackend (reward/reward_backend.h): in-process
// or over gRPC to `ponder reward` servers.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "reward/reward_options.h"
#include "reward/verifier.h"
#include "reward/verifier_registry.h"

namespace ponder::reward {

namespace internal {
class ThreadPool;
}  // namespace internal

// The outcome of one item of a batch: a result, or an error for this item alone.
struct ItemResult {
  absl::Status status;  // OK, or why this item has no score (DeadlineExceeded, ...)
  VerifyResult result;  // meaningful when status is OK
  double seconds = 0;   // time spent scoring it
};

struct VerifierInfo {
  std::string name;
  std::string description;
};

struct BatchOptions {
  // "" scores each item with the reward configured for its data source (else the default
  // reward); "reward" / "reward:<source>" picks a configured reward for every item; a
  // verifier name scores every item with that verifier alone.
  std::string verifier;
  absl::Duration timeout = absl::ZeroDuration();  // per item; zero: the configured timeout_s
};

// Set to true to stop starting the remaining items of a batch (they end Cancelled).
using CancelFlag = std::shared_ptr<std::atomic<bool>>;

class Reward {
 public:
  static absl::StatusOr<std::unique_ptr<Reward>> Create(
      const RewardOptions& options,
      const VerifierRegistry& registry = VerifierRegistry::Builtins());
  ~Reward();

  // Scores one item (on the calling thread, no timeout) with the reward for its data source.
  absl::StatusOr<VerifyResult> Score(const VerifyInput& input) const;
  // Scores one item with a named verifier ("" as in BatchOptions).
  absl::StatusOr<VerifyResult> ScoreWith(const std::string& verifier,
                                         const VerifyInput& input) const;

  // Checks that `verifier` can be used in a batch ("" always can); NotFound otherwise.
  absl::Status CheckVerifier(const std::string& verifier) const;

  // Scores a batch on the pool; blocks until every item has a result. Must not be called from
  // a verifier (it would wait on its own pool). Fails only when `options.verifier` is unknown.
  absl::StatusOr<std::vector<ItemResult>> ScoreBatch(std::vector<VerifyInput> items,
                                                     const BatchOptions& options) const;
  // The same without blocking: `done` runs (on a pool or timer thread) once every item has a
  // result.
  absl::Status ScoreBatchAsync(std::vector<VerifyInput> items, const BatchOptions& options,
                               std::function<void(std::vector<ItemResult>)> done,
                               CancelFlag cancel = nullptr) const;

  // The registered verifiers, and the configured rewards as "reward" / "reward:<source>".
  std::vector<VerifierInfo> ListVerifiers() const;
  const RewardOptions& options() const { return options_; }

 private:
  struct Term {
    std::string key;
    double weight;
    std::shared_ptr<const Verifier> verifier;
  };
  struct Batch;

  Reward(RewardOptions options, const VerifierRegistry& registry);
  absl::StatusOr<std::vector<Term>> BuildTerms(const std::vector<RewardTermOptions>& terms);
  const std::vector<Term>& TermsFor(const std::string& data_source) const;
  // "reward" (the default) or "reward:<source>"; null for other names.
  const std::vector<Term>* ConfiguredReward(const std::string& name) const;
  static absl::StatusOr<VerifyResult> ScoreTerms(const std::vector<Term>& terms,
                                                 const VerifyInput& input);
  // The verifier for a name: a configured one, else built with default options (cached).
  absl::StatusOr<std::shared_ptr<const Verifier>> Named(const std::string& name) const;
  class Watchdog;
  // Scores items of `batch` until none is left.
  void Drain(const std::shared_ptr<Batch>& batch) const;
  // Called when an item of `batch` timed out while its verifier still runs.
  void Replace(const std::shared_ptr<Batch>& batch) const;

  RewardOptions options_;
  VerifierRegistry registry_;
  std::vector<Term> default_terms_;
  std::map<std::string, std::vector<Term>> source_terms_;
  mutable std::mutex named_mu_;
  mutable std::map<std::string, std::shared_ptr<const Verifier>> named_;
  // Declared last: destroyed first (the watchdog, then the pool, whose running tasks finish
  // before the verifiers go away).
  std::unique_ptr<internal::ThreadPool> pool_;
  std::unique_ptr<Watchdog> watchdog_;
};

}  // namespace ponder::reward
