#include "trainer/run_state.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/Generator.h>
#include <spdlog/spdlog.h>
#include <torch/serialize.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "base/file.h"
#include "base/status.h"
#include "model/checkpoint.h"
#include "trainer/batch_json.h"
#include "trainer/checkpoint.h"
#include "trainer/model_setup.h"
#include "trainer/rollout_backend.h"

namespace ponder::trainer {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

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

json StateJson(const RunState& state, const CheckpointedParts& parts) {
  json pending = json::array();
  for (const auto& [uid, entry] : state.prompts.pending) {
    pending.push_back({uid, entry.first, entry.second});
  }
  return {{"step", state.step},
          {"next_prompt_uid", state.prompts.next_uid},
          {"pending", pending},
          {"sampler", parts.sampler->SaveState()},
          {"learner", parts.learner->SaveState()},
          {"group_filter", parts.filter->SaveState()}};
}

absl::Status SaveTorchState(const fs::path& dir, const CheckpointedParts& parts) {
  try {
    torch::save(parts.learner->policy_optimizer(), (dir / "optimizer.pt").string());
    if (parts.learner->critic_optimizer() != nullptr) {
      torch::save(*parts.learner->critic_optimizer(), (dir / "critic_optimizer.pt").string());
    }
    torch::save(at::detail::getDefaultCPUGenerator().get_state(), (dir / "rng.pt").string());
  } catch (const c10::Error& e) {
    return absl::InternalError(
        absl::StrCat("saving optimizer state: ", e.what_without_backtrace()));
  }
  return absl::OkStatus();
}

absl::Status LoadTorchState(const fs::path& dir, const CheckpointedParts& parts) {
  try {
    torch::load(parts.learner->policy_optimizer(), (dir / "optimizer.pt").string());
    if (parts.learner->critic_optimizer() != nullptr) {
      torch::load(*parts.learner->critic_optimizer(), (dir / "critic_optimizer.pt").string());
    }
    at::Tensor rng;
    torch::load(rng, (dir / "rng.pt").string());
    at::Generator generator = at::detail::getDefaultCPUGenerator();
    generator.set_state(rng);
  } catch (const c10::Error& e) {
    return absl::DataLossError(absl::StrCat("loading optimizer state from '", dir.string(),
                                            "': ", e.what_without_backtrace()));
  }
  return absl::OkStatus();
}

// The state.json fields of RunState, and the parts' own states.
absl::StatusOr<RunState> LoadStateJson(const fs::path& path, const CheckpointedParts& parts) {
  PONDER_ASSIGN_OR_RETURN(std::string text, file::ReadFile(path.string(), "checkpoint file"));
  json state = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (state.is_discarded() || !state.is_object()) {
    return absl::DataLossError(absl::StrCat("'", path.string(), "' is not JSON"));
  }
  RunState out;
  try {
    out.step = state.at("step").get<int64_t>();
    out.prompts.next_uid = state.at("next_prompt_uid").get<uint64_t>();
    for (const json& p : state.at("pending")) {
      out.prompts.pending[p.at(0).get<uint64_t>()] = {p.at(1).get<int64_t>(),
                                                      p.at(2).get<int64_t>()};
    }
    PONDER_RETURN_IF_ERROR(parts.sampler->LoadState(state.at("sampler").get<std::string>()));
    PONDER_RETURN_IF_ERROR(parts.learner->LoadState(state.at("learner").get<std::string>()));
    PONDER_RETURN_IF_ERROR(parts.filter->LoadState(state.at("group_filter").get<std::string>()));
  } catch (const json::exception& e) {
    return absl::DataLossError(absl::StrCat("'", path.string(), "' is incomplete: ", e.what()));
  }
  return out;
}

}  // namespace

absl::Status SaveRunState(const JobConfig& job, const RunState& state,
                          const CheckpointedParts& parts) {
  const std::string& run_dir = job.run.dir;
  const fs::path dir = CheckpointDir(run_dir, state.step) + ".tmp";
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create '", dir.string(), "'"));
  PONDER_RETURN_IF_ERROR(
      SaveModelFolder(parts.policy, (dir / "policy").string(), parts.tokenizer_source));
  if (parts.critic) {
    PONDER_RETURN_IF_ERROR(model::SaveHfFolder(parts.critic, (dir / "critic").string(), {}));
  }
  PONDER_RETURN_IF_ERROR(SaveTorchState(dir, parts));
  if (!parts.partial_rollouts_dir.empty()) {
    PONDER_RETURN_IF_ERROR(CopyTree(parts.partial_rollouts_dir, dir / "partial_rollouts"));
  }
  if (!state.in_flight.empty()) {
    PONDER_RETURN_IF_ERROR(file::WriteFileAtomically((dir / "in_flight.json").string(),
                                                     BatchesToJson(state.in_flight).dump() + "\n"));
  }
  PONDER_RETURN_IF_ERROR(file::WriteFileAtomically((dir / "state.json").string(),
                                                   StateJson(state, parts).dump(1) + "\n"));
  PONDER_RETURN_IF_ERROR(CommitCheckpoint(run_dir, dir.string(), state.step, job.checkpoint.keep));
  spdlog::info("saved checkpoint {}", CheckpointDir(run_dir, state.step));
  return absl::OkStatus();
}

absl::StatusOr<RunState> RestoreRunState(const JobConfig& job, const std::string& checkpoint,
                                         const CheckpointedParts& parts) {
  const fs::path dir = checkpoint;
  PONDER_ASSIGN_OR_RETURN(RunState state, LoadStateJson(dir / "state.json", parts));
  if (fs::exists(dir / "in_flight.json")) {
    PONDER_ASSIGN_OR_RETURN(std::string text,
                            file::ReadFile((dir / "in_flight.json").string(), "checkpoint file"));
    json batches = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (batches.is_discarded()) {
      return absl::DataLossError(
          absl::StrCat("'", (dir / "in_flight.json").string(), "' is not JSON"));
    }
    absl::StatusOr<std::vector<BatchResult>> in_flight = BatchesFromJson(batches);
    if (!in_flight.ok()) {
      return Annotate(in_flight.status(), (dir / "in_flight.json").string());
    }
    state.in_flight = *std::move(in_flight);
  }
  PONDER_RETURN_IF_ERROR(LoadTorchState(dir, parts));
  // The in-process engine's store of paused partial rollouts (rollout_backend.h).
  if (job.rollout.sampling.round_token_budget > 0 && job.rollout.partial_store_dir.empty()) {
    PONDER_RETURN_IF_ERROR(CopyTree(dir / "partial_rollouts", RunPartialRolloutsDir(job.run.dir)));
  }
  return state;
}

absl::StatusOr<std::string> ResumeCheckpoint(const std::string& run_dir) {
  absl::StatusOr<int64_t> latest = LatestValidCheckpoint(run_dir);
  if (!latest.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot resume '", run_dir, "': ", latest.status().message()));
  }
  spdlog::info("resuming from {}", CheckpointDir(run_dir, *latest));
  return CheckpointDir(run_dir, *latest);
}

absl::StatusOr<int64_t> RestoreLearnerState(const std::string& checkpoint, Learner* learner) {
  const fs::path path = fs::path(checkpoint) / "state.json";
  PONDER_ASSIGN_OR_RETURN(std::string text, file::ReadFile(path.string(), "checkpoint file"));
  json state = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (state.is_discarded() || !state.is_object()) {
    return absl::DataLossError(absl::StrCat("'", path.string(), "' is not JSON"));
  }
  int64_t step = 0;
  try {
    step = state.at("step").get<int64_t>();
    PONDER_RETURN_IF_ERROR(learner->LoadState(state.at("learner").get<std::string>()));
  } catch (const json::exception& e) {
    return absl::DataLossError(absl::StrCat("'", path.string(), "' is incomplete: ", e.what()));
  }
  try {
    torch::load(learner->policy_optimizer(), (fs::path(checkpoint) / "optimizer.pt").string());
    if (learner->critic_optimizer() != nullptr) {
      torch::load(*learner->critic_optimizer(),
                  (fs::path(checkpoint) / "critic_optimizer.pt").string());
    }
  } catch (const c10::Error& e) {
    return absl::DataLossError(absl::StrCat("loading optimizer state from '", checkpoint,
                                            "': ", e.what_without_backtrace()));
  }
  return step;
}

}  // namespace ponder::trainer
