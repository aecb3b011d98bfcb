#include "reward/reward.h"

#include <chrono>
#include <condition_variable>
#include <list>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "base/status.h"
#include "reward/internal/thread_pool.h"

namespace ponder::reward {
namespace {
constexpr absl::Duration kDeadlineGrace = absl::Seconds(1);
}  // namespace

struct Reward::Batch {
  std::mutex mu;
  std::vector<VerifyInput> inputs;
  std::vector<ItemResult> results;  // guarded by mu
  std::vector<bool> done;           // guarded by mu
  std::vector<bool> timed_out;      // guarded by mu
  size_t remaining = 0;             // guarded by mu
  std::string verifier;
  absl::Duration timeout;
  std::function<void(std::vector<ItemResult>)> on_done;
  CancelFlag cancel;
  std::atomic<size_t> next{0};  // the next item a drain task takes
  // Per item: 0 not started, > 0 the start time (Unix ns), -1 finished. Read by the watchdog.
  std::unique_ptr<std::atomic<int64_t>[]> started_ns;

  // Records item `i`'s result unless it already has one; the last result calls on_done.
  // Returns whether this call recorded it.
  bool Finish(size_t i, ItemResult result, bool timeout = false) {
    std::function<void(std::vector<ItemResult>)> callback;
    std::vector<ItemResult> all;
    {
      std::lock_guard<std::mutex> lock(mu);
      if (done[i]) return false;
      done[i] = true;
      timed_out[i] = timeout;
      results[i] = std::move(result);
      if (--remaining == 0) {
        callback = std::move(on_done);
        all = std::move(results);
      }
    }
    if (callback) callback(std::move(all));
    return true;
  }

  bool TimedOut(size_t i) {
    std::lock_guard<std::mutex> lock(mu);
    return timed_out[i];
  }

  bool Complete() {
    std::lock_guard<std::mutex> lock(mu);
    return remaining == 0;
  }
};

// Watches the items being scored and times out the ones past their deadline. One thread per
// Reward, waking every few milliseconds while batches are in flight.
class Reward::Watchdog {
 public:
  explicit Watchdog(const Reward* reward) : reward_(reward), thread_([this] { Run(); }) {}
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void Watch(const std::shared_ptr<Batch>& batch) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      batches_.push_back(batch);
    }
    cv_.notify_all();
  }

 private:
  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
      if (batches_.empty()) {
        cv_.wait(lock);
        continue;
      }
      cv_.wait_for(lock, std::chrono::milliseconds(5));
      std::vector<std::shared_ptr<Batch>> live;
      for (auto it = batches_.begin(); it != batches_.end();) {
        std::shared_ptr<Batch> b = it->lock();
        if (b == nullptr || b->Complete()) {
          it = batches_.erase(it);
        } else {
          live.push_back(std::move(b));
          ++it;
        }
      }
      lock.unlock();
      const int64_t now = absl::ToUnixNanos(absl::Now());
      for (const auto& b : live) {
        // Verifiers that honour VerifyInput::deadline (the code verifier stops the program
        // and answers `timeout`) get a moment past it to answer before this error is given.
        const int64_t limit =
            absl::ToInt64Nanoseconds(b->timeout + std::min(b->timeout, kDeadlineGrace));
        for (size_t i = 0; i < b->inputs.size(); ++i) {
          int64_t started = b->started_ns[i].load(std::memory_order_acquire);
          if (started <= 0 || now - started <= limit) continue;
          ItemResult late;
          late.status = absl::DeadlineExceededError(
              absl::StrCat("scoring took longer than ", absl::FormatDuration(b->timeout)));
          late.seconds = absl::ToDoubleSeconds(b->timeout);
          if (b->Finish(i, std::move(late), /*timeout=*/true)) reward_->Replace(b);
        }
      }
      lock.lock();
    }
  }

  const Reward* reward_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::list<std::weak_ptr<Batch>> batches_;
  bool stopping_ = false;
  std::thread thread_;
};

Reward::Reward(RewardOptions options, const VerifierRegistry& registry)
    : options_(std::move(options)), registry_(registry) {}

Reward::~Reward() = default;

absl::StatusOr<std::unique_ptr<Reward>> Reward::Create(const RewardOptions& options,
                                                       const VerifierRegistry& registry) {
  PONDER_RETURN_IF_ERROR(options.Validate());
  std::unique_ptr<Reward> reward(new Reward(options, registry));
  PONDER_ASSIGN_OR_RETURN(reward->default_terms_, reward->BuildTerms(options.verifiers));
  for (const auto& [source, terms] : options.sources) {
    absl::StatusOr<std::vector<Term>> built = reward->BuildTerms(terms);
    if (!built.ok()) return Annotate(built.status(), absl::StrCat("reward.sources.", source));
    reward->source_terms_[source] = *std::move(built);
  }
  size_t threads = options.threads > 0 ? static_cast<size_t>(options.threads)
                                       : std::max(1u, std::thread::hardware_concurrency());
  reward->pool_ = std::make_unique<internal::ThreadPool>(threads);
  reward->watchdog_ = std::make_unique<Watchdog>(reward.get());
  return reward;
}

absl::StatusOr<std::vector<Reward::Term>> Reward::BuildTerms(
    const std::vector<RewardTermOptions>& terms) {
  std::vector<Term> out;
  for (const RewardTermOptions& t : terms) {
    PONDER_ASSIGN_OR_RETURN(std::unique_ptr<Verifier> verifier,
                            registry_.Create(t.name, t.options));
    std::shared_ptr<const Verifier> shared(std::move(verifier));
    out.push_back(Term{t.key(), t.weight, shared});
    std::lock_guard<std::mutex> lock(named_mu_);
    named_.emplace(t.name, shared);  // the first configured instance serves the bare name
  }
  return out;
}

const std::vector<Reward::Term>& Reward::TermsFor(const std::string& data_source) const {
  auto it = source_terms_.find(data_source);
  return it == source_terms_.end() ? default_terms_ : it->second;
}

absl::StatusOr<VerifyResult> Reward::ScoreTerms(const std::vector<Term>& terms,
                                                const VerifyInput& input) {
  if (terms.size() == 1) {
    PONDER_ASSIGN_OR_RETURN(VerifyResult r, terms[0].verifier->Score(input));
    double raw = r.score;
    r.score = terms[0].weight * raw;
    r.components[terms[0].key] = raw;
    return r;
  }
  VerifyResult out;
  bool any_correct = false, all_correct = true;
  for (const Term& term : terms) {
    absl::StatusOr<VerifyResult> r = term.verifier->Score(input);
    if (!r.ok()) return Annotate(r.status(), term.key);
    out.score += term.weight * r->score;
    out.components[term.key] = r->score;
    out.details[term.key] = std::move(r->details);
    if (r->correct.has_value()) {
      any_correct = true;
      all_correct = all_correct && *r->correct;
    }
  }
  if (any_correct) out.correct = all_correct;
  return out;
}

absl::StatusOr<std::shared_ptr<const Verifier>> Reward::Named(const std::string& name) const {
  std::lock_guard<std::mutex> lock(named_mu_);
  auto it = named_.find(name);
  if (it != named_.end()) return it->second;
  if (registry_.Find(name) == nullptr) {
    return absl::NotFoundError(absl::StrCat("unknown verifier '", name, "' (registered: ",
                                            absl::StrJoin(registry_.Names(), ", "), ")"));
  }
  absl::StatusOr<std::unique_ptr<Verifier>> built = registry_.Create(name, config::Block());
  if (!built.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("verifier '", name,
                     "' is not configured on this server and cannot be built with "
                     "default options: ",
                     built.status().message()));
  }
  std::shared_ptr<const Verifier> shared(*std::move(built));
  named_.emplace(name, shared);
  return shared;
}

const std::vector<Reward::Term>* Reward::ConfiguredReward(const std::string& name) const {
  if (name == "reward") return &default_terms_;
  if (name.rfind("reward:", 0) == 0) {
    auto it = source_terms_.find(name.substr(7));
    if (it != source_terms_.end()) return &it->second;
  }
  return nullptr;
}

absl::Status Reward::CheckVerifier(const std::string& verifier) const {
  if (verifier.empty() || ConfiguredReward(verifier) != nullptr) return absl::OkStatus();
  return Named(verifier).status();
}

absl::StatusOr<VerifyResult> Reward::Score(const VerifyInput& input) const {
  return ScoreTerms(TermsFor(input.data_source), input);
}

absl::StatusOr<VerifyResult> Reward::ScoreWith(const std::string& verifier,
                                               const VerifyInput& input) const {
  if (verifier.empty()) return Score(input);
  if (const std::vector<Term>* terms = ConfiguredReward(verifier)) return ScoreTerms(*terms, input);
  PONDER_ASSIGN_OR_RETURN(std::shared_ptr<const Verifier> v, Named(verifier));
  absl::StatusOr<VerifyResult> r = v->Score(input);
  if (r.ok() && r->components.empty()) r->components[verifier] = r->score;
  return r;
}

void Reward::Replace(const std::shared_ptr<Batch>& batch) const {
  // The timed-out item's verifier still occupies a worker: add one, with a task to run.
  pool_->AddReplacementWorker();
  pool_->Submit([this, batch] { Drain(batch); });
}

void Reward::Drain(const std::shared_ptr<Batch>& batch) const {
  const size_t n = batch->inputs.size();
  while (true) {
    const size_t index = batch->next.fetch_add(1);
    if (index >= n) return;
    if (batch->cancel && batch->cancel->load()) {
      ItemResult cancelled;
      cancelled.status = absl::CancelledError("the request was cancelled");
      batch->Finish(index, std::move(cancelled));
      continue;
    }
    const absl::Time start = absl::Now();
    VerifyInput& input = batch->inputs[index];
    input.deadline = start + batch->timeout;
    batch->started_ns[index].store(absl::ToUnixNanos(start), std::memory_order_release);
    absl::StatusOr<VerifyResult> scored = ScoreWith(batch->verifier, input);
    batch->started_ns[index].store(-1, std::memory_order_release);
    ItemResult result;
    result.seconds = absl::ToDoubleSeconds(absl::Now() - start);
    if (scored.ok()) {
      result.result = *std::move(scored);
    } else {
      result.status = scored.status();
    }
    // Recorded already: the item timed out, and a replacement worker was added for it.
    if (!batch->Finish(index, std::move(result)) && batch->TimedOut(index)) {
      pool_->ReplacementDone();
      return;  // this worker was stood in for; the replacement carries on draining
    }
  }
}

absl::Status Reward::ScoreBatchAsync(std::vector<VerifyInput> items, const BatchOptions& options,
                                     std::function<void(std::vector<ItemResult>)> done,
                                     CancelFlag cancel) const {
  PONDER_RETURN_IF_ERROR(CheckVerifier(options.verifier));
  if (items.empty()) {
    done({});
    return absl::OkStatus();
  }
  auto batch = std::make_shared<Batch>();
  const size_t n = items.size();
  batch->inputs = std::move(items);
  batch->results.resize(n);
  batch->done.assign(n, false);
  batch->timed_out.assign(n, false);
  batch->started_ns.reset(new std::atomic<int64_t>[n]);
  for (size_t i = 0; i < n; ++i) batch->started_ns[i].store(0, std::memory_order_relaxed);
  batch->remaining = n;
  batch->verifier = options.verifier;
  batch->timeout =
      options.timeout > absl::ZeroDuration() ? options.timeout : absl::Seconds(options_.timeout_s);
  batch->on_done = std::move(done);
  batch->cancel = std::move(cancel);
  watchdog_->Watch(batch);
  // Workers take items one at a time from the batch, so a slow item does not hold up others.
  const size_t tasks = std::min(n, pool_->target_size());
  for (size_t t = 0; t < tasks; ++t) pool_->Submit([this, batch] { Drain(batch); });
  return absl::OkStatus();
}

absl::StatusOr<std::vector<ItemResult>> Reward::ScoreBatch(std::vector<VerifyInput> items,
                                                           const BatchOptions& options) const {
  std::mutex mu;
  std::condition_variable cv;
  bool finished = false;
  std::vector<ItemResult> out;
  PONDER_RETURN_IF_ERROR(
      ScoreBatchAsync(std::move(items), options, [&](std::vector<ItemResult> results) {
        std::lock_guard<std::mutex> lock(mu);
        out = std::move(results);
        finished = true;
        cv.notify_all();
      }));
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return finished; });
  return out;
}

std::vector<VerifierInfo> Reward::ListVerifiers() const {
  std::vector<VerifierInfo> out;
  for (const VerifierRegistry::Entry* e : registry_.Entries()) {
    out.push_back({e->name, e->description});
  }
  auto describe = [](const std::vector<RewardTermOptions>& terms) {
    std::vector<std::string> parts;
    for (const auto& t : terms) parts.push_back(absl::StrCat(t.weight, " * ", t.key()));
    return absl::StrCat("configured reward: ", absl::StrJoin(parts, " + "));
  };
  out.push_back({"reward", describe(options_.verifiers)});
  for (const auto& [source, terms] : options_.sources) {
    out.push_back({"reward:" + source, describe(terms)});
  }
  return out;
}

}  // namespace ponder::reward
