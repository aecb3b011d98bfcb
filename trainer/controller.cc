#include "trainer/controller.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <ATen/core/Generator.h>
#include <spdlog/spdlog.h>
#include <torch/serialize.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status.h"
#include "model/checkpoint.h"
#include "model/decoder.h"
#include "model/tokenizer.h"
#include "monitor/metrics.h"
#include "reward/reward_backend.h"
#include "rollout/engine.h"
#include "rollout/grpc_backend.h"
#include "trainer/checkpoint.h"
#include "trainer/decoder_policy.h"
#include "trainer/evaluation.h"
#include "trainer/group_filter.h"
#include "trainer/group_shaping.h"
#include "trainer/learner.h"
#include "trainer/model_setup.h"
#include "trainer/prompt_encoder.h"
#include "trainer/prompt_sampler.h"

namespace ponder::trainer {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// splitmix64: independent, reproducible seeds from (base, index).
uint64_t MixSeed(uint64_t base, uint64_t index) {
  uint64_t z = base + 0x9E3779B97F4A7C15ull * (index + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

absl::Status WriteText(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  out.flush();
  if (!out) return absl::InternalError(absl::StrCat("cannot write '", path.string(), "'"));
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadText(const fs::path& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read '", path.string(), "'"));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

absl::Status CopyTree(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::remove_all(to, ec);
  if (!fs::exists(from)) return absl::OkStatus();
  fs::create_directories(to.parent_path(), ec);
  fs::copy(from, to, fs::copy_options::recursive, ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("cannot copy '", from.string(), "' to '", to.string(), "': ", ec.message()));
  }
  return absl::OkStatus();
}

rollout::WeightDType WireDType(at::ScalarType type) {
  switch (type) {
    case at::kHalf:
      return rollout::WeightDType::kF16;
    case at::kBFloat16:
      return rollout::WeightDType::kBF16;
    case at::kDouble:
      return rollout::WeightDType::kF64;
    default:
      return rollout::WeightDType::kF32;
  }
}

// One scored response of a group.
struct ScoredSample {
  rollout::Trajectory trajectory;
  std::string response;
  reward::VerifyResult result;
};

// The n responses to one prompt that finished in this step.
struct Group {
  uint64_t uid = 0;
  int64_t index = 0;  // into the training dataset
  std::vector<int32_t> prompt_ids;
  std::string prompt;
  std::vector<ScoredSample> samples;
  bool kept = false;
};

}  // namespace

class Controller::Impl {
 public:
  absl::Status Setup(const JobConfig& job, const ControllerOptions& options);
  absl::Status Run();
  int64_t step() const { return step_; }

 private:
  absl::Status LoadModels(const std::string& checkpoint);
  absl::Status StartRollout();
  absl::Status Restore(const std::string& checkpoint);
  absl::Status SaveCheckpoint();
  absl::Status PushWeights(int64_t version);
  absl::Status Evaluate(int64_t step);
  absl::StatusOr<monitor::Metrics> RunStep(std::vector<json>* samples);
  absl::Status CollectRound(int64_t round, std::vector<Group>* groups, monitor::Metrics* counts);
  bool StopRequested() const {
    return options_.stop_requested != nullptr && options_.stop_requested->load();
  }

  JobConfig job_;
  ControllerOptions options_;
  std::string run_dir_;
  TaskSplits data_;
  std::string tokenizer_source_;
  std::shared_ptr<const model::Tokenizer> tokenizer_;
  std::optional<PromptEncoder> encoder_;
  model::Decoder policy_{nullptr};
  model::Decoder reference_{nullptr};
  model::Decoder critic_model_{nullptr};
  std::unique_ptr<DecoderPolicy> actor_;
  std::unique_ptr<DecoderPolicy> reference_policy_;
  std::unique_ptr<DecoderCritic> critic_;
  std::unique_ptr<Learner> learner_;
  std::unique_ptr<rollout::RolloutEngine> engine_;   // in process
  std::unique_ptr<rollout::RolloutBackend> remote_;  // a `ponder rollout` worker
  int64_t remote_version_offset_ = 0;                // its weight version minus ours
  rollout::RolloutBackend* rollout_ = nullptr;
  int64_t max_seq_len_ = 0;
  rollout::SamplingOptions sampling_;  // the config's, plus the tokenizer's stop tokens
  std::unique_ptr<reward::RewardBackend> reward_;
  std::unique_ptr<PromptSampler> sampler_;
  std::unique_ptr<GroupFilter> filter_;
  std::unique_ptr<monitor::RunDirSink> sink_;

  int64_t step_ = 0;              // completed steps
  uint64_t next_prompt_uid_ = 0;  // prompts issued so far
  // Prompts with samples still out (paused partial rollouts): uid -> (dataset index, samples
  // not yet back).
  std::map<uint64_t, std::pair<int64_t, int64_t>> pending_;
  std::chrono::steady_clock::time_point started_;
  int64_t first_step_ = 0;
};

// ---- Set-up -------------------------------------------------------------------------------

absl::Status Controller::Impl::Setup(const JobConfig& job, const ControllerOptions& options) {
  job_ = job;
  options_ = options;
  run_dir_ = job.run.dir;
  if (job.run.threads > 0) at::set_num_threads(static_cast<int>(job.run.threads));

  std::string checkpoint;
  if (options.resume) {
    absl::StatusOr<int64_t> latest = LatestValidCheckpoint(run_dir_);
    if (!latest.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot resume '", run_dir_, "': ", latest.status().message()));
    }
    checkpoint = CheckpointDir(run_dir_, *latest);
    spdlog::info("resuming from {}", checkpoint);
  }

  PONDER_ASSIGN_OR_RETURN(data_, LoadPromptData(job.data));
  if (data_.train.skipped_lines() > 0) {
    spdlog::warn("data: skipped {} bad lines (data.on_bad_line: skip); first: {}",
                 data_.train.skipped_lines(), data_.train.skip_reasons().front());
  }
  PONDER_ASSIGN_OR_RETURN(JobTokenizer loaded, LoadJobTokenizer(job.model));
  tokenizer_source_ = std::move(loaded.source);
  tokenizer_ = std::move(loaded.tokenizer);
  encoder_.emplace(std::move(loaded.encoder));
  sampling_ = job.rollout.sampling;
  for (int32_t id : encoder_->stop_token_ids()) {
    if (std::find(sampling_.stop_token_ids.begin(), sampling_.stop_token_ids.end(), id) ==
        sampling_.stop_token_ids.end()) {
      sampling_.stop_token_ids.push_back(id);
    }
  }

  torch::manual_seed(job.run.seed);
  PONDER_RETURN_IF_ERROR(LoadModels(checkpoint));

  LearnerOptions learner_options;
  learner_options.max_response_length = sampling_.max_new_tokens;
  learner_options.seed = static_cast<uint64_t>(job.run.seed);
  learner_options.group_shaping =
      RewardGroupShaping(job.reward.length_penalty, job.reward.overlong);
  PONDER_ASSIGN_OR_RETURN(learner_,
                          Learner::Create(job.algorithm, job.trainer, learner_options, actor_.get(),
                                          reference_policy_.get(), critic_.get()));

  PONDER_ASSIGN_OR_RETURN(reward_, reward::MakeRewardBackend(job.reward));
  PONDER_ASSIGN_OR_RETURN(sampler_, MakePromptSampler(job.data.sampler, data_.train.Levels(),
                                                      static_cast<uint64_t>(job.run.seed)));
  filter_ = std::make_unique<GroupFilter>(job.algorithm.filter_groups);

  if (!checkpoint.empty()) PONDER_RETURN_IF_ERROR(Restore(checkpoint));
  PONDER_RETURN_IF_ERROR(StartRollout());

  PONDER_ASSIGN_OR_RETURN(sink_,
                          monitor::RunDirSink::Create(run_dir_, checkpoint.empty() ? -1 : step_));
  if (checkpoint.empty()) {
    // A fresh run starts a fresh metrics file.
    std::error_code ec;
    fs::remove(fs::path(run_dir_) / "metrics.jsonl", ec);
  }
  PONDER_RETURN_IF_ERROR(WriteText(fs::path(run_dir_) / "config.yaml", config::ToYaml(job_)));
  return absl::OkStatus();
}

absl::Status Controller::Impl::LoadModels(const std::string& checkpoint) {
  // The policy (and critic) continue from the checkpoint; the reference is always the
  // starting model.
  model::ModelOptions policy_options = job_.model;
  policy_options.value_head = false;
  if (!checkpoint.empty()) policy_options.path = (fs::path(checkpoint) / "policy").string();
  PONDER_ASSIGN_OR_RETURN(policy_, LoadPolicyModel(policy_options, tokenizer_->vocab_size()));
  auto make_policy = [this](model::Decoder decoder) {
    auto policy = std::make_unique<DecoderPolicy>(
        std::move(decoder), job_.model.logits_chunk_tokens, job_.model.logits_keep_mb);
    policy->set_share_prompts(job_.model.share_prompts);
    return policy;
  };
  actor_ = make_policy(policy_);

  if (job_.algorithm.NeedsReference()) {
    if (checkpoint.empty()) {
      reference_ = model::CloneDecoder(policy_, /*frozen=*/true);
    } else {
      model::ModelOptions reference_options = job_.model;
      reference_options.value_head = false;
      PONDER_ASSIGN_OR_RETURN(reference_,
                              LoadPolicyModel(reference_options, tokenizer_->vocab_size()));
      for (auto& p : reference_->parameters()) p.set_requires_grad(false);
    }
    reference_policy_ = make_policy(reference_);
  }
  if (job_.algorithm.NeedsCritic()) {
    // The critic starts from the policy's weights with a fresh value head (as in verl).
    model::ModelOptions critic_options = job_.model;
    critic_options.value_head = true;
    if (!checkpoint.empty()) critic_options.path = (fs::path(checkpoint) / "critic").string();
    PONDER_ASSIGN_OR_RETURN(critic_model_,
                            LoadPolicyModel(critic_options, tokenizer_->vocab_size()));
    critic_ = std::make_unique<DecoderCritic>(critic_model_);
  }
  return absl::OkStatus();
}

absl::Status Controller::Impl::StartRollout() {
  if (job_.rollout.address.empty()) {
    rollout::EngineOptions engine_options = rollout::EngineOptions::FromConfig(job_.rollout);
    engine_options.initial_version = step_;
    engine_options.model_name = job_.model.path;
    if (engine_options.partial_store_dir.empty() && job_.rollout.sampling.round_token_budget > 0) {
      // Paused partial rollouts live in the run directory so that checkpoints can keep them.
      engine_options.partial_store_dir = (fs::path(run_dir_) / "partial_rollouts").string();
    }
    PONDER_ASSIGN_OR_RETURN(
        engine_, rollout::RolloutEngine::Create(policy_.ptr(), engine_options, tokenizer_));
    rollout_ = engine_.get();
    max_seq_len_ = engine_->max_seq_len();
    return absl::OkStatus();
  }
  PONDER_ASSIGN_OR_RETURN(std::unique_ptr<rollout::GrpcRolloutBackend> remote,
                          rollout::GrpcRolloutBackend::Connect(job_.rollout.address));
  remote_ = std::move(remote);
  rollout_ = remote_.get();
  PONDER_ASSIGN_OR_RETURN(rollout::BackendStatus status, remote_->GetStatus());
  max_seq_len_ = status.max_context;
  if (job_.rollout.max_seq_len > 0) max_seq_len_ = std::min(max_seq_len_, job_.rollout.max_seq_len);
  // The worker starts from whatever it loaded; make it hold exactly our weights. Its versions
  // only go up, so a worker that already holds version >= step_ (a fresh one holds 0) gets
  // ours shifted by a fixed offset.
  remote_version_offset_ = std::max<int64_t>(0, status.weight_version + 1 - step_);
  return PushWeights(step_);
}

absl::Status Controller::Impl::PushWeights(int64_t version) {
  if (engine_ != nullptr) return engine_->AdvanceVersion(version);
  version += remote_version_offset_;
  std::vector<rollout::WeightTensor> tensors;
  for (const auto& item : policy_->named_parameters()) {
    auto t = std::make_shared<at::Tensor>(item.value().detach().to(at::kCPU).contiguous());
    tensors.push_back({.name = item.key(),
                       .dtype = WireDType(t->scalar_type()),
                       .shape = t->sizes().vec(),
                       .data = t->data_ptr(),
                       .bytes = t->nbytes(),
                       .owner = t});
  }
  return remote_->UpdateWeights(version, tensors);
}

// ---- Checkpoints --------------------------------------------------------------------------

absl::Status Controller::Impl::SaveCheckpoint() {
  const fs::path dir = CheckpointDir(run_dir_, step_) + ".tmp";
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create '", dir.string(), "'"));
  PONDER_RETURN_IF_ERROR(SaveModelFolder(policy_, (dir / "policy").string(), tokenizer_source_));
  if (critic_model_) {
    PONDER_RETURN_IF_ERROR(model::SaveHfFolder(critic_model_, (dir / "critic").string(), {}));
  }
  try {
    torch::save(learner_->policy_optimizer(), (dir / "optimizer.pt").string());
    if (learner_->critic_optimizer() != nullptr) {
      torch::save(*learner_->critic_optimizer(), (dir / "critic_optimizer.pt").string());
    }
    torch::save(at::detail::getDefaultCPUGenerator().get_state(), (dir / "rng.pt").string());
  } catch (const c10::Error& e) {
    return absl::InternalError(
        absl::StrCat("saving optimizer state: ", e.what_without_backtrace()));
  }
  if (engine_ != nullptr && job_.rollout.sampling.round_token_budget > 0) {
    PONDER_RETURN_IF_ERROR(
        CopyTree(fs::path(run_dir_) / "partial_rollouts", dir / "partial_rollouts"));
  }
  json pending = json::array();
  for (const auto& [uid, entry] : pending_) pending.push_back({uid, entry.first, entry.second});
  json state = {{"step", step_},
                {"next_prompt_uid", next_prompt_uid_},
                {"pending", pending},
                {"sampler", sampler_->SaveState()},
                {"learner", learner_->SaveState()},
                {"group_filter", filter_->SaveState()}};
  PONDER_RETURN_IF_ERROR(WriteText(dir / "state.json", state.dump(1) + "\n"));
  PONDER_RETURN_IF_ERROR(CommitCheckpoint(run_dir_, dir.string(), step_, job_.checkpoint.keep));
  spdlog::info("saved checkpoint {}", CheckpointDir(run_dir_, step_));
  return absl::OkStatus();
}

absl::Status Controller::Impl::Restore(const std::string& checkpoint) {
  const fs::path dir = checkpoint;
  PONDER_ASSIGN_OR_RETURN(std::string text, ReadText(dir / "state.json"));
  json state = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (state.is_discarded() || !state.is_object()) {
    return absl::DataLossError(absl::StrCat("'", (dir / "state.json").string(), "' is not JSON"));
  }
  try {
    step_ = state.at("step").get<int64_t>();
    next_prompt_uid_ = state.at("next_prompt_uid").get<uint64_t>();
    for (const json& p : state.at("pending")) {
      pending_[p.at(0).get<uint64_t>()] = {p.at(1).get<int64_t>(), p.at(2).get<int64_t>()};
    }
    PONDER_RETURN_IF_ERROR(sampler_->LoadState(state.at("sampler").get<std::string>()));
    PONDER_RETURN_IF_ERROR(learner_->LoadState(state.at("learner").get<std::string>()));
    PONDER_RETURN_IF_ERROR(filter_->LoadState(state.at("group_filter").get<std::string>()));
  } catch (const json::exception& e) {
    return absl::DataLossError(
        absl::StrCat("'", (dir / "state.json").string(), "' is incomplete: ", e.what()));
  }
  try {
    torch::load(learner_->policy_optimizer(), (dir / "optimizer.pt").string());
    if (learner_->critic_optimizer() != nullptr) {
      torch::load(*learner_->critic_optimizer(), (dir / "critic_optimizer.pt").string());
    }
    at::Tensor rng;
    torch::load(rng, (dir / "rng.pt").string());
    at::Generator generator = at::detail::getDefaultCPUGenerator();
    generator.set_state(rng);
  } catch (const c10::Error& e) {
    return absl::DataLossError(absl::StrCat("loading optimizer state from '", dir.string(),
                                            "': ", e.what_without_backtrace()));
  }
  if (job_.rollout.sampling.round_token_budget > 0 && job_.rollout.partial_store_dir.empty()) {
    PONDER_RETURN_IF_ERROR(
        CopyTree(dir / "partial_rollouts", fs::path(run_dir_) / "partial_rollouts"));
  }
  return absl::OkStatus();
}

// ---- The loop -----------------------------------------------------------------------------

absl::Status Controller::Impl::Evaluate(int64_t step) {
  if (data_.val.empty()) return absl::OkStatus();
  EvalSet set;
  set.name = !job_.data.task.name.empty() ? job_.data.task.name
                                          : fs::path(job_.data.val_files.front()).stem().string();
  set.prompts = data_.val;
  EvalContext context{.rollout = rollout_,
                      .reward = reward_.get(),
                      .encoder = &*encoder_,
                      .sampling = sampling_,
                      .max_seq_len = max_seq_len_};
  const auto start = std::chrono::steady_clock::now();
  PONDER_ASSIGN_OR_RETURN(
      EvalReport report,
      trainer::Evaluate(set, job_.eval, context,
                        MixSeed(static_cast<uint64_t>(job_.run.seed), 0xE7A1000000ull + step)));
  report.metrics["timing/eval_s"] = Seconds(start);
  PONDER_RETURN_IF_ERROR(sink_->Write(step, report.metrics));
  const fs::path samples =
      fs::path(run_dir_) / "samples" / absl::StrCat("eval_step_", step, ".jsonl");
  std::ofstream out(samples, std::ios::trunc);
  for (const json& s : report.samples) out << s.dump() << "\n";
  if (options_.progress) {
    std::string line = absl::StrCat("eval  step ", step);
    for (const auto& [name, value] : report.metrics) {
      if (name.find("@") != std::string::npos || name.find("greedy_acc") != std::string::npos) {
        absl::StrAppend(&line, " | ", name.substr(name.rfind('/') + 1), " ",
                        absl::StrFormat("%.3f", value));
      }
    }
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  return absl::OkStatus();
}

absl::Status Controller::Impl::CollectRound(int64_t round, std::vector<Group>* groups,
                                            monitor::Metrics* counts) {
  const JobConfig& job = job_;
  const bool skip_bad = job.data.on_bad_sample == BadSamplePolicy::kSkip;
  rollout::GenerateRequest request;
  request.request_id = absl::StrCat(job.run.name, "-step", step_ + 1, "-round", round);
  request.resume_paused = sampling_.round_token_budget > 0;
  std::map<uint64_t, std::vector<int32_t>> prompt_ids;
  for (int64_t index : sampler_->Sample(job.data.train_batch_size, step_)) {
    const PromptRecord& record = data_.train[static_cast<size_t>(index)];
    absl::StatusOr<std::vector<int32_t>> ids = encoder_->Encode(record);
    std::string problem;
    if (!ids.ok()) {
      problem = std::string(ids.status().message());
    } else if (static_cast<int64_t>(ids->size()) + sampling_.max_new_tokens > max_seq_len_) {
      problem = absl::StrCat("prompt ", record.origin, " has ", ids->size(),
                             " tokens; with rollout.sampling.max_new_tokens ",
                             sampling_.max_new_tokens, " it exceeds the context of ", max_seq_len_,
                             " tokens (rollout.max_seq_len)");
    }
    if (!problem.empty()) {
      if (!skip_bad) {
        return absl::InvalidArgumentError(absl::StrCat(
            problem, " (set data.on_bad_sample: skip to skip and count such prompts)"));
      }
      spdlog::warn("skipping: {}", problem);
      (*counts)["data/skipped_prompts"] += 1;
      continue;
    }
    const uint64_t uid = next_prompt_uid_++;
    pending_[uid] = {index, job.rollout.n};
    rollout::SamplingOptions sampling = sampling_;
    sampling.seed = MixSeed(static_cast<uint64_t>(job.run.seed), uid);
    prompt_ids[uid] = *ids;
    request.prompts.push_back(
        {uid, std::move(*ids), static_cast<uint32_t>(job.rollout.n), sampling});
  }

  auto start = std::chrono::steady_clock::now();
  PONDER_ASSIGN_OR_RETURN(std::vector<rollout::Trajectory> trajectories,
                          rollout_->Generate(request));
  (*counts)["timing/gen_s"] += Seconds(start);
  std::sort(trajectories.begin(), trajectories.end(), [](const auto& a, const auto& b) {
    return std::tie(a.prompt_index, a.sample_index) < std::tie(b.prompt_index, b.sample_index);
  });

  // Decode and group the finished samples; paused ones stay in the rollout's store.
  std::map<uint64_t, Group> by_uid;
  std::vector<reward::VerifyInput> items;
  std::vector<std::pair<uint64_t, size_t>> item_owner;  // (uid, index in the group)
  for (rollout::Trajectory& t : trajectories) {
    (*counts)["rollout/generated_tokens"] += static_cast<double>(t.token_ids.size());
    if (t.finish_reason == rollout::FinishReason::kPaused) {
      (*counts)["rollout/paused"] += 1;
      continue;
    }
    if (t.finish_reason == rollout::FinishReason::kAborted) {
      return absl::AbortedError(
          absl::StrCat("rollout aborted sample ", t.sample_index, " of prompt ", t.prompt_index));
    }
    auto pending = pending_.find(t.prompt_index);
    if (pending == pending_.end()) {
      return absl::InternalError(
          absl::StrCat("rollout returned a sample of unknown prompt ", t.prompt_index));
    }
    const PromptRecord& record = data_.train[static_cast<size_t>(pending->second.first)];
    if (--pending->second.second == 0) pending_.erase(pending);
    Group& group = by_uid[t.prompt_index];
    if (group.samples.empty()) {
      group.uid = t.prompt_index;
      group.index = static_cast<int64_t>(&record - &data_.train[0]);
      PONDER_ASSIGN_OR_RETURN(group.prompt, encoder_->PromptText(record));
      auto ids = prompt_ids.find(t.prompt_index);
      if (ids != prompt_ids.end()) {
        group.prompt_ids = ids->second;
      } else {  // a partial rollout resumed from an earlier step
        PONDER_ASSIGN_OR_RETURN(group.prompt_ids, encoder_->Encode(record));
        (*counts)["rollout/resumed"] += 1;
      }
    }
    ScoredSample sample;
    PONDER_ASSIGN_OR_RETURN(sample.response, encoder_->DecodeResponse(t.token_ids));
    sample.trajectory = std::move(t);
    items.push_back({.prompt = group.prompt,
                     .response = sample.response,
                     .ground_truth = record.ground_truth,
                     .metadata = record.extra_info.is_object() ? record.extra_info : json::object(),
                     .data_source = record.data_source});
    item_owner.emplace_back(group.uid, group.samples.size());
    group.samples.push_back(std::move(sample));
  }

  start = std::chrono::steady_clock::now();
  PONDER_ASSIGN_OR_RETURN(std::vector<reward::ItemResult> results, reward_->Score(items, {}));
  (*counts)["timing/reward_s"] += Seconds(start);
  std::map<uint64_t, std::vector<bool>> failed;
  for (size_t i = 0; i < results.size(); ++i) {
    auto [uid, slot] = item_owner[i];
    Group& group = by_uid[uid];
    if (results[i].status.ok()) {
      group.samples[slot].result = std::move(results[i].result);
      continue;
    }
    const PromptRecord& record = data_.train[static_cast<size_t>(group.index)];
    std::string problem =
        absl::StrCat("scoring sample ", group.samples[slot].trajectory.sample_index, " of prompt ",
                     record.origin, ": ", results[i].status.message());
    if (!skip_bad) {
      return absl::InvalidArgumentError(
          absl::StrCat(problem, " (set data.on_bad_sample: skip to skip and count such samples)"));
    }
    spdlog::warn("skipping: {}", problem);
    (*counts)["reward/errors"] += 1;
    failed[uid].resize(group.samples.size());
    failed[uid][slot] = true;
  }
  for (auto& [uid, group] : by_uid) {
    auto f = failed.find(uid);
    if (f != failed.end()) {
      std::vector<ScoredSample> ok;
      for (size_t s = 0; s < group.samples.size(); ++s) {
        if (!f->second[s]) ok.push_back(std::move(group.samples[s]));
      }
      group.samples = std::move(ok);
    }
    if (group.samples.empty()) continue;
    std::vector<double> scores;
    for (const ScoredSample& s : group.samples) scores.push_back(s.result.score);
    group.kept = filter_->Offer(scores) == GroupVerdict::kKeep;
    groups->push_back(std::move(group));
  }
  return absl::OkStatus();
}

absl::StatusOr<monitor::Metrics> Controller::Impl::RunStep(std::vector<json>* samples) {
  const auto step_start = std::chrono::steady_clock::now();
  monitor::Metrics m;
  std::vector<Group> groups;
  filter_->BeginBatch(job_.data.train_batch_size);
  for (int64_t round = 0; filter_->NeedsGeneration(); ++round) {
    filter_->CountGeneration();
    PONDER_RETURN_IF_ERROR(CollectRound(round, &groups, &m));
  }
  PONDER_RETURN_IF_ERROR(filter_->FinishBatch());

  // The training batch: every kept group's samples.
  std::vector<Trajectory> batch;
  std::vector<std::pair<size_t, size_t>> position;  // batch entry -> (group, sample)
  for (size_t g = 0; g < groups.size(); ++g) {
    if (!groups[g].kept) continue;
    for (size_t s = 0; s < groups[g].samples.size(); ++s) {
      const ScoredSample& sample = groups[g].samples[s];
      const rollout::Trajectory& t = sample.trajectory;
      batch.push_back({.prompt_ids = groups[g].prompt_ids,
                       .response_ids = t.token_ids,
                       .behaviour_log_probs = t.logprobs,
                       .score = sample.result.score,
                       .correct = sample.result.correct,
                       .truncated = t.finish_reason == rollout::FinishReason::kLength,
                       .group = static_cast<int64_t>(g)});
      position.emplace_back(g, s);
    }
  }
  std::vector<double> advantages(batch.size(), 0.0), shaped(batch.size(), 0.0);
  if (!batch.empty()) {
    const auto start = std::chrono::steady_clock::now();
    PONDER_ASSIGN_OR_RETURN(LearnerStep out, learner_->Step(batch, step_));
    m["timing/update_s"] = Seconds(start);
    for (const auto& [name, value] : out.metrics) {
      if (name != "timing/update_s") m[name] = value;
    }
    advantages = out.advantages;
    shaped = out.scores;
  } else {
    spdlog::warn("step {}: no finished samples to train on (all paused?)", step_ + 1);
  }
  const auto sync_start = std::chrono::steady_clock::now();
  PONDER_RETURN_IF_ERROR(PushWeights(step_ + 1));
  m["timing/sync_s"] = Seconds(sync_start);

  // Metrics over every scored sample of the step; samples for the viewer.
  std::vector<double> lengths, scores;
  std::map<std::string, std::vector<double>> components;
  int64_t truncated = 0, correct = 0, zero_std = 0, scored_groups = 0;
  for (size_t g = 0; g < groups.size(); ++g) {
    const Group& group = groups[g];
    int64_t group_correct = 0;
    std::vector<double> group_scores;
    for (const ScoredSample& s : group.samples) {
      lengths.push_back(static_cast<double>(s.trajectory.token_ids.size()));
      scores.push_back(s.result.score);
      group_scores.push_back(s.result.score);
      for (const auto& [name, value] : s.result.components) components[name].push_back(value);
      truncated += s.trajectory.finish_reason == rollout::FinishReason::kLength ? 1 : 0;
      group_correct += IsCorrect(s.result) ? 1 : 0;
    }
    correct += group_correct;
    ++scored_groups;
    const auto [lo, hi] = std::minmax_element(group_scores.begin(), group_scores.end());
    zero_std += *lo == *hi ? 1 : 0;
    sampler_->Observe(group.index, static_cast<double>(group_correct),
                      static_cast<int64_t>(group.samples.size()));
  }
  for (size_t b = 0; b < batch.size(); ++b) {
    const auto [g, s] = position[b];
    const Group& group = groups[g];
    const ScoredSample& sample = group.samples[s];
    const PromptRecord& record = data_.train[static_cast<size_t>(group.index)];
    if (job_.monitor.max_samples_per_step >= 0 &&
        static_cast<int64_t>(samples->size()) >= job_.monitor.max_samples_per_step) {
      break;
    }
    json segments = json::array();
    for (const rollout::Segment& seg : sample.trajectory.segments) {
      segments.push_back({seg.weight_version, seg.begin, seg.end});
    }
    samples->push_back(
        {{"step", step_ + 1},
         {"prompt_uid", group.uid},
         {"origin", record.origin},
         {"data_source", record.data_source},
         {"sample_index", sample.trajectory.sample_index},
         {"prompt", group.prompt},
         {"response", sample.response},
         {"ground_truth", record.ground_truth},
         {"score", sample.result.score},
         {"shaped_score", shaped[b]},
         {"correct",
          sample.result.correct.has_value() ? json(*sample.result.correct) : json(nullptr)},
         {"components", sample.result.components},
         {"details", sample.result.details},
         {"advantage", advantages[b]},
         {"finish_reason", rollout::FinishReasonName(sample.trajectory.finish_reason)},
         {"response_tokens", sample.trajectory.token_ids.size()},
         {"weight_version", sample.trajectory.weight_version},
         {"segments", segments}});
  }
  const double n = static_cast<double>(std::max<size_t>(lengths.size(), 1));
  monitor::AddSummary(m, "rollout/response_len", lengths);
  m["rollout/truncation_rate"] = static_cast<double>(truncated) / n;
  monitor::AddMeanStd(m, "reward/score", scores);
  for (const auto& [name, values] : components) {
    double sum = 0;
    for (double v : values) sum += v;
    m[absl::StrCat("reward/", name, "/mean")] = sum / static_cast<double>(values.size());
  }
  m["reward/accuracy"] = static_cast<double>(correct) / n;
  m["reward/zero_std_group_frac"] =
      scored_groups > 0 ? static_cast<double>(zero_std) / static_cast<double>(scored_groups) : 0;
  for (const auto& [name, value] : filter_->Metrics()) m[name] = value;
  m["data/skipped_lines"] = static_cast<double>(data_.train.skipped_lines());
  m["rollout/weight_version"] = static_cast<double>(step_ + 1);
  m["train/batch_samples"] = static_cast<double>(batch.size());
  const double step_s = Seconds(step_start);
  m["timing/step_s"] = step_s;
  if (m.count("timing/gen_s") && m["timing/gen_s"] > 0) {
    m["perf/gen_tokens_per_s"] = m["rollout/generated_tokens"] / m["timing/gen_s"];
  }
  return m;
}

absl::Status Controller::Impl::Run() {
  started_ = std::chrono::steady_clock::now();
  first_step_ = step_;
  const int64_t total = job_.trainer.steps;
  if (step_ == 0 && job_.eval.before_train) PONDER_RETURN_IF_ERROR(Evaluate(0));
  while (step_ < total) {
    if (StopRequested()) {
      spdlog::warn("stop requested after step {}", step_);
      if (job_.checkpoint.on_signal) PONDER_RETURN_IF_ERROR(SaveCheckpoint());
      return absl::CancelledError(absl::StrCat("stopped after step ", step_, " of ", total));
    }
    std::vector<json> samples;
    absl::StatusOr<monitor::Metrics> metrics = RunStep(&samples);
    if (!metrics.ok()) return Annotate(metrics.status(), absl::StrCat("step ", step_ + 1));
    ++step_;
    PONDER_RETURN_IF_ERROR(sink_->Write(step_, *metrics));
    PONDER_RETURN_IF_ERROR(sink_->WriteSamples(step_, samples));
    if (options_.progress) {
      const double elapsed = Seconds(started_);
      const double per_step = elapsed / static_cast<double>(step_ - first_step_);
      const auto eta = static_cast<int64_t>(per_step * static_cast<double>(total - step_));
      auto get = [&](const char* name) {
        auto it = metrics->find(name);
        return it == metrics->end() ? 0.0 : it->second;
      };
      std::fprintf(stderr,
                   "step %lld/%lld | reward %.3f | acc %.3f | len %.1f | %.2f s/step | ETA "
                   "%lld:%02lld\n",
                   static_cast<long long>(step_), static_cast<long long>(total),
                   get("reward/score/mean"), get("reward/accuracy"),
                   get("rollout/response_len/mean"), get("timing/step_s"),
                   static_cast<long long>(eta / 60), static_cast<long long>(eta % 60));
    }
    const bool last = step_ == total;
    if ((job_.eval.every > 0 && step_ % job_.eval.every == 0) || (last && job_.eval.at_end)) {
      PONDER_RETURN_IF_ERROR(Evaluate(step_));
    }
    if ((job_.checkpoint.every > 0 && step_ % job_.checkpoint.every == 0) ||
        (last && job_.checkpoint.at_end)) {
      PONDER_RETURN_IF_ERROR(SaveCheckpoint());
    }
  }
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

}  // namespace ponder::trainer
