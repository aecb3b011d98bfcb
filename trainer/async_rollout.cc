#include "trainer/async_rollout.h"

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/status.h"

namespace ponder::trainer {
namespace {

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

AsyncRollout::AsyncRollout(Parts parts) : parts_(std::move(parts)) {
  generate_thread_ = std::thread([this] { GenerateLoop(); });
  score_thread_ = std::thread([this] { ScoreLoop(); });
}

AsyncRollout::~AsyncRollout() {
  std::shared_ptr<rollout::GenerateCall> running;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    running = running_;
  }
  cv_.notify_all();
  if (running) running->Cancel();
  generate_thread_.join();
  score_thread_.join();
}

void AsyncRollout::Publish(std::shared_ptr<const WeightVersion> weights) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    const int64_t version = weights->version;
    weights_[version] = std::move(weights);
    // Versions below what the queued batches need are no longer needed.
    int64_t needed = version;
    for (const Pending& p : to_generate_) needed = std::min(needed, p.version);
    weights_.erase(weights_.begin(), weights_.lower_bound(needed));
  }
  cv_.notify_all();
}

absl::Status AsyncRollout::Submit(int64_t step, int64_t version,
                                  const std::vector<int64_t>& indices) {
  Pending batch;
  batch.step = step;
  batch.version = version;
  {
    std::lock_guard<std::mutex> lock(prompts_mu_);
    PONDER_ASSIGN_OR_RETURN(batch.request, IssuePrompts(parts_.context, indices, step, /*round=*/0,
                                                        parts_.prompts, &batch.counts));
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    to_generate_.push_back(std::move(batch));
    ++busy_;
  }
  cv_.notify_all();
  return absl::OkStatus();
}

void AsyncRollout::GenerateLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    const auto idle_start = std::chrono::steady_clock::now();
    cv_.wait(lock, [&] {
      if (stopping_) return true;
      if (to_generate_.empty()) return false;
      const int64_t version = to_generate_.front().version;
      return version <= parts_.rollout_version || weights_.count(version) > 0;
    });
    rollout_idle_s_ += SecondsSince(idle_start);
    if (stopping_) return;
    Pending batch = std::move(to_generate_.front());
    to_generate_.pop_front();
    std::shared_ptr<const WeightVersion> weights;
    if (auto it = weights_.find(batch.version); it != weights_.end()) weights = it->second;
    lock.unlock();
    absl::Status status;
    if (batch.version > parts_.rollout_version) {
      const auto start = std::chrono::steady_clock::now();
      status = parts_.rollout->UpdateWeights(batch.version, weights->tensors);
      batch.counts["timing/sync_s"] += SecondsSince(start);
      if (status.ok()) parts_.rollout_version = batch.version;
    }
    if (status.ok()) status = GenerateOne(&batch);
    lock.lock();
    if (!status.ok()) {
      failed_[batch.step] =
          Annotate(status, absl::StrCat("generating the batch of step ", batch.step + 1));
      --busy_;
    } else {
      to_score_.push_back(std::move(batch));
    }
    cv_.notify_all();
  }
}

absl::Status AsyncRollout::GenerateOne(Pending* batch) {
  struct Shared {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    absl::Status status;
    std::vector<rollout::Trajectory> trajectories;
  };
  auto shared = std::make_shared<Shared>();
  rollout::GenerateCallbacks callbacks;
  callbacks.on_trajectory = [shared](rollout::Trajectory t) {
    std::lock_guard<std::mutex> lock(shared->mu);
    shared->trajectories.push_back(std::move(t));
  };
  callbacks.on_done = [shared](absl::Status status) {
    std::lock_guard<std::mutex> lock(shared->mu);
    shared->status = std::move(status);
    shared->done = true;
    shared->cv.notify_all();
  };
  const auto start = std::chrono::steady_clock::now();
  PONDER_ASSIGN_OR_RETURN(std::shared_ptr<rollout::GenerateCall> call,
                          parts_.rollout->StartGenerate(batch->request, std::move(callbacks)));
  {
    std::lock_guard<std::mutex> lock(mu_);
    running_ = call;
    if (stopping_) call->Cancel();
  }
  {
    std::unique_lock<std::mutex> lock(shared->mu);
    shared->cv.wait(lock, [&] { return shared->done; });
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    running_.reset();
  }
  batch->counts["timing/gen_s"] += SecondsSince(start);
  PONDER_RETURN_IF_ERROR(shared->status);
  batch->trajectories = std::move(shared->trajectories);
  return absl::OkStatus();
}

void AsyncRollout::ScoreLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stopping_ || !to_score_.empty(); });
    if (stopping_) return;
    Pending batch = std::move(to_score_.front());
    to_score_.pop_front();
    lock.unlock();
    BatchResult result;
    result.step = batch.step;
    result.version = batch.version;
    absl::StatusOr<std::vector<Group>> groups;
    {
      std::lock_guard<std::mutex> prompts(prompts_mu_);
      groups = GroupTrajectories(parts_.context, batch.request, std::move(batch.trajectories),
                                 parts_.prompts, &batch.counts);
    }
    absl::Status status = groups.status();
    if (status.ok()) {
      const auto start = std::chrono::steady_clock::now();
      status = ScoreGroups(parts_.context, *parts_.reward, &*groups, &batch.counts);
      batch.counts["timing/reward_s"] += SecondsSince(start);
    }
    lock.lock();
    if (status.ok()) {
      result.groups = std::move(*groups);
      result.counts = std::move(batch.counts);
      done_[result.step] = std::move(result);
    } else {
      failed_[batch.step] =
          Annotate(status, absl::StrCat("scoring the batch of step ", batch.step + 1));
    }
    --busy_;
    cv_.notify_all();
  }
}

absl::StatusOr<BatchResult> AsyncRollout::Take(int64_t step, double* waited_s) {
  std::unique_lock<std::mutex> lock(mu_);
  const auto start = std::chrono::steady_clock::now();
  cv_.wait(lock, [&] {
    return done_.count(step) > 0 || failed_.count(step) > 0 || busy_ == 0 || stopping_;
  });
  if (waited_s != nullptr) *waited_s = SecondsSince(start);
  if (auto it = failed_.find(step); it != failed_.end()) return it->second;
  auto it = done_.find(step);
  if (it == done_.end()) {
    return absl::InternalError(absl::StrCat("the batch of step ", step + 1, " was never issued"));
  }
  BatchResult out = std::move(it->second);
  done_.erase(it);
  return out;
}

absl::StatusOr<std::vector<BatchResult>> AsyncRollout::Drain() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return busy_ == 0 || stopping_; });
  if (!failed_.empty()) return failed_.begin()->second;
  std::vector<BatchResult> out;
  for (const auto& [step, batch] : done_) out.push_back(batch);
  return out;
}

void AsyncRollout::Restore(std::vector<BatchResult> batches) {
  std::lock_guard<std::mutex> lock(mu_);
  for (BatchResult& b : batches) done_[b.step] = std::move(b);
}

double AsyncRollout::TakeRolloutIdleSeconds() {
  std::lock_guard<std::mutex> lock(mu_);
  const double idle = rollout_idle_s_;
  rollout_idle_s_ = 0;
  return idle;
}

}  // namespace ponder::trainer
