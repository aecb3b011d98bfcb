// The RL loop. Its parts live in their own files: the models (training_models.h), the rollout
// backend and weight sync (rollout_backend.h), where each step's groups come from and its
// weights go, in sync or async mode (step_batches.h), the step's batch, metrics and sample
// records (step_metrics.h), checkpoints (run_state.h) and progress lines (progress.h). With
// several trainer ranks (trainer_ranks.h) rank 0 runs this loop and the other ranks follow it
// with the learner alone.
#include "trainer/controller.h"

#include <ATen/Parallel.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>
#include <optional>

#include "absl/strings/str_cat.h"
#include "base/file.h"
#include "base/status.h"
#include "model/device_memory.h"
#include "monitor/metrics.h"
#include "monitor/sink_factory.h"
#include "trainer/evaluation.h"
#include "trainer/group_filter.h"
#include "trainer/group_shaping.h"
#include "trainer/learner.h"
#include "trainer/model_setup.h"
#include "trainer/progress.h"
#include "trainer/prompt_sampler.h"
#include "trainer/reward_client_metrics.h"
#include "trainer/rollout_backend.h"
#include "trainer/run_state.h"
#include "trainer/serving_metrics.h"
#include "trainer/step_batches.h"
#include "trainer/step_metrics.h"
#include "trainer/trainer_ranks.h"
#include "trainer/training_models.h"
#include "trainer/worker_report.h"

namespace ponder::trainer {
namespace fs = std::filesystem;

namespace {

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

}  // namespace

class Controller::Impl {
 public:
  absl::Status Setup(const JobConfig& job, const ControllerOptions& options);
  absl::Status Run();
  int64_t step() const { return state_.step; }
  std::vector<rpc::WorkerStatus> Workers() const {
    return reward_ == nullptr ? std::vector<rpc::WorkerStatus>{}
                              : AllWorkers(rollout_.pool, *reward_);
  }

 private:
  absl::Status LoadDataAndTokenizer();
  absl::Status JoinRanks();
  absl::Status CreateLearner();
  absl::Status RunSteps();
  absl::StatusOr<monitor::Metrics> RunStep(std::vector<monitor::SampleRecord>* samples);
  absl::Status Evaluate(int64_t step);
  absl::Status SaveCheckpoint();
  CheckpointedParts Parts() const;
  StepBatchesParts BatchesParts();
  bool StopRequested() const {
    return options_.stop_requested != nullptr && options_.stop_requested->load();
  }

  JobConfig job_;
  ControllerOptions options_;
  TaskSplits data_;
  std::optional<JobTokenizer> tokenizer_;
  rollout::SamplingOptions sampling_;  // the config's, plus the tokenizer's stop tokens
  TrainingModels models_;
  std::unique_ptr<Learner> learner_;
  std::unique_ptr<reward::RewardBackend> reward_;
  std::unique_ptr<PromptSampler> sampler_;
  std::unique_ptr<GroupFilter> filter_;
  RolloutConnection rollout_;
  std::unique_ptr<monitor::MetricsSink> sink_;
  std::optional<ProgressPrinter> progress_;  // from the start of Run
  RunState state_;
  std::unique_ptr<TrainerRanks> ranks_;   // null: one rank
  std::unique_ptr<StepBatches> batches_;  // declared after what it uses, so destroyed first
};

// ---- Set-up -------------------------------------------------------------------------------

absl::Status Controller::Impl::Setup(const JobConfig& job, const ControllerOptions& options) {
  job_ = job;
  options_ = options;
  if (job.run.threads > 0) at::set_num_threads(static_cast<int>(job.run.threads));
  std::string checkpoint;
  if (options.resume) {
    PONDER_ASSIGN_OR_RETURN(checkpoint, ResumeCheckpoint(job.run.dir));
  }

  PONDER_RETURN_IF_ERROR(LoadDataAndTokenizer());
  PONDER_RETURN_IF_ERROR(JoinRanks());
  torch::manual_seed(job.run.seed);
  JobConfig models_job = job_;
  if (ranks_ != nullptr) models_job.model.device = ranks_->ModelDevice(job_.model.device);
  PONDER_ASSIGN_OR_RETURN(
      models_, LoadTrainingModels(models_job, tokenizer_->tokenizer->vocab_size(), checkpoint));
  PONDER_RETURN_IF_ERROR(CreateLearner());
  if (ranks_ != nullptr) {
    PONDER_RETURN_IF_ERROR(ranks_->ShareModels(models_));
    if (!ranks_->is_controller()) {  // the other ranks: the learner and its state only
      if (!checkpoint.empty()) {
        PONDER_ASSIGN_OR_RETURN(state_.step, RestoreLearnerState(checkpoint, learner_.get()));
      }
      return absl::OkStatus();
    }
  }
  PONDER_ASSIGN_OR_RETURN(reward_, MakeMeteredRewardBackend(job.reward, options.metrics));
  PONDER_ASSIGN_OR_RETURN(sampler_, MakePromptSampler(job.data.sampler, data_.train.Levels(),
                                                      static_cast<uint64_t>(job.run.seed)));
  filter_ = std::make_unique<GroupFilter>(job.algorithm.filter_groups);
  if (!checkpoint.empty()) {
    PONDER_ASSIGN_OR_RETURN(state_, RestoreRunState(job_, checkpoint, Parts()));
  }
  PONDER_ASSIGN_OR_RETURN(rollout_, ConnectRollout(job_, models_.policy, tokenizer_->tokenizer,
                                                   /*version=*/state_.step));
  batches_ = job_.trainer.mode == TrainerMode::kAsync ? MakeAsyncBatches(BatchesParts())
                                                      : MakeSyncBatches(BatchesParts());
  PONDER_ASSIGN_OR_RETURN(
      sink_, monitor::MakeMetricsSink(job.monitor, job.run.dir,
                                      checkpoint.empty() ? -1 : state_.step, options.metrics));
  if (options.metrics != nullptr) AddRolloutMetrics(*options.metrics, rollout_.backend.get());
  // The run directory (often on a shared volume) never holds the reward token: give it again
  // (reward.token or $PONDER_REWARD_TOKEN) when resuming.
  JobConfig written = job_;
  written.reward.token.clear();
  return file::WriteFileAtomically((fs::path(job.run.dir) / "config.yaml").string(),
                                   config::ToYaml(written));
}

absl::Status Controller::Impl::JoinRanks() {
  const bool on_gpu = job_.model.device.rfind("cuda", 0) == 0;
  PONDER_ASSIGN_OR_RETURN(ranks_, TrainerRanks::Join(job_.distributed, on_gpu));
  return absl::OkStatus();
}

absl::Status Controller::Impl::LoadDataAndTokenizer() {
  PONDER_ASSIGN_OR_RETURN(data_, LoadPromptData(job_.data));
  if (data_.train.skipped_lines() > 0) {
    spdlog::warn("data: skipped {} bad lines (data.on_bad_line: skip); first: {}",
                 data_.train.skipped_lines(), data_.train.skip_reasons().front());
  }
  PONDER_ASSIGN_OR_RETURN(JobTokenizer tokenizer, LoadJobTokenizer(job_.model));
  tokenizer_.emplace(std::move(tokenizer));
  sampling_ = job_.rollout.sampling;
  for (int32_t id : tokenizer_->encoder.stop_token_ids()) {
    if (std::find(sampling_.stop_token_ids.begin(), sampling_.stop_token_ids.end(), id) ==
        sampling_.stop_token_ids.end()) {
      sampling_.stop_token_ids.push_back(id);
    }
  }
  return absl::OkStatus();
}

absl::Status Controller::Impl::CreateLearner() {
  LearnerOptions options;
  options.max_response_length = sampling_.max_new_tokens;
  options.seed = static_cast<uint64_t>(job_.run.seed);
  options.group_shaping = RewardGroupShaping(job_.reward.length_penalty, job_.reward.overlong);
  options.data_parallel = ranks_ != nullptr ? ranks_->data_parallel() : nullptr;
  PONDER_ASSIGN_OR_RETURN(
      learner_, Learner::Create(job_.algorithm, job_.trainer, options, models_.actor.get(),
                                models_.reference_policy.get(), models_.critic_model.get()));
  return absl::OkStatus();
}

CheckpointedParts Controller::Impl::Parts() const {
  return {.policy = models_.policy,
          .critic = models_.critic,
          .tokenizer_source = tokenizer_->source,
          .learner = learner_.get(),
          .sampler = sampler_.get(),
          .filter = filter_.get(),
          .partial_rollouts_dir = rollout_.partial_rollouts_dir};
}

StepBatchesParts Controller::Impl::BatchesParts() {
  return {.context = {.job = &job_,
                      .train = &data_.train,
                      .encoder = &tokenizer_->encoder,
                      .sampling = &sampling_,
                      .max_seq_len = rollout_.max_seq_len},
          .rollout = &rollout_,
          .reward = reward_.get(),
          .sampler = sampler_.get(),
          .filter = filter_.get(),
          .state = &state_,
          .policy = models_.policy,
          .tokenizer = tokenizer_->tokenizer};
}

// ---- One step -----------------------------------------------------------------------------

absl::StatusOr<monitor::Metrics> Controller::Impl::RunStep(
    std::vector<monitor::SampleRecord>* samples) {
  const auto step_start = std::chrono::steady_clock::now();
  monitor::Metrics m;
  std::vector<Group> groups;
  filter_->BeginBatch(job_.data.train_batch_size);
  PONDER_RETURN_IF_ERROR(batches_->Collect(&groups, &m));
  PONDER_RETURN_IF_ERROR(filter_->FinishBatch());

  const TrainingBatch batch = KeptSamples(groups);
  const size_t size = batch.trajectories.size();
  std::vector<double> advantages(size, 0.0), shaped(size, 0.0);
  if (size > 0) {
    const auto start = std::chrono::steady_clock::now();
    if (ranks_ != nullptr)
      PONDER_RETURN_IF_ERROR(ranks_->SendBatch(state_.step, batch.trajectories));
    PONDER_ASSIGN_OR_RETURN(LearnerStep out, learner_->Step(batch.trajectories, state_.step,
                                                            TokenDetailRows(job_.monitor, size)));
    PONDER_RETURN_IF_ERROR(WriteTokenDetails(*sink_, state_.step + 1, groups, batch,
                                             out.token_details, *tokenizer_->tokenizer));
    m["timing/update_s"] = Seconds(start);
    for (const auto& [name, value] : out.metrics) {
      if (name != "timing/update_s") m[name] = value;
    }
    advantages = std::move(out.advantages);
    shaped = std::move(out.scores);
  } else {
    spdlog::warn("step {}: no finished samples to train on (all paused?)", state_.step + 1);
  }
  PONDER_RETURN_IF_ERROR(batches_->Publish(&m));

  ObserveGroups(groups, *sampler_);
  *samples = SampleRecords(state_.step + 1, groups, batch, data_.train, shaped, advantages,
                           job_.monitor.max_samples_per_step);
  AddSampleMetrics(groups, &m);
  for (const auto& [name, value] : filter_->Metrics()) m[name] = value;
  m["data/skipped_lines"] = static_cast<double>(data_.train.skipped_lines());
  m["rollout/weight_version"] = static_cast<double>(state_.step + 1);
  m["train/batch_samples"] = static_cast<double>(size);
  AddWorkerMetrics(rollout_.pool, *reward_, &m);
  m["timing/step_s"] = Seconds(step_start);
  if (m.count("timing/gen_s") && m["timing/gen_s"] > 0) {
    m["perf/gen_tokens_per_s"] = m["rollout/generated_tokens"] / m["timing/gen_s"];
  }
  model::AddDeviceMemoryMetrics(models_.policy->device(), &m);
  return m;
}

absl::Status Controller::Impl::SaveCheckpoint() {
  PONDER_ASSIGN_OR_RETURN(state_.in_flight, batches_->Drain());
  absl::Status saved = SaveRunState(job_, state_, Parts());
  state_.in_flight.clear();
  return saved;
}

absl::Status Controller::Impl::Evaluate(int64_t step) {
  if (data_.val.empty()) return absl::OkStatus();
  EvalSet set;
  set.name = !job_.data.task.name.empty() ? job_.data.task.name
                                          : fs::path(job_.data.val_files.front()).stem().string();
  set.prompts = data_.val;
  PONDER_ASSIGN_OR_RETURN(rollout::RolloutBackend * backend, batches_->EvalRollout());
  EvalContext context{.rollout = backend,
                      .reward = reward_.get(),
                      .encoder = &tokenizer_->encoder,
                      .sampling = sampling_,
                      .max_seq_len = rollout_.max_seq_len};
  const auto start = std::chrono::steady_clock::now();
  const uint64_t seed = MixSeed(static_cast<uint64_t>(job_.run.seed), 0xE7A1000000ull + step);
  PONDER_ASSIGN_OR_RETURN(EvalReport report, trainer::Evaluate(set, job_.eval, context, seed));
  report.metrics["timing/eval_s"] = Seconds(start);
  PONDER_RETURN_IF_ERROR(sink_->Write(step, report.metrics));
  PONDER_RETURN_IF_ERROR(sink_->WriteEvalSamples(step, report.samples));
  progress_->Eval(step, report.metrics);
  return absl::OkStatus();
}

// ---- The loop -----------------------------------------------------------------------------

absl::Status Controller::Impl::Run() {
  if (ranks_ == nullptr) return RunSteps();
  if (!ranks_->is_controller()) return ranks_->Follow(*learner_, &state_.step);
  return ranks_->Lead([this] { return RunSteps(); });
}

absl::Status Controller::Impl::RunSteps() {
  const int64_t total = job_.trainer.steps;
  progress_.emplace(options_.progress, total, state_.step);
  if (state_.step == 0 && job_.eval.before_train) PONDER_RETURN_IF_ERROR(Evaluate(0));
  while (state_.step < total) {
    if (StopRequested()) {
      spdlog::warn("stop requested after step {}", state_.step);
      if (job_.checkpoint.on_signal) PONDER_RETURN_IF_ERROR(SaveCheckpoint());
      return absl::CancelledError(absl::StrCat("stopped after step ", state_.step, " of ", total));
    }
    std::vector<monitor::SampleRecord> samples;
    absl::StatusOr<monitor::Metrics> metrics = RunStep(&samples);
    if (!metrics.ok()) return Annotate(metrics.status(), absl::StrCat("step ", state_.step + 1));
    const int64_t step = ++state_.step;
    PONDER_RETURN_IF_ERROR(sink_->Write(step, *metrics));
    PONDER_RETURN_IF_ERROR(sink_->WriteSamples(step, samples));
    if (std::vector<rpc::WorkerStatus> workers = Workers(); !workers.empty()) {
      PONDER_RETURN_IF_ERROR(WriteWorkersFile(job_.run.dir, step, workers));
    }
    progress_->Step(step, *metrics);
    const bool last = step == total;
    if ((job_.eval.every > 0 && step % job_.eval.every == 0) || (last && job_.eval.at_end)) {
      PONDER_RETURN_IF_ERROR(Evaluate(step));
    }
    if ((job_.checkpoint.every > 0 && step % job_.checkpoint.every == 0) ||
        (last && job_.checkpoint.at_end)) {
      PONDER_RETURN_IF_ERROR(SaveCheckpoint());
    }
  }
  progress_->Summary();
  return absl::OkStatus();
}

// ---- Controller ---------------------------------------------------------------------------

Controller::Controller(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Controller::~Controller() = default;

absl::StatusOr<std::unique_ptr<Controller>> Controller::Create(const JobConfig& job,
                                                               const ControllerOptions& options) {
  auto impl = std::make_unique<Impl>();
  PONDER_RETURN_IF_ERROR(impl->Setup(job, options));
  return std::unique_ptr<Controller>(new Controller(std::move(impl)));
}

absl::Status Controller::Run() { return impl_->Run(); }

int64_t Controller::completed_steps() const { return impl_->step(); }

std::vector<rpc::WorkerStatus> Controller::Workers() const { return impl_->Workers(); }

}  // namespace ponder::trainer
