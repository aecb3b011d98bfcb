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
#include "rollout/internal/sequence.h"
#include "rollout/partial_rollout_store.h"
#include "rollout/sampler.h"

namespace ponder::rollout {

using internal::PromptData;
using internal::RequestState;
using internal::Sequence;

EngineOptions EngineOptions::FromConfig(const RolloutOptions& config) {
  EngineOptions o;
  o.max_seq_len = config.max_seq_len;
  o.kv_cache_bytes = config.kv_cache_bytes;
  o.max_running = config.max_running;
  o.max_step_tokens = config.max_step_tokens;
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

// Tokens per step still given to prefill when running sequences already fill the step.
constexpr int64_t kMinPrefillChunk = 32;

}  // namespace

class RolloutEngine::Impl {
 public:
  Impl(model::Decoder model, std::shared_ptr<const model::Tokenizer> tokenizer,
       model::KvCache cache, std::unique_ptr<PartialRolloutStore> store,
       const EngineOptions& options)
      : model_(std::move(model)),
        tokenizer_(std::move(tokenizer)),
        cache_(std::move(cache)),
        store_(std::move(store)),
        options_(options),
        version_(options.initial_version) {
    vocab_ = model_->config().vocab_size;
    bytes_per_slot_ =
        model::KvCache::BytesPerSlot(model_->config(), cache_.max_seq_len(), cache_.dtype());
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

  RequestLimits limits() const { return {vocab_, cache_.max_seq_len(), tokenizer_ != nullptr}; }

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
    s.kv_cache_bytes_budget = static_cast<uint64_t>(cache_.num_slots() * bytes_per_slot_);
    s.model = options_.model_name;
    s.max_context = static_cast<uint32_t>(cache_.max_seq_len());
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
  const model::KvCache& cache() const { return cache_; }
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
          return stop_ || !incoming_.empty() || !updates_.empty() || !active_.empty() ||
                 !waiting_.empty();
        });
        if (stop_) break;
        incoming.swap(incoming_);
        updates.swap(updates_);
      }
      ApplyUpdates(updates);
      for (Incoming& in : incoming) Accept(std::move(in));
      SweepCancelled();
      Admit();
      if (!active_.empty()) StepOnce();
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
      std::deque<std::unique_ptr<Sequence>> group;
      for (uint32_t i = 0; i < p.n; ++i) {
        group.push_back(std::make_unique<Sequence>(state, prompt, i, tokenizer_.get(), vocab_));
      }
      state->outstanding += p.n;
      waiting_.push_back(std::move(group));
    }
    if (in.request.resume_paused) {
      std::vector<PausedRollout> paused;
      {
        std::lock_guard<std::mutex> lock(store_mu_);
        paused = store_->TakeWaiting();
      }
      for (PausedRollout& r : paused) {
        std::deque<std::unique_ptr<Sequence>> group;
        group.push_back(std::make_unique<Sequence>(state, std::move(r), tokenizer_.get(), vocab_));
        ++state->outstanding;
        waiting_.push_back(std::move(group));
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

  // Ends every sample whose request matches, freeing its slot: resumed partial rollouts go
  // back to the store (kPaused), the others come back as kAborted.
  template <typename Pred>
  void AbortWhere(Pred pred) {
    auto end = [&](std::unique_ptr<Sequence>& seq) {
      for (auto& f : seq->followers) Deliver(*f, FinishReason::kAborted);
      seq->followers.clear();
      Deliver(*seq, seq->resumed() ? FinishReason::kPaused : FinishReason::kAborted);
      seq.reset();
    };
    for (auto& seq : active_) {
      if (seq && pred(seq->request())) end(seq);
    }
    active_.erase(std::remove(active_.begin(), active_.end(), nullptr), active_.end());
    for (auto& group : waiting_) {
      for (auto& seq : group) {
        if (seq && pred(seq->request())) end(seq);
      }
      group.erase(std::remove(group.begin(), group.end(), nullptr), group.end());
    }
    waiting_.erase(
        std::remove_if(waiting_.begin(), waiting_.end(), [](const auto& g) { return g.empty(); }),
        waiting_.end());
  }

  // Gives free slots to waiting samples, in arrival order; the samples of one prompt that get
  // slots together share one prefill.
  void Admit() {
    while (!waiting_.empty() && cache_.num_free() > 0) {
      auto& group = waiting_.front();
      std::unique_ptr<Sequence> leader = std::move(group.front());
      group.pop_front();
      leader->slot = *cache_.Acquire();
      while (!group.empty() && cache_.num_free() > 0) {
        std::unique_ptr<Sequence> f = std::move(group.front());
        group.pop_front();
        f->slot = *cache_.Acquire();
        leader->followers.push_back(std::move(f));
      }
      if (group.empty()) waiting_.pop_front();
      active_.push_back(std::move(leader));
    }
    const int64_t running = cache_.num_slots() - cache_.num_free();
    std::lock_guard<std::mutex> lock(mu_);
    counters_.peak_running = std::max(counters_.peak_running, running);
  }

  void StepOnce() {
    // Rows: every running sequence's last token, then prefill chunks within the token budget.
    std::vector<int64_t> slots;
    std::vector<std::vector<int32_t>> tokens;
    std::vector<Sequence*> row_seq;
    int64_t decode_rows = 0, prefill_tokens = 0;
    for (auto& seq : active_) {
      if (seq->context_len() - seq->fed == 1) {
        slots.push_back(seq->slot);
        tokens.push_back({seq->context_token(seq->fed)});
        row_seq.push_back(seq.get());
        ++decode_rows;
        if (!seq->decoding) ++prefill_tokens;
      }
    }
    int64_t budget = std::max(options_.max_step_tokens - decode_rows,
                              std::min<int64_t>(options_.max_step_tokens, kMinPrefillChunk));
    for (auto& seq : active_) {
      const int64_t left = seq->context_len() - seq->fed;
      if (left <= 1 || budget <= 0) continue;
      const int64_t n = std::min(left, budget);
      std::vector<int32_t> chunk(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i)
        chunk[static_cast<size_t>(i)] = seq->context_token(seq->fed + i);
      slots.push_back(seq->slot);
      tokens.push_back(std::move(chunk));
      row_seq.push_back(seq.get());
      budget -= n;
      prefill_tokens += n;
    }
    if (slots.empty()) return;

    absl::StatusOr<at::Tensor> logits = model_->Step(cache_, slots, tokens);
    if (!logits.ok()) {
      spdlog::error("rollout engine: decode step failed: {}", logits.status().ToString());
      const absl::Status error = logits.status();
      for (auto& seq : active_) {
        if (seq->request().end_status.ok()) seq->request().end_status = error;
      }
      AbortWhere([](const RequestState& r) { return !r.end_status.ok(); });
      return;
    }
    int64_t version;
    {
      std::lock_guard<std::mutex> lock(mu_);
      version = version_;
    }

    // Which sequences sample now (their context is all in the cache), and from which row.
    std::vector<Sequence*> samplers;
    std::vector<int64_t> sample_rows;
    std::vector<std::unique_ptr<Sequence>> forked;
    for (size_t r = 0; r < row_seq.size(); ++r) {
      Sequence* seq = row_seq[r];
      seq->fed += static_cast<int64_t>(tokens[r].size());
      if (seq->fed != seq->context_len()) continue;
      samplers.push_back(seq);
      sample_rows.push_back(static_cast<int64_t>(r));
      if (!seq->followers.empty()) {
        std::vector<int64_t> targets;
        for (auto& f : seq->followers) targets.push_back(f->slot);
        absl::Status forked_ok = cache_.Fork(seq->slot, targets);
        if (!forked_ok.ok()) spdlog::error("rollout engine: {}", forked_ok.ToString());
        for (auto& f : seq->followers) {
          f->fed = seq->fed;
          samplers.push_back(f.get());
          sample_rows.push_back(static_cast<int64_t>(r));
          forked.push_back(std::move(f));
        }
        seq->followers.clear();
      }
    }
    for (auto& f : forked) active_.push_back(std::move(f));

    std::vector<TokenChoice> choices = Sample(*logits, samplers, sample_rows);

    const auto generated = static_cast<int64_t>(samplers.size());
    std::vector<std::pair<Sequence*, FinishReason>> finished;
    for (size_t i = 0; i < samplers.size(); ++i) {
      Sequence* seq = samplers[i];
      seq->decoding = true;
      std::optional<FinishReason> end =
          seq->Append(choices[i].token, choices[i].logprob, version, cache_.max_seq_len());
      if (end.has_value()) finished.emplace_back(seq, *end);
    }
    // Count the step before anything is delivered, so that a caller told about a finished
    // sample sees its tokens in the counters and the status.
    {
      std::lock_guard<std::mutex> lock(mu_);
      counters_.steps += 1;
      counters_.prefill_tokens += prefill_tokens;
      counters_.decode_tokens += generated;
      status_.generated_tokens_total += static_cast<uint64_t>(generated);
      const auto now = std::chrono::steady_clock::now();
      recent_.push_back({now, generated});
      while (!recent_.empty() && now - recent_.front().first > std::chrono::seconds(5)) {
        recent_.pop_front();
      }
    }
    for (auto& [seq, reason] : finished) {
      Deliver(*seq, reason);
      for (auto& s : active_) {
        if (s.get() == seq) s.reset();
      }
    }
    active_.erase(std::remove(active_.begin(), active_.end(), nullptr), active_.end());
  }

  // Turns the chosen logits rows into tokens: repetition penalty, temperature, log_softmax,
  // then each row's own truncation and uniform draw.
  std::vector<TokenChoice> Sample(const at::Tensor& logits, const std::vector<Sequence*>& seqs,
                                  const std::vector<int64_t>& rows) {
    const int64_t S = static_cast<int64_t>(seqs.size());
    std::vector<TokenChoice> out(static_cast<size_t>(S));
    if (S == 0) return out;
    at::NoGradGuard no_grad;
    at::Tensor index = at::from_blob(const_cast<int64_t*>(rows.data()), {S}, at::kLong).clone();
    at::Tensor x = logits.index_select(0, index).contiguous();  // our own copy
    std::vector<float> temps(static_cast<size_t>(S));
    float* xp = x.data_ptr<float>();
    for (int64_t i = 0; i < S; ++i) {
      const SamplingOptions& s = seqs[static_cast<size_t>(i)]->sampling();
      if (s.repetition_penalty != 1.0) {
        ApplyRepetitionPenalty(xp + i * vocab_, seqs[static_cast<size_t>(i)]->seen_ids(),
                               s.repetition_penalty);
      }
      temps[static_cast<size_t>(i)] = s.temperature > 0 ? static_cast<float>(s.temperature) : 1.0f;
    }
    x.div_(at::from_blob(temps.data(), {S, 1}, at::kFloat));
    at::Tensor log_probs = at::log_softmax(x, 1);
    at::Tensor probs = log_probs.exp();
    const float* lp = log_probs.data_ptr<float>();
    const float* pp = probs.data_ptr<float>();
    const int64_t V = vocab_;
    at::parallel_for(0, S, std::max<int64_t>(1, 65536 / V), [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        const Sequence& seq = *seqs[static_cast<size_t>(i)];
        const double u = UniformDraw(seq.sampling().seed, seq.prompt().prompt_index,
                                     seq.sample_index(), seq.generated().size());
        out[static_cast<size_t>(i)] =
            ChooseToken(xp + i * V, lp + i * V, pp + i * V, V, seq.sampling(), u);
      }
    });
    return out;
  }

  // Hands a sample back to its caller and frees its slot.
  void Deliver(Sequence& seq, FinishReason reason) {
    if (seq.slot >= 0) {
      cache_.Release(seq.slot).IgnoreError();
      seq.slot = -1;
    }
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
    uint32_t waiting = 0;
    for (const auto& g : waiting_) waiting += static_cast<uint32_t>(g.size());
    uint32_t paused;
    {
      std::lock_guard<std::mutex> lock(store_mu_);
      paused = static_cast<uint32_t>(store_->num_waiting());
    }
    const int64_t used = cache_.num_slots() - cache_.num_free();
    std::lock_guard<std::mutex> lock(mu_);
    status_.active_sequences = static_cast<uint32_t>(used);
    status_.waiting_sequences = waiting;
    status_.paused_sequences = paused;
    status_.kv_cache_bytes_used = static_cast<uint64_t>(used * bytes_per_slot_);
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
  model::KvCache cache_;
  std::unique_ptr<PartialRolloutStore> store_;
  EngineOptions options_;
  int64_t vocab_ = 0;
  int64_t bytes_per_slot_ = 0;
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
  std::deque<std::deque<std::unique_ptr<Sequence>>> waiting_;
  std::vector<std::unique_ptr<Sequence>> active_;
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
  model::KvCacheOptions cache_options;
  cache_options.max_seq_len = max_seq_len;
  cache_options.memory_budget_bytes = options.kv_cache_bytes;
  const int64_t per_slot = model::KvCache::BytesPerSlot(config, max_seq_len, model->dtype());
  if (options.max_running > 0 && options.kv_cache_bytes / per_slot > 0) {
    cache_options.num_slots = std::min(options.max_running, options.kv_cache_bytes / per_slot);
  }
  absl::StatusOr<model::KvCache> cache =
      model::KvCache::Create(config, cache_options, model->dtype(), model->device());
  if (!cache.ok()) return Annotate(cache.status(), "rollout.kv_cache_bytes");
  absl::StatusOr<std::unique_ptr<PartialRolloutStore>> store =
      PartialRolloutStore::Open(options.partial_store_dir);
  if (!store.ok()) return store.status();
  auto impl = std::make_unique<Impl>(model::Decoder(std::move(model)), std::move(tokenizer),
                                     std::move(*cache), std::move(*store), options);
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
