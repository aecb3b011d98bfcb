#include "trainer/token_details.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/status.h"

namespace ponder::trainer {
namespace {

absl::Status CheckRow(const RowTokenDetail& d, const TrainingBatch& batch) {
  if (d.row < 0 || d.row >= static_cast<int64_t>(batch.trajectories.size())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "token detail of row ", d.row, ": the batch has ", batch.trajectories.size(), " samples"));
  }
  const size_t n = batch.trajectories[static_cast<size_t>(d.row)].response_ids.size();
  if (d.logprobs.size() != n || d.advantages.size() != n || d.loss_mask.size() != n ||
      (!d.entropy.empty() && d.entropy.size() != n)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "token detail of row ", d.row, ": ", n, " response tokens but ", d.logprobs.size(),
        " log-probs, ", d.entropy.size(), " entropies, ", d.advantages.size(), " advantages and ",
        d.loss_mask.size(), " loss-mask values"));
  }
  return absl::OkStatus();
}

}  // namespace

std::vector<int64_t> TokenDetailRows(const monitor::MonitorOptions& monitor, size_t batch_size) {
  const int64_t size = static_cast<int64_t>(batch_size);
  const int64_t max = monitor.max_samples_per_step;
  const int64_t written = max >= 0 ? std::min(size, max) : size;
  std::vector<int64_t> rows(
      static_cast<size_t>(monitor::TokenDetailCount(monitor.token_details, written)));
  for (size_t i = 0; i < rows.size(); ++i) rows[i] = static_cast<int64_t>(i);
  return rows;
}

absl::StatusOr<std::vector<monitor::TokenDetailRecord>> TokenDetailRecords(
    int64_t step, const std::vector<Group>& groups, const TrainingBatch& batch,
    const std::vector<RowTokenDetail>& details, const model::Tokenizer& tokenizer) {
  std::vector<monitor::TokenDetailRecord> out;
  for (const RowTokenDetail& d : details) {
    PONDER_RETURN_IF_ERROR(CheckRow(d, batch));
    const Trajectory& t = batch.trajectories[static_cast<size_t>(d.row)];
    const auto [g, s] = batch.position[static_cast<size_t>(d.row)];
    monitor::TokenDetailRecord r;
    r.step = step;
    r.prompt_uid = groups[g].uid;
    r.sample_index = groups[g].samples[s].trajectory.sample_index;
    r.token_ids = t.response_ids;
    model::StreamDecoder decoder(tokenizer);
    for (int32_t id : t.response_ids) {
      std::string text;
      PONDER_RETURN_IF_ERROR(decoder.Push(id, &text));
      r.tokens.push_back(std::move(text));
    }
    if (!r.tokens.empty()) decoder.Finish(&r.tokens.back());
    r.behaviour_logprobs = t.behaviour_log_probs;
    r.logprobs = d.logprobs;
    r.entropy = d.entropy;
    r.advantage = d.advantages;
    r.loss_mask = d.loss_mask;
    out.push_back(std::move(r));
  }
  return out;
}

absl::Status WriteTokenDetails(monitor::MetricsSink& sink, int64_t step,
                               const std::vector<Group>& groups, const TrainingBatch& batch,
                               const std::vector<RowTokenDetail>& details,
                               const model::Tokenizer& tokenizer) {
  if (details.empty()) return absl::OkStatus();
  PONDER_ASSIGN_OR_RETURN(std::vector<monitor::TokenDetailRecord> lines,
                          TokenDetailRecords(step, groups, batch, details, tokenizer));
  return sink.WriteTokenDetails(step, lines);
}

}  // namespace ponder::trainer
