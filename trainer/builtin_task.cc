#include "trainer/builtin_task.h"

#include <algorithm>
#include <unordered_set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "trainer/internal/random.h"
#include "trainer/internal/tasks.h"

namespace ponder::trainer {

void BuiltinTaskOptions::Bind(config::Binder& b) {
  b.Field("name", name)
      .Must(name.empty() || name == "arithmetic" || name == "countdown",
            "be arithmetic or countdown (got '" + name + "')");
  b.Field("levels", levels).NotEmpty();
  b.Field("train_size", train_size).AtLeast(1);
  b.Field("val_size", val_size).AtLeast(0);
  b.Field("seed", seed).AtLeast(0);
  b.Field("operators", operators).NotEmpty();
  b.Field("max_number", max_number).InRange(1, 99);
  b.Field("max_target", max_target).InRange(1, 1000000);
  b.Field("flawed_demonstrations", flawed_demonstrations).InRange(0.0, 1.0);
  b.Field("flaw", flaw)
      .Must(flaw == "carry" || flaw == "slip", "be carry or slip (got '" + flaw + "')");
}

absl::Status BuiltinTaskOptions::Validate() const {
  for (const std::string& op : operators) {
    if (op != "+" && op != "-" && op != "*") {
      return absl::InvalidArgumentError(
          absl::StrCat("operators must be chosen from \"+\", \"-\", \"*\" (got \"", op, "\")"));
    }
  }
  if (flawed_demonstrations > 0 && name != "arithmetic") {
    return absl::InvalidArgumentError(
        absl::StrCat("flawed_demonstrations applies to the arithmetic task only (got ", name, ")"));
  }
  if (flawed_demonstrations > 0 && flaw == "carry" &&
      std::find(operators.begin(), operators.end(), "*") != operators.end()) {
    return absl::InvalidArgumentError(
        "flaw carry applies to + and - only (a teacher that forgets carries and borrows); use "
        "flaw: slip with *");
  }
  int64_t lo = 1, hi = internal::kMaxArithmeticLevel;
  if (name == "countdown") {
    lo = internal::kMinCountdownLevel;
    hi = internal::kMaxCountdownLevel;
  }
  for (int64_t level : levels) {
    if (level < lo || level > hi) {
      return absl::InvalidArgumentError(absl::StrCat("levels of ", name.empty() ? "a task" : name,
                                                     " must be in ", lo, "..", hi, " (got ", level,
                                                     ")"));
    }
  }
  std::vector<int64_t> sorted = levels;
  std::sort(sorted.begin(), sorted.end());
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
    return absl::InvalidArgumentError("levels must not repeat");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<BuiltinTask>> MakeBuiltinTask(const BuiltinTaskOptions& options) {
  if (absl::Status s = options.Validate(); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("data.task: ", s.message()));
  }
  if (options.name == "arithmetic") return internal::MakeArithmeticTask(options);
  if (options.name == "countdown") return internal::MakeCountdownTask(options);
  return absl::InvalidArgumentError(absl::StrCat("unknown built-in task '", options.name,
                                                 "' (choose one of: arithmetic, countdown)"));
}

namespace {

// `total` split over `parts` as evenly as possible, the remainder going to the first parts.
std::vector<int64_t> EvenSplit(int64_t total, size_t parts) {
  std::vector<int64_t> out(parts, total / static_cast<int64_t>(parts));
  for (int64_t i = 0; i < total % static_cast<int64_t>(parts); ++i) ++out[i];
  return out;
}

// Draws `count` prompts of `level` whose text is not yet in `seen`.
absl::Status Draw(const BuiltinTask& task, int64_t level, int64_t count, std::mt19937_64& rng,
                  std::unordered_set<std::string>& seen, std::vector<PromptRecord>& out,
                  const char* split) {
  const int64_t max_misses = std::max<int64_t>(100000, 50 * count);
  int64_t misses = 0, made = 0;
  while (made < count) {
    PromptRecord record = task.Generate(level, rng);
    if (!seen.insert(record.text).second) {
      if (++misses >= max_misses) {
        return absl::FailedPreconditionError(absl::StrCat(
            task.name(), " level ", level, " ran out of distinct prompts for the ", split,
            " split: found ", made, " of ", count, " after ", misses,
            " repeats in a row (lower data.task.train_size / val_size or add levels)"));
      }
      continue;
    }
    misses = 0;
    record.origin = absl::StrCat(task.name(), "/", split, "#", out.size());
    out.push_back(std::move(record));
    ++made;
  }
  return absl::OkStatus();
}

// Round-robin over the per-level lists, so that levels are interleaved.
std::vector<PromptRecord> Interleave(std::vector<std::vector<PromptRecord>> per_level) {
  std::vector<PromptRecord> out;
  for (size_t i = 0;; ++i) {
    bool any = false;
    for (auto& list : per_level) {
      if (i < list.size()) {
        out.push_back(std::move(list[i]));
        any = true;
      }
    }
    if (!any) break;
  }
  for (size_t i = 0; i < out.size(); ++i) {
    out[i].origin = out[i].origin.substr(0, out[i].origin.find('#')) + "#" + std::to_string(i);
  }
  return out;
}

}  // namespace

absl::StatusOr<TaskSplits> GenerateTaskSplits(const BuiltinTask& task,
                                              const BuiltinTaskOptions& options) {
  std::mt19937_64 rng(static_cast<uint64_t>(options.seed));
  std::unordered_set<std::string> seen;
  const size_t n = options.levels.size();
  std::vector<int64_t> val_counts = EvenSplit(options.val_size, n);
  std::vector<int64_t> train_counts = EvenSplit(options.train_size, n);
  std::vector<std::vector<PromptRecord>> val(n), train(n);
  for (size_t i = 0; i < n; ++i) {
    absl::Status s = Draw(task, options.levels[i], val_counts[i], rng, seen, val[i], "val");
    if (!s.ok()) return s;
  }
  for (size_t i = 0; i < n; ++i) {
    absl::Status s = Draw(task, options.levels[i], train_counts[i], rng, seen, train[i], "train");
    if (!s.ok()) return s;
  }
  TaskSplits splits;
  splits.val = PromptDataset(Interleave(std::move(val)));
  splits.train = PromptDataset(Interleave(std::move(train)));
  return splits;
}

std::string BuiltinFinalAnswer(const std::string& response) {
  size_t newline = response.rfind('\n');
  return newline == std::string::npos ? response : response.substr(newline + 1);
}

}  // namespace ponder::trainer
