#include "trainer/data_options.h"

#include "absl/strings/str_cat.h"

namespace ponder::trainer {

void DataOptions::Bind(config::Binder& b) {
  b.Field("train_files", train_files);
  b.Field("val_files", val_files);
  format.Bind(b);
  b.Field("task", task);
  b.Field("train_batch_size", train_batch_size).AtLeast(1);
  b.Field("sampler", sampler);
  b.Enum("on_bad_sample", on_bad_sample,
         {{"error", BadSamplePolicy::kError}, {"skip", BadSamplePolicy::kSkip}});
}

absl::Status DataOptions::Validate() const {
  if (!train_files.empty() && !task.name.empty()) {
    return absl::InvalidArgumentError("give either train_files or task.name, not both");
  }
  if (!task.name.empty() && !val_files.empty()) {
    return absl::InvalidArgumentError(
        "val_files cannot be combined with a built-in task (its held-out split is generated; "
        "see task.val_size)");
  }
  return absl::OkStatus();
}

absl::StatusOr<TaskSplits> LoadPromptData(const DataOptions& options) {
  if (absl::Status s = options.Validate(); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("data: ", s.message()));
  }
  if (options.train_files.empty() && options.task.name.empty()) {
    return absl::InvalidArgumentError(
        "data: no prompts configured; give data.train_files (JSONL) or a built-in task "
        "(data.task.name: arithmetic or countdown)");
  }
  if (!options.task.name.empty()) {
    absl::StatusOr<std::unique_ptr<BuiltinTask>> task = MakeBuiltinTask(options.task);
    if (!task.ok()) return task.status();
    return GenerateTaskSplits(**task, options.task);
  }
  TaskSplits splits;
  absl::StatusOr<PromptDataset> train =
      PromptDataset::LoadJsonlFiles(options.train_files, options.format);
  if (!train.ok()) return train.status();
  splits.train = std::move(*train);
  if (!options.val_files.empty()) {
    absl::StatusOr<PromptDataset> val =
        PromptDataset::LoadJsonlFiles(options.val_files, options.format);
    if (!val.ok()) return val.status();
    splits.val = std::move(*val);
  }
  return splits;
}

}  // namespace ponder::trainer
