#include "rollout/engine.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status.h"
#include "model/checkpoint.h"
#include "model/decoder.h"
#include "model/kv_cache.h"
#include "model/tokenizer.h"
#include "rollout/internal/sample_rows.h"
#include "rollout/internal/scheduler.h"
#include "rollout/internal/sequence.h"
#include "rollout/partial_rollout_store.h"
#include "rollout/sampler.h"

namespace ponder::rollout {

using internal::PromptData;
using internal::RequestState;
using internal::Scheduler;
using internal::Sequence;
using internal::SequenceGroup;

EngineOptions EngineOptions::FromConfig(const RolloutOptions& config) {
  EngineOptions o;
  o.max_seq_len = config.max_seq_len;
  o.kv_cache_bytes = config.kv_cache_bytes;
  o.max_running = config.max_running;
  o.max_step_tokens = config.max_step_tokens;
  o.kv_block_size = config.kv_block_size;
  o.partial_store_dir = config.partial_store_dir;
  return o;
}

namespace {

class CallHandle : public GenerateCall {
 public:
  explicit CallHandle(std::weak_ptr<RequestState> request) : request_(std::move(request)) {}
  void Cancel() override {
    if (std::shared_ptr<RequestState> r = request_.lock()) r->cancelled = true;
  }

 private:
  std::weak_ptr<RequestState> request_;
};

at::ScalarType ToScalarType(WeightDType dtype) {
  switch (dtype) {
    case WeightDType::kF32:
      return at::kFloat;
    case WeightDType::kF16:
      return at::kHalf;
    case WeightDType::kBF16:
      return at::kBFloat16;
    case WeightDType::kF64:
      return at::kDouble;
  }
  return at::kFloat;
}

}  // namespace

class RolloutEngine::Impl {
 public:
  Impl(model::Decoder model, std::shared_ptr<const model::Tokenizer> tokenizer,
       model::KvCache cache, std::unique_ptr<PartialRolloutStore> store,
       const EngineOptions& options, const Scheduler::Options& scheduling)
      : model_(std::move(model)),
        tokenizer_(std::move(tokenizer)),
        scheduler_(std::move(cache), scheduling),
        store_(std::move(store)),
        options_(options),
        version_(options.initial_version) {
    vocab_ = model_->config().vocab_size;
    for (const auto& p : model_->named_parameters()) params_.emplace(p.key(), p.value());
    PublishStatus();
    thread_ = std::thread([this] { Run(); });
  }

  ~Impl() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  RequestLimits limits() const { return {vocab_, cache().max_seq_len(), tokenizer_ != nullptr}; }

  absl::StatusOr<std::shared_ptr<GenerateCall>> Start(GenerateRequest request,
                                                      GenerateCallbacks callbacks) {
    PONDER_RETURN_IF_ERROR(ValidateRequest(request, limits()));
    {
      std::lock_guard<std::mutex> lock(store_mu_);
      for (const PromptRequest& p : request.prompts) {
        if (store_->HasPrompt(p.prompt_index)) {
          return absl::InvalidArgumentError(absl::StrCat(
              "prompt_index ", p.prompt_index,
              " has paused partial rollouts in the store; resume them (resume_paused) or use "
              "another prompt_index"));
        }
      }
    }
    auto state = std::make_shared<RequestState>();
    state->callbacks = std::move(callbacks);
    state->return_text = request.return_text;
    state->deadline = request.deadline;
    auto handle = std::make_shared<CallHandle>(state);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return absl::UnavailableError("the rollout engine is shutting down");
      state->id = next_request_id_++;
      incoming_.push_back({std::move(state), std::move(request)});
    }
    cv_.notify_all();
    return std::shared_ptr<GenerateCall>(std::move(handle));
  }

  absl::Status Advance(int64_t version, std::function<absl::Status()> fn) {
    PendingUpdate update;
    update.version = version;
    update.apply = std::move(fn);
    std::future<absl::Status> result = update.result.get_future();
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return absl::UnavailableError("the rollout engine is shutting down");
      updates_.push_back(std::move(update));
    }
    cv_.notify_all();
    return result.get();
  }

  absl::Status Update(int64_t version, const std::vector<WeightTensor>& tensors) {
    // Check everything before anything is copied.
    std::unordered_map<std::string, const WeightTensor*> given;
    for (const WeightTensor& t : tensors) {
      auto it = params_.find(t.name);
      if (it == params_.end()) {
        return absl::InvalidArgumentError(
            absl::StrCat("UpdateWeights: the model has no parameter '", t.name, "'"));
      }
      if (!given.emplace(t.name, &t).second) {
        return absl::InvalidArgumentError(
            absl::StrCat("UpdateWeights: parameter '", t.name, "' is given twice"));
      }
      const at::Tensor& p = it->second;
      if (std::vector<int64_t>(p.sizes().begin(), p.sizes().end()) != t.shape) {
        return absl::InvalidArgumentError(absl::StrCat(
            "UpdateWeights: parameter '", t.name, "' has shape [", absl::StrJoin(p.sizes(), ", "),
            "], the update [", absl::StrJoin(t.shape, ", "), "]"));
      }
      if (t.bytes != static_cast<size_t>(p.numel()) * WeightDTypeSize(t.dtype) ||
          (t.data == nullptr && t.bytes > 0)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "UpdateWeights: parameter '", t.name, "' has ", t.bytes, " bytes of ",
            WeightDTypeName(t.dtype), ", expected ", p.numel() * WeightDTypeSize(t.dtype)));
      }
    }
    if (given.size() != params_.size()) {
      std::vector<std::string> missing;
      for (const auto& [name, p] : params_) {
        if (given.count(name) == 0) missing.push_back(name);
      }
      std::sort(missing.begin(), missing.end());
      if (missing.size() > 5) {
        const size_t more = missing.size() - 5;
        missing.resize(5);
        missing.push_back(absl::StrCat("and ", more, " more"));
      }
      return absl::InvalidArgumentError(
          absl::StrCat("UpdateWeights: an update must hold every parameter; missing: ",
                       absl::StrJoin(missing, ", ")));
    }
    return Advance(version, [this, &tensors]() -> absl::Status {
      for (const WeightTensor& t : tensors) {
        at::Tensor& p = params_.at(t.name);
        if (t.data == p.data_ptr() && ToScalarType(t.dtype) == p.scalar_type()) continue;
        at::Tensor src = at::from_blob(const_cast<void*>(t.data), t.shape,
                                       at::TensorOptions().dtype(ToScalarType(t.dtype)));
        p.copy_(src);
      }
      return absl::OkStatus();
    });
  }

  BackendStatus Status() {
    std::lock_guard<std::mutex> lock(mu_);
    BackendStatus s = status_;
    s.weight_version = version_;
    s.kv_cache_bytes_budget =
        static_cast<uint64_t>(cache().num_blocks() * cache().bytes_per_block());
    s.model = options_.model_name;
    s.max_context = static_cast<uint32_t>(cache().max_seq_len());
    return s;
  }

  int64_t version() const {
    std::lock_guard<std::mutex> lock(mu_);
    return version_;
  }
  Counters counters() const {
    std::lock_guard<std::mutex> lock(mu_);
    return counters_;
  }
  const model::KvCache& cache() const { return scheduler_.cache(); }
  int64_t vocab() const { return vocab_; }

 private:
  struct Incoming {
    std::shared_ptr<RequestState> state;
    GenerateRequest request;
  };
  struct PendingUpdate {
    int64_t version = 0;
    std::function<absl::Status()> apply;
    std::promise<absl::Status> result;
  };

  // ---- The scheduler thread ----

  void Run() {
    while (true) {
      std::deque<Incoming> incoming;
      std::deque<PendingUpdate> updates;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] {
          return stop_ || !incoming_.empty() || !updates_.empty() || !scheduler_.idle();
        });
        if (stop_) break;
        incoming.swap(incoming_);
        updates.swap(updates_);
      }
      ApplyUpdates(updates);
      for (Incoming& in : incoming) Accept(std::move(in));
      SweepCancelled();
      if (!scheduler_.idle()) GuardedStep();
      PublishStatus();
    }
    Shutdown();
  }

  void ApplyUpdates(std::deque<PendingUpdate>& updates) {
    for (PendingUpdate& u : updates) {
      int64_t current;
      {
        std::lock_guard<std::mutex> lock(mu_);
        current = version_;
      }
      if (u.version <= current) {
        u.result.set_value(absl::InvalidArgumentError(absl::StrCat(
            "weight version ", u.version, " is not above the current version ", current)));
        continue;
      }
      absl::Status status;
      try {
        at::NoGradGuard no_grad;
        if (u.apply) status = u.apply();
      } catch (const c10::Error& e) {
        status =
            absl::InternalError(absl::StrCat("weight update failed: ", e.what_without_backtrace()));
      } catch (const std::exception& e) {
        status = absl::InternalError(absl::StrCat("weight update failed: ", e.what()));
      }
      if (status.ok()) {
        std::lock_guard<std::mutex> lock(mu_);
        version_ = u.version;
      }
      u.result.set_value(status);
    }
  }

  void Accept(Incoming in) {
    std::shared_ptr<RequestState> state = std::move(in.state);
    requests_.push_back(state);
    for (PromptRequest& p : in.request.prompts) {
      // Parameters at the precision the wire carries them (float), so that a request gives
      // the same samples in process and over gRPC.
      SamplingOptions& s = p.sampling;
      s.temperature = static_cast<float>(s.temperature);
      s.top_p = static_cast<float>(s.top_p);
      s.min_p = static_cast<float>(s.min_p);
      s.repetition_penalty = static_cast<float>(s.repetition_penalty);
      auto prompt = std::make_shared<PromptData>(
          PromptData{p.prompt_index, std::move(p.token_ids), std::move(p.sampling)});
      SequenceGroup group;
      for (uint32_t i = 0; i < p.n; ++i) {
        group.push_back(std::make_unique<Sequence>(state, prompt, i, tokenizer_.get(), vocab_));
      }
      state->outstanding += p.n;
      scheduler_.Enqueue(std::move(group));
    }
    if (in.request.resume_paused) {
      std::vector<PausedRollout> paused;
      {
        std::lock_guard<std::mutex> lock(store_mu_);
        paused = store_->TakeWaiting();
      }
      for (PausedRollout& r : paused) {
        SequenceGroup group;
        group.push_back(std::make_unique<Sequence>(state, std::move(r), tokenizer_.get(), vocab_));
        ++state->outstanding;
        scheduler_.Enqueue(std::move(group));
      }
    }
    if (state->outstanding == 0) FinishRequest(*state);
  }

  // Cancelled or expired requests: their samples come back now and their slots are freed.
  void SweepCancelled() {
    const absl::Time now = absl::Now();
    bool any = false;
    for (const auto& r : requests_) {
      if (r->done || !r->end_status.ok()) continue;
      if (r->cancelled) {
        r->end_status = absl::CancelledError("the generate call was cancelled");
        any = true;
      } else if (now >= r->deadline) {
        r->end_status = absl::DeadlineExceededError("the generate call passed its deadline");
        any = true;
      }
    }
    if (any) AbortWhere([](const RequestState& r) { return !r.end_status.ok(); });
  }

  // Ends every sample whose request matches, freeing its blocks: resumed partial rollouts go
  // back to the store (kPaused), the others come back as kAborted.
  template <typename Pred>
  void AbortWhere(Pred pred) {
    scheduler_.RemoveWhere(
        [&](const Sequence& seq) { return pred(seq.request()); },
        [&](std::unique_ptr<Sequence> seq) {
          Deliver(*seq, seq->resumed() ? FinishReason::kPaused : FinishReason::kAborted);
        });
  }

  // One step; an exception out of it (LibTorch's, outside the decoder's own guard, e.g. in
  // moving or sampling the logits) ends every request in flight with the error, and the
  // engine goes on serving the next ones.
  void GuardedStep() {
    std::string failure;
    try {
      StepOnce();
      return;
    } catch (const c10::Error& e) {
      failure = absl::StrCat("LibTorch: ", e.what_without_backtrace());
    } catch (const std::exception& e) {
      failure = e.what();
    }
    const absl::Status error =
        absl::InternalError(absl::StrCat("rollout engine: a generation step failed: ", failure));
    spdlog::error("{}", error.ToString());
    for (const auto& r : requests_) {
      if (!r->done && r->end_status.ok()) r->end_status = error;
    }
    AbortWhere([](const RequestState& r) { return !r.end_status.ok(); });
  }

  void StepOnce() {
    Scheduler::Plan plan = scheduler_.PlanStep();
    {
      std::lock_guard<std::mutex> lock(mu_);
      counters_.peak_running = std::max(counters_.peak_running, scheduler_.num_running());
      counters_.preemptions = scheduler_.preemptions();
    }
    if (plan.empty()) return;
    absl::StatusOr<at::Tensor> logits =
        model_->Step(scheduler_.mutable_cache(), plan.slots, plan.tokens);
    if (!logits.ok()) {
      spdlog::error("rollout engine: decode step failed: {}", logits.status().ToString());
      const absl::Status error = logits.status();
      for (Sequence* seq : plan.rows) {
        if (seq->request().end_status.ok()) seq->request().end_status = error;
      }
      AbortWhere([](const RequestState& r) { return !r.end_status.ok(); });
      return;
    }
    int64_t version;
    {
      std::lock_guard<std::mutex> lock(mu_);
      version = version_;
      counters_.peak_kv_blocks = std::max(counters_.peak_kv_blocks, scheduler_.blocks_in_use());
    }
    // Who samples now (their context is all in the cache), and from which row.
    const std::vector<Scheduler::Sampler> samplers = scheduler_.Commit(plan);
    std::vector<internal::RowSampler> rows;
    for (const Scheduler::Sampler& s : samplers) rows.push_back({s.seq, s.row});
    const at::Tensor cpu_logits = logits->to(at::kCPU, at::kFloat).contiguous();
    if (cpu_logits.dim() != 2 || cpu_logits.size(0) != static_cast<int64_t>(plan.rows.size()) ||
        cpu_logits.size(1) != vocab_) {
      throw std::runtime_error(absl::StrCat("the model's logits have shape [",
                                            absl::StrJoin(cpu_logits.sizes(), ", "),
                                            "], expected [", plan.rows.size(), ", ", vocab_, "]"));
    }
    const std::vector<TokenChoice> choices =
        internal::SampleRows(cpu_logits.data_ptr<float>(), vocab_, rows);

    const auto generated = static_cast<int64_t>(samplers.size());
    std::vector<std::pair<Sequence*, FinishReason>> finished;
    for (size_t i = 0; i < samplers.size(); ++i) {
      Sequence* seq = samplers[i].seq;
      seq->decoding = true;
      std::optional<FinishReason> end =
          seq->Append(choices[i].token, choices[i].logprob, version, cache().max_seq_len());
      if (end.has_value()) finished.emplace_back(seq, *end);
    }
    // Count the step before anything is delivered, so that a caller told about a finished
    // sample sees its tokens in the counters and the status.
    {
      std::lock_guard<std::mutex> lock(mu_);
      counters_.steps += 1;
      counters_.prefill_tokens += plan.prefill_tokens;
      counters_.decode_tokens += generated;
      status_.generated_tokens_total += static_cast<uint64_t>(generated);
      const auto now = std::chrono::steady_clock::now();
      recent_.push_back({now, generated});
      while (!recent_.empty() && now - recent_.front().first > std::chrono::seconds(5)) {
        recent_.pop_front();
      }
    }
    for (auto& [seq, reason] : finished) {
      std::unique_ptr<Sequence> done = scheduler_.Remove(seq);
      Deliver(*done, reason);
    }
    EndFailedForks();
  }

  // Samples that could not fork their prompt's blocks (Scheduler::Commit) end, and the rest
  // of their requests with them, with the scheduler's error.
  void EndFailedForks() {
    std::vector<std::unique_ptr<Sequence>> failed = scheduler_.TakeFailed();
    if (failed.empty()) return;
    for (auto& seq : failed) Deliver(*seq, FinishReason::kAborted);
    AbortWhere([](const RequestState& r) { return !r.end_status.ok(); });
  }

  // Hands a sample (which holds no blocks any more) back to its caller.
  void Deliver(Sequence& seq, FinishReason reason) {
    const PartialRolloutStore::Key key{seq.prompt().prompt_index, seq.sample_index()};
    if (reason == FinishReason::kPaused) {
      std::lock_guard<std::mutex> lock(store_mu_);
      absl::Status stored = store_->Put(seq.ToPaused());
      if (!stored.ok()) {
        spdlog::error("rollout engine: cannot store a paused rollout: {}", stored.ToString());
        reason = FinishReason::kAborted;
      }
    } else if (seq.resumed()) {
      std::lock_guard<std::mutex> lock(store_mu_);
      store_->Remove(key).IgnoreError();
    }
    RequestState& request = seq.request();
    int64_t version;
    {
      std::lock_guard<std::mutex> lock(mu_);
      version = version_;
    }
    if (request.callbacks.on_trajectory) {
      request.callbacks.on_trajectory(seq.ToTrajectory(reason, version, tokenizer_.get()));
    }
    if (--request.outstanding == 0) FinishRequest(request);
  }

  void FinishRequest(RequestState& request) {
    request.done = true;
    PublishStatus();  // a caller that was told "done" sees the slots free
    if (request.callbacks.on_done) request.callbacks.on_done(request.end_status);
    requests_.erase(std::remove_if(requests_.begin(), requests_.end(),
                                   [&](const auto& r) { return r.get() == &request; }),
                    requests_.end());
  }

  void PublishStatus() {
    const auto waiting = static_cast<uint32_t>(scheduler_.num_waiting());
    uint32_t paused;
    {
      std::lock_guard<std::mutex> lock(store_mu_);
      paused = static_cast<uint32_t>(store_->num_waiting());
    }
    const auto running = static_cast<uint32_t>(scheduler_.num_running());
    const auto kv_bytes =
        static_cast<uint64_t>(scheduler_.blocks_in_use() * cache().bytes_per_block());
    std::lock_guard<std::mutex> lock(mu_);
    status_.active_sequences = running;
    status_.waiting_sequences = waiting;
    status_.paused_sequences = paused;
    status_.kv_cache_bytes_used = kv_bytes;
    double tokens = 0;
    for (const auto& [t, n] : recent_) tokens += static_cast<double>(n);
    double seconds = 0;
    if (recent_.size() >= 2) {
      seconds = std::chrono::duration<double>(recent_.back().first - recent_.front().first).count();
      tokens -= static_cast<double>(recent_.front().second);
    }
    status_.gen_tokens_per_s = seconds > 0 ? tokens / seconds : 0;
  }

  void Shutdown() {
    std::deque<Incoming> incoming;
    std::deque<PendingUpdate> updates;
    {
      std::lock_guard<std::mutex> lock(mu_);
      incoming.swap(incoming_);
      updates.swap(updates_);
    }
    for (PendingUpdate& u : updates) {
      u.result.set_value(absl::UnavailableError("the rollout engine shut down"));
    }
    for (Incoming& in : incoming) Accept(std::move(in));
    for (const auto& r : requests_) {
      if (r->end_status.ok()) r->end_status = absl::CancelledError("the rollout engine shut down");
    }
    AbortWhere([](const RequestState&) { return true; });
    // Requests with nothing left to deliver (e.g. all samples already out) still get on_done.
    while (!requests_.empty()) FinishRequest(*requests_.front());
  }

  model::Decoder model_;
  std::shared_ptr<const model::Tokenizer> tokenizer_;
  Scheduler scheduler_;  // owns the KV cache; scheduler thread only
  std::unique_ptr<PartialRolloutStore> store_;
  EngineOptions options_;
  int64_t vocab_ = 0;
  std::unordered_map<std::string, at::Tensor> params_;

  // Shared with callers.
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::deque<Incoming> incoming_;
  std::deque<PendingUpdate> updates_;
  int64_t version_ = 0;
  uint64_t next_request_id_ = 1;
  BackendStatus status_;
  Counters counters_;
  std::deque<std::pair<std::chrono::steady_clock::time_point, int64_t>> recent_;
  std::mutex store_mu_;  // the store: scheduler thread, and Start's prompt check

  // Scheduler thread only.
  std::vector<std::shared_ptr<RequestState>> requests_;
  std::thread thread_;
};

// ---- RolloutEngine ----

absl::StatusOr<std::unique_ptr<RolloutEngine>> RolloutEngine::Create(
    std::shared_ptr<model::DecoderImpl> model, const EngineOptions& options,
    std::shared_ptr<const model::Tokenizer> tokenizer) {
  if (model == nullptr) return absl::InvalidArgumentError("RolloutEngine: no model");
  const model::ModelConfig& config = model->config();
  if (options.max_seq_len < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("rollout.max_seq_len must be >= 0 (got ", options.max_seq_len, ")"));
  }
  const int64_t max_seq_len =
      options.max_seq_len > 0 ? options.max_seq_len : config.max_position_embeddings;
  if (max_seq_len > config.max_position_embeddings) {
    return absl::InvalidArgumentError(absl::StrCat("rollout.max_seq_len ", max_seq_len,
                                                   " exceeds the model's max_position_embeddings ",
                                                   config.max_position_embeddings));
  }
  if (options.max_step_tokens < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("rollout.max_step_tokens must be >= 1 (got ", options.max_step_tokens, ")"));
  }
  if (options.max_running < 0 || options.kv_cache_bytes <= 0) {
    return absl::InvalidArgumentError(
        "rollout.max_running must be >= 0 and rollout.kv_cache_bytes > 0");
  }
  if (options.kv_block_size < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("rollout.kv_block_size must be >= 1 (got ", options.kv_block_size, ")"));
  }
  // Every running sample decodes a row per step, so the step's token budget also bounds them.
  Scheduler::Options scheduling;
  scheduling.max_running = options.max_running > 0 ? options.max_running : options.max_step_tokens;
  scheduling.max_step_tokens = options.max_step_tokens;
  model::KvCacheOptions cache_options;
  cache_options.max_seq_len = max_seq_len;
  cache_options.memory_budget_bytes = options.kv_cache_bytes;
  cache_options.block_size = options.kv_block_size;
  cache_options.num_slots = scheduling.max_running;
  absl::StatusOr<model::KvCache> cache =
      model::KvCache::Create(config, cache_options, model->dtype(), model->device());
  if (!cache.ok()) return Annotate(cache.status(), "rollout.kv_cache_bytes");
  absl::StatusOr<std::unique_ptr<PartialRolloutStore>> store =
      PartialRolloutStore::Open(options.partial_store_dir);
  if (!store.ok()) return store.status();
  auto impl = std::make_unique<Impl>(model::Decoder(std::move(model)), std::move(tokenizer),
                                     std::move(*cache), std::move(*store), options, scheduling);
  return std::unique_ptr<RolloutEngine>(new RolloutEngine(std::move(impl)));
}

RolloutEngine::RolloutEngine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RolloutEngine::~RolloutEngine() = default;

absl::StatusOr<std::shared_ptr<GenerateCall>> RolloutEngine::StartGenerate(
    GenerateRequest request, GenerateCallbacks callbacks) {
  return impl_->Start(std::move(request), std::move(callbacks));
}

absl::Status RolloutEngine::UpdateWeights(int64_t version,
                                          const std::vector<WeightTensor>& tensors) {
  return impl_->Update(version, tensors);
}

absl::Status RolloutEngine::AdvanceVersion(int64_t version,
                                           std::function<absl::Status()> between_steps) {
  return impl_->Advance(version, std::move(between_steps));
}

absl::StatusOr<BackendStatus> RolloutEngine::GetStatus() { return impl_->Status(); }
int64_t RolloutEngine::weight_version() const { return impl_->version(); }
int64_t RolloutEngine::num_slots() const { return impl_->cache().num_slots(); }
int64_t RolloutEngine::kv_cache_blocks() const { return impl_->cache().num_blocks(); }
int64_t RolloutEngine::kv_block_size() const { return impl_->cache().block_size(); }
int64_t RolloutEngine::max_seq_len() const { return impl_->cache().max_seq_len(); }
int64_t RolloutEngine::vocab_size() const { return impl_->vocab(); }
RolloutEngine::Counters RolloutEngine::counters() const { return impl_->counters(); }

absl::StatusOr<LoadedEngine> LoadRolloutEngine(const model::ModelOptions& model_options,
                                               const RolloutOptions& rollout) {
  PONDER_RETURN_IF_ERROR(model_options.Validate());
  absl::StatusOr<model::Decoder> model = model::LoadModel(model_options);
  if (!model.ok()) return model.status();
  LoadedEngine out;
  out.config = (*model)->config();
  const std::string& tokenizer_path =
      model_options.tokenizer.empty() ? model_options.path : model_options.tokenizer;
  absl::StatusOr<std::unique_ptr<model::Tokenizer>> tokenizer =
      model::LoadTokenizer(tokenizer_path);
  if (tokenizer.ok()) {
    out.tokenizer = std::move(*tokenizer);
  } else if (!model_options.tokenizer.empty()) {
    return Annotate(tokenizer.status(), "model.tokenizer");
  } else {
    spdlog::warn("no tokenizer next to {} ({}); serving token ids only (no stop strings or text)",
                 model_options.path, std::string(tokenizer.status().message()));
  }
  EngineOptions options = EngineOptions::FromConfig(rollout);
  options.model_name = model_options.path;
  absl::StatusOr<std::unique_ptr<RolloutEngine>> engine =
      RolloutEngine::Create(model->ptr(), options, out.tokenizer);
  if (!engine.ok()) return engine.status();
  out.engine = std::move(*engine);
  return out;
}

}  // namespace ponder::rollout
