#include "reward/reward.h"

#include <condition_variable>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "base/status.h"
#include "reward/internal/deadline_timer.h"
#include "reward/internal/thread_pool.h"

namespace ponder::reward {

struct Reward::Batch {
  std::mutex mu;
  std::vector<VerifyInput> inputs;
  std::vector<ItemResult> results;
  std::vector<bool> done;
  std::vector<bool> timed_out;

  bool TimedOut(size_t i) {
    std::lock_guard<std::mutex> lock(mu);
    return timed_out[i];
  }
  size_t remaining = 0;
  std::string verifier;
  absl::Duration timeout;
  std::function<void(std::vector<ItemResult>)> on_done;
  CancelFlag cancel;

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
  reward->timer_ = std::make_unique<internal::DeadlineTimer>();
  reward->pool_ = std::make_unique<internal::ThreadPool>(threads);
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

void Reward::RunItem(const std::shared_ptr<Batch>& batch, size_t index) const {
  if (batch->cancel && batch->cancel->load()) {
    ItemResult cancelled;
    cancelled.status = absl::CancelledError("the request was cancelled");
    batch->Finish(index, std::move(cancelled));
    return;
  }
  const absl::Time start = absl::Now();
  const absl::Time deadline = start + batch->timeout;
  std::weak_ptr<Batch> weak = batch;
  internal::ThreadPool* pool = pool_.get();
  const absl::Duration timeout = batch->timeout;
  uint64_t timer_id = timer_->At(deadline, [weak, index, pool, timeout] {
    std::shared_ptr<Batch> b = weak.lock();
    if (!b) return;
    ItemResult late;
    late.status = absl::DeadlineExceededError(
        absl::StrCat("scoring took longer than ", absl::FormatDuration(timeout)));
    late.seconds = absl::ToDoubleSeconds(timeout);
    // The verifier is still running on a pool thread: keep the pool's capacity.
    if (b->Finish(index, std::move(late), /*timeout=*/true)) pool->AddReplacementWorker();
  });
  VerifyInput& input = batch->inputs[index];
  input.deadline = deadline;
  absl::StatusOr<VerifyResult> scored = ScoreWith(batch->verifier, input);
  timer_->Cancel(timer_id);
  ItemResult result;
  result.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  if (scored.ok()) {
    result.result = *std::move(scored);
  } else {
    result.status = scored.status();
  }
  // Recorded already: the item timed out (a replacement worker was added) or was cancelled.
  if (!batch->Finish(index, std::move(result)) && batch->TimedOut(index)) pool_->ReplacementDone();
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
  batch->remaining = n;
  batch->verifier = options.verifier;
  batch->timeout =
      options.timeout > absl::ZeroDuration() ? options.timeout : absl::Seconds(options_.timeout_s);
  batch->on_done = std::move(done);
  batch->cancel = std::move(cancel);
  for (size_t i = 0; i < n; ++i) {
    pool_->Submit([this, batch, i] { RunItem(batch, i); });
  }
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
