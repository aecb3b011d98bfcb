#include "trainer/token_details.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/status.h"

namespace ponder::trainer {

std::vector<int64_t> TokenDetailRows(double share, int64_t batch_size, int64_t max_samples) {
  const int64_t written = max_samples >= 0 ? std::min(batch_size, max_samples) : batch_size;
  std::vector<int64_t> rows(static_cast<size_t>(monitor::TokenDetailCount(share, written)));
  for (size_t i = 0; i < rows.size(); ++i) rows[i] = static_cast<int64_t>(i);
  return rows;
}

absl::StatusOr<std::vector<monitor::TokenDetailRecord>> TokenDetailRecords(
    const std::vector<monitor::SampleRecord>& samples, const std::vector<Trajectory>& batch,
    const std::vector<RowTokenDetail>& details, const model::Tokenizer& tokenizer) {
  std::vector<monitor::TokenDetailRecord> out;
  for (const RowTokenDetail& d : details) {
    if (d.row < 0 || d.row >= static_cast<int64_t>(samples.size()) ||
        d.row >= static_cast<int64_t>(batch.size())) {
      return absl::InvalidArgumentError(absl::StrCat(
          "token detail of row ", d.row, ": the step has ", samples.size(), " sample records"));
    }
    const monitor::SampleRecord& sample = samples[static_cast<size_t>(d.row)];
    const Trajectory& t = batch[static_cast<size_t>(d.row)];
    const size_t n = t.response_ids.size();
    if (d.logprobs.size() != n || d.advantages.size() != n || d.loss_mask.size() != n ||
        (!d.entropy.empty() && d.entropy.size() != n)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "token detail of row ", d.row, ": ", n, " response tokens but ", d.logprobs.size(),
          " log-probs, ", d.entropy.size(), " entropies, ", d.advantages.size(), " advantages and ",
          d.loss_mask.size(), " loss-mask values"));
    }
    monitor::TokenDetailRecord r;
    r.step = sample.step;
    r.prompt_uid = sample.prompt_uid;
    r.sample_index = sample.sample_index;
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

}  // namespace ponder::trainer
