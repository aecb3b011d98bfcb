// RolloutPool, its workers: connecting, health probes, failures, joins and weights.
// Generation is in worker_pool.cc.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/crc32c.h"
#include "base/status.h"
#include "rollout/internal/worker_pool_impl.h"

namespace ponder::rollout {
namespace {

const char* StateName(PoolWorker::State state) {
  switch (state) {
    case PoolWorker::State::kJoining:
      return "joining";
    case PoolWorker::State::kAlive:
      return "alive";
    case PoolWorker::State::kFailed:
      return "failed";
    case PoolWorker::State::kGone:
      return "gone";
  }
  return "?";
}

// An owned copy of `tensors` in one buffer: a shared-memory file when `shared` (and /dev/shm
// has room), else the heap.
std::shared_ptr<const WeightSnapshot> Snapshot(int64_t version,
                                               const std::vector<WeightTensor>& tensors,
                                               bool shared) {
  size_t total = 0;
  for (const WeightTensor& t : tensors) total += t.bytes;
  auto snapshot = std::make_shared<WeightSnapshot>();
  snapshot->version = version;
  std::shared_ptr<const void> owner;
  char* base = nullptr;
  if (shared) {
    absl::StatusOr<std::shared_ptr<SharedWeightsFile>> file = SharedWeightsFile::Create(total);
    if (file.ok()) {
      snapshot->file = *file;
      owner = *file;
      base = (*file)->data();
    } else {
      spdlog::warn("weights go through the stream only: {}", std::string(file.status().message()));
    }
  }
  if (base == nullptr) {
    std::shared_ptr<char[]> buffer(new char[std::max<size_t>(total, 1)]);
    base = buffer.get();
    owner = std::shared_ptr<const void>(buffer, buffer.get());
  }
  size_t at = 0;
  for (const WeightTensor& t : tensors) {
    std::memcpy(base + at, t.data, t.bytes);
    if (snapshot->file) snapshot->crc32c = Crc32cExtend(snapshot->crc32c, base + at, t.bytes);
    snapshot->tensors.push_back({.name = t.name,
                                 .dtype = t.dtype,
                                 .shape = t.shape,
                                 .data = base + at,
                                 .bytes = t.bytes,
                                 .owner = owner});
    at += t.bytes;
  }
  return snapshot;
}

// Runs fn(i) for i in [0, n) on threads of their own and waits for all.
template <typename Fn>
void InParallel(size_t n, Fn fn) {
  std::vector<std::thread> threads;
  for (size_t i = 0; i < n; ++i) threads.emplace_back([&fn, i] { fn(i); });
  for (std::thread& t : threads) t.join();
}

}  // namespace

absl::Status RolloutPool::Impl::ConnectAll() {
  if (options_.addresses.empty()) {
    return absl::InvalidArgumentError("rollout.addresses: no rollout worker given");
  }
  std::vector<rpc::Endpoint> endpoints;
  for (const std::string& address : options_.addresses) {
    absl::StatusOr<std::vector<rpc::Endpoint>> found = rpc::Resolve(address);
    if (!found.ok()) return Annotate(found.status(), "rollout.addresses");
    endpoints.insert(endpoints.end(), found->begin(), found->end());
  }
  resolved_at_ = absl::Now();
  for (const rpc::Endpoint& endpoint : endpoints) {
    auto worker = std::make_shared<PoolWorker>();
    worker->endpoint = endpoint;
    GrpcBackendOptions client = options_.client;
    client.authority = endpoint.authority;
    client.connect_timeout = options_.connect_timeout;
    PONDER_ASSIGN_OR_RETURN(worker->client, GrpcRolloutBackend::Connect(endpoint.address, client));
    PONDER_ASSIGN_OR_RETURN(BackendStatus status, worker->client->GetStatus());
    worker->kv_budget = std::max<double>(1, static_cast<double>(status.kv_cache_bytes_budget));
    worker->max_context = status.max_context;
    workers_.push_back(std::move(worker));
  }
  return absl::OkStatus();
}

void RolloutPool::Impl::StartThreads() {
  health_thread_ = std::thread([this] { HealthLoop(); });
  join_thread_ = std::thread([this] { JoinLoop(); });
}

void RolloutPool::Impl::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  {
    // A join may be sending weights: do not wait for its deadline.
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& worker : workers_) {
      if (worker->client != nullptr) worker->client->CancelUpdates();
    }
  }
  if (health_thread_.joinable()) health_thread_.join();
  if (join_thread_.joinable()) join_thread_.join();
  std::vector<std::shared_ptr<PoolCall>> calls;
  {
    std::lock_guard<std::mutex> lock(mu_);
    calls.assign(calls_.begin(), calls_.end());
  }
  for (const auto& call : calls) CancelCall(call);
}

void RolloutPool::Impl::SubCallCount::Add() {
  std::lock_guard<std::mutex> lock(mu);
  ++running;
}

void RolloutPool::Impl::SubCallCount::Done() {
  std::lock_guard<std::mutex> lock(mu);
  if (--running == 0) cv.notify_all();
}

void RolloutPool::Impl::WaitForSubCalls() {
  // Stop cancelled every call, so each sub-call ends at once; the bound only keeps a stuck
  // transport from holding up the process's exit.
  constexpr absl::Duration kBound = absl::Seconds(30);
  std::unique_lock<std::mutex> lock(sub_calls_->mu);
  if (!sub_calls_->cv.wait_for(lock, absl::ToChronoNanoseconds(kBound),
                               [&] { return sub_calls_->running == 0; })) {
    spdlog::warn("rollout pool: {} calls to workers did not end within {} of stopping",
                 sub_calls_->running, absl::FormatDuration(kBound));
  }
}

// ---- Failures and health ------------------------------------------------------------------

std::vector<std::weak_ptr<GenerateCall>> RolloutPool::Impl::MarkFailed(
    const std::shared_ptr<PoolWorker>& worker, const std::string& why, int64_t epoch) {
  std::vector<std::weak_ptr<GenerateCall>> calls;
  std::lock_guard<std::mutex> lock(mu_);
  if (worker->state != PoolWorker::State::kAlive && worker->state != PoolWorker::State::kJoining) {
    return calls;
  }
  if (epoch >= 0 && epoch != worker->epoch) return calls;
  ++worker->epoch;
  orphaned_.insert(worker->paused.begin(), worker->paused.end());
  worker->paused.clear();
  worker->state = PoolWorker::State::kFailed;
  ++worker->failures;
  ++counts_.failures;
  worker->last_error = why;
  worker->version = -1;
  worker->misses = 0;
  calls.swap(worker->calls);
  spdlog::warn("rollout worker {} failed: {}; its unfinished prompts go to the other workers",
               worker->endpoint.address, why);
  if (worker->client != nullptr) worker->client->CancelUpdates();
  return calls;
}

void RolloutPool::Impl::Fail(const std::shared_ptr<PoolWorker>& worker, const std::string& why,
                             int64_t epoch) {
  for (const auto& weak : MarkFailed(worker, why, epoch)) {
    if (std::shared_ptr<GenerateCall> call = weak.lock()) call->Cancel();
  }
}

void RolloutPool::Impl::Probe(const std::shared_ptr<PoolWorker>& worker) {
  PoolWorker::State state;
  {
    std::lock_guard<std::mutex> lock(mu_);
    state = worker->state;
  }
  if (state == PoolWorker::State::kGone) return;
  if (worker->client == nullptr) {  // never connected: Join connects it
    std::lock_guard<std::mutex> lock(mu_);
    if (worker->state == PoolWorker::State::kFailed) QueueJoinLocked(worker);
    return;
  }
  const absl::Status health = worker->client->CheckHealth(options_.health_timeout);
  absl::StatusOr<BackendStatus> status = absl::UnavailableError("not asked");
  // Its status, unless weights are on their way to it (its version is then changing).
  std::unique_lock<std::mutex> sync(worker->sync_mu, std::try_to_lock);
  if (health.ok() && state == PoolWorker::State::kAlive && sync.owns_lock()) {
    status = worker->client->GetStatus();
  }
  std::string restarted;
  bool fail = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (health.ok()) {
      worker->misses = 0;
      worker->last_answer = absl::Now();
      if (status.ok()) {
        worker->kv_used = static_cast<double>(status->kv_cache_bytes_used);
        worker->kv_budget = std::max<double>(1, static_cast<double>(status->kv_cache_bytes_budget));
        const int64_t expected = worker->version + worker->offset;
        if (worker->state == PoolWorker::State::kAlive && status->weight_version != expected) {
          restarted = absl::StrCat("it holds weight version ", status->weight_version,
                                   " of its own, not ", expected, " (restarted?)");
        }
      }
      if (worker->state == PoolWorker::State::kFailed) QueueJoinLocked(worker);
    } else if (worker->state == PoolWorker::State::kAlive) {
      worker->last_error = std::string(health.message());
      fail = ++worker->misses >= options_.health_misses;
    }
  }
  if (sync.owns_lock()) sync.unlock();  // not taken while weights were on their way
  if (!restarted.empty()) Fail(worker, restarted);
  if (fail) {
    Fail(worker, absl::StrCat("missed ", options_.health_misses, " health checks in a row (each ",
                              absl::FormatDuration(options_.health_timeout),
                              ", rollout.health_timeout_s): ", health.message()));
  }
}

void RolloutPool::Impl::Resolve() {
  if (absl::Now() - resolved_at_ < options_.resolve_interval) return;
  resolved_at_ = absl::Now();
  std::vector<rpc::Endpoint> endpoints;
  for (const std::string& address : options_.addresses) {
    absl::StatusOr<std::vector<rpc::Endpoint>> found = rpc::Resolve(address);
    if (!found.ok()) {
      spdlog::warn("rollout.addresses: {} (keeping the workers it had)",
                   std::string(found.status().message()));
      return;
    }
    endpoints.insert(endpoints.end(), found->begin(), found->end());
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& worker : workers_) {
    const bool listed =
        std::find(endpoints.begin(), endpoints.end(), worker->endpoint) != endpoints.end();
    if (!listed && worker->state != PoolWorker::State::kGone) {
      spdlog::info("rollout worker {} is no longer among rollout.addresses",
                   worker->endpoint.address);
      worker->state = PoolWorker::State::kGone;
    } else if (listed && worker->state == PoolWorker::State::kGone) {
      worker->state = PoolWorker::State::kFailed;  // back: probed, then it joins
    }
  }
  for (const rpc::Endpoint& endpoint : endpoints) {
    bool known = false;
    for (auto& worker : workers_) known = known || worker->endpoint == endpoint;
    if (known) continue;
    auto worker = std::make_shared<PoolWorker>();
    worker->endpoint = endpoint;
    spdlog::info("rollout worker {} appeared (from {})", endpoint.address, endpoint.source);
    workers_.push_back(worker);
    QueueJoinLocked(worker);
  }
}

void RolloutPool::Impl::HealthLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, absl::ToChronoMilliseconds(options_.health_interval));
    if (stopping_) break;
    lock.unlock();
    Resolve();
    std::vector<std::shared_ptr<PoolWorker>> workers;
    {
      std::lock_guard<std::mutex> copy(mu_);
      // Forget workers that left and owe nothing.
      workers_.erase(std::remove_if(workers_.begin(), workers_.end(),
                                    [](const std::shared_ptr<PoolWorker>& w) {
                                      return w->state == PoolWorker::State::kGone &&
                                             w->in_flight == 0;
                                    }),
                     workers_.end());
      workers = workers_;
    }
    InParallel(workers.size(), [&](size_t i) { Probe(workers[i]); });
    DispatchWaiting();
    lock.lock();
  }
}

// ---- Joining: the newest weights before any work ------------------------------------------

void RolloutPool::Impl::QueueJoinLocked(const std::shared_ptr<PoolWorker>& worker) {
  if (worker->join_queued) return;
  worker->join_queued = true;
  worker->state = PoolWorker::State::kJoining;
  join_queue_.push_back(worker);
  cv_.notify_all();
}

void RolloutPool::Impl::JoinLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stopping_ || !join_queue_.empty(); });
    if (stopping_) return;
    std::shared_ptr<PoolWorker> worker = join_queue_.front();
    join_queue_.erase(join_queue_.begin());
    lock.unlock();
    const absl::Status joined = Join(worker);
    lock.lock();
    worker->join_queued = false;
    if (worker->state != PoolWorker::State::kJoining) continue;  // gone meanwhile
    if (!joined.ok()) {
      worker->state = PoolWorker::State::kFailed;
      worker->last_error = std::string(joined.message());
      spdlog::warn("rollout worker {} could not join: {}", worker->endpoint.address,
                   std::string(joined.message()));
      continue;
    }
    if (latest_ == nullptr) continue;  // joins with the first weights
    worker->state = PoolWorker::State::kAlive;
    ++counts_.joins;
    spdlog::info("rollout worker {} joined with weight version {}", worker->endpoint.address,
                 worker->version);
    lock.unlock();
    DispatchWaiting();
    lock.lock();
  }
}

absl::Status RolloutPool::Impl::Join(const std::shared_ptr<PoolWorker>& worker) {
  if (worker->client == nullptr) {
    GrpcBackendOptions client = options_.client;
    client.authority = worker->endpoint.authority;
    client.connect_timeout = options_.health_timeout;
    PONDER_ASSIGN_OR_RETURN(worker->client,
                            GrpcRolloutBackend::Connect(worker->endpoint.address, client));
  }
  PONDER_ASSIGN_OR_RETURN(BackendStatus status, worker->client->GetStatus());
  {
    std::lock_guard<std::mutex> lock(mu_);
    worker->kv_budget = std::max<double>(1, static_cast<double>(status.kv_cache_bytes_budget));
    worker->max_context = status.max_context;
    worker->version = -1;  // its process may have restarted: map versions afresh
  }
  while (true) {
    std::shared_ptr<const WeightSnapshot> snapshot;
    {
      std::lock_guard<std::mutex> lock(mu_);
      snapshot = latest_;
    }
    if (snapshot == nullptr) return absl::OkStatus();
    PONDER_RETURN_IF_ERROR(Push(worker, snapshot));
    std::lock_guard<std::mutex> lock(mu_);
    if (latest_ == snapshot) return absl::OkStatus();  // else catch up with the newest
  }
}

absl::Status RolloutPool::Impl::Push(const std::shared_ptr<PoolWorker>& worker,
                                     const std::shared_ptr<const WeightSnapshot>& snapshot) {
  std::lock_guard<std::mutex> sync(worker->sync_mu);
  bool map_versions = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (worker->version >= snapshot->version) return absl::OkStatus();
    map_versions = worker->version < 0;
  }
  if (map_versions) {
    PONDER_ASSIGN_OR_RETURN(BackendStatus status, worker->client->GetStatus());
    std::lock_guard<std::mutex> lock(mu_);
    worker->offset = status.weight_version + 1 - snapshot->version;
  }
  int64_t offset;
  {
    std::lock_guard<std::mutex> lock(mu_);
    offset = worker->offset;
  }
  bool shared = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    shared = snapshot->file != nullptr && worker->shared_memory;
  }
  absl::Status sent = absl::FailedPreconditionError("streamed");
  if (shared) {
    sent = worker->client->UpdateWeightsShared(snapshot->version + offset, snapshot->tensors,
                                               *snapshot->file, snapshot->crc32c);
    if (sent.code() == absl::StatusCode::kFailedPrecondition) {
      spdlog::info("rollout worker {} gets weights through the stream: {}",
                   worker->endpoint.address, std::string(sent.message()));
      std::lock_guard<std::mutex> lock(mu_);
      worker->shared_memory = false;
    }
  }
  if (sent.code() == absl::StatusCode::kFailedPrecondition) {
    sent = worker->client->UpdateWeights(snapshot->version + offset, snapshot->tensors);
  }
  PONDER_RETURN_IF_ERROR(sent);
  std::lock_guard<std::mutex> lock(mu_);
  worker->version = snapshot->version;
  worker->last_answer = absl::Now();
  return absl::OkStatus();
}

absl::Status RolloutPool::Impl::UpdateWeights(int64_t version,
                                              const std::vector<WeightTensor>& tensors) {
  std::shared_ptr<const WeightSnapshot> snapshot =
      Snapshot(version, tensors, options_.shared_memory);
  std::vector<std::shared_ptr<PoolWorker>> targets;
  bool first = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (latest_ != nullptr && version <= latest_->version) {
      return absl::InvalidArgumentError(
          absl::StrCat("weight version ", version, " is not above the pool's ", latest_->version));
    }
    first = latest_ == nullptr;
    latest_ = snapshot;
    for (const auto& worker : workers_) {
      const bool waiting_for_first =
          first && worker->state == PoolWorker::State::kJoining && !worker->join_queued;
      if (worker->state == PoolWorker::State::kAlive || waiting_for_first) {
        targets.push_back(worker);
      }
    }
  }
  std::vector<absl::Status> results(targets.size());
  InParallel(targets.size(), [&](size_t i) { results[i] = Push(targets[i], snapshot); });
  for (size_t i = 0; i < targets.size(); ++i) {
    if (!results[i].ok()) {
      if (first) return Annotate(results[i], "the first weights");
      Fail(targets[i], absl::StrCat("weight update failed: ", results[i].message()));
    } else if (first) {
      std::lock_guard<std::mutex> lock(mu_);
      if (targets[i]->state == PoolWorker::State::kJoining) {
        targets[i]->state = PoolWorker::State::kAlive;
      }
    }
  }
  return absl::OkStatus();
}

// ---- Reports ------------------------------------------------------------------------------

absl::StatusOr<BackendStatus> RolloutPool::Impl::GetStatus() {
  std::lock_guard<std::mutex> lock(mu_);
  BackendStatus out;
  out.weight_version = latest_ != nullptr ? latest_->version : -1;
  bool first = true;
  for (const auto& worker : workers_) {
    if (worker->state == PoolWorker::State::kGone || worker->max_context == 0) continue;
    out.active_sequences += static_cast<uint32_t>(std::max<int64_t>(0, worker->in_flight));
    out.kv_cache_bytes_used += static_cast<uint64_t>(worker->kv_used);
    out.kv_cache_bytes_budget += static_cast<uint64_t>(worker->kv_budget);
    out.max_context = first ? worker->max_context : std::min(out.max_context, worker->max_context);
    first = false;
  }
  out.model = "rollout pool";
  return out;
}

std::vector<rpc::WorkerStatus> RolloutPool::Impl::Workers() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<rpc::WorkerStatus> out;
  const absl::Time now = absl::Now();
  for (const auto& worker : workers_) {
    rpc::WorkerStatus w;
    w.role = "rollout";
    w.address = worker->endpoint.address;
    w.source = worker->endpoint.source;
    w.state = StateName(worker->state);
    w.weight_version = worker->version;
    w.in_flight = worker->in_flight;
    w.served = worker->served;
    w.failures = worker->failures;
    w.kv_cache_use = worker->kv_budget > 1 ? worker->kv_used / worker->kv_budget : 0;
    w.seconds_since_answer = absl::ToDoubleSeconds(now - worker->last_answer);
    w.last_error = worker->last_error;
    out.push_back(std::move(w));
  }
  return out;
}

PoolCounts RolloutPool::Impl::Counts() const {
  std::lock_guard<std::mutex> lock(mu_);
  return counts_;
}

}  // namespace ponder::rollout
