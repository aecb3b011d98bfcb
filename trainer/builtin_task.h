// Built-in generated tasks for CPU demos and tests: prompts with exactly checkable answers,
// a difficulty level, the ground truth their verifier needs, and worked demonstrations for
// SFT. All text uses the alphabet `kBuiltinTaskAlphabet`, so a character tokenizer covers it.
//
// `arithmetic` (verifier: exact_match; ground truth: the answer string)
//   level L: two L-digit operands, zero-padded, one operator from `operators`:
//   "457+768=" -> "1225" (sum padded to L+1 digits), "768-457=" -> "311" (a >= b, padded to
//   L digits), "457*768=" -> "350976" (padded to 2L digits).
// `countdown` (verifier: countdown; ground truth: {"numbers": [...], "target": T})
//   level L (2..5): L numbers in 1..max_number, sorted, and a target in 0..max_target made by
//   a random expression over all of them with + - * and parentheses: "3,4,5>17:". A correct
//   answer is any expression that uses each given number exactly once (no unary minus, no
//   leading zeros) and evaluates to the target: "3*4+5".
//
// Responses: a demonstration in style `answer` is the bare answer. In style
// `chain_of_thought` it is worked steps, then a line break and the answer:
//   "457+768=" -> "7+8=15,5+6+1=12,4+7+1=12\n1225"
//   "3,4,5>17:" -> "3*4=12,12+5=17\n3*4+5"
// so the final answer is the last line of the response (what the reward library's
// `exact_match` with `extract: last_line` and `countdown` verifiers read).
//
// Imperfect demonstrations (arithmetic): with `flawed_demonstrations: p`, a fixed share p of
// the prompts (chosen by a hash of the prompt text and the data seed, so the same prompts in
// every run) get a wrong demonstration, the same one every time, from a teacher who
//   flaw: carry   forgets to carry (+) or to borrow (-), a systematic error:
//                 "457+768=" -> "1115" ("7+8=15,5+6=11,4+7=11\n1115" with steps);
//   flaw: slip    writes one digit of the answer wrong, a random error (the steps stay right):
//                 "457+768=" -> "1205".
// Only the demonstrations change; the ground truth, and so the verifier, stay exact. SFT
// learns the teacher's mistakes; RL with the verifier can unlearn them (docs/demo.md).
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/config.h"
#include "trainer/dataset.h"

namespace ponder::trainer {

inline constexpr char kBuiltinTaskAlphabet[] = "0123456789+-*()=,>:\n";

// `data.task:` — which built-in task, which levels, how many prompts.
struct BuiltinTaskOptions {
  std::string name;                   // "arithmetic" or "countdown"; empty: no built-in task
  std::vector<int64_t> levels = {3};  // difficulty levels to generate, equally many of each
  int64_t train_size = 10000;         // distinct training prompts
  int64_t val_size = 400;             // distinct held-out prompts, never in the training set
  int64_t seed = 1;                   // data seed (independent of run.seed: same data per seed)
  std::vector<std::string> operators = {"+"};  // arithmetic: any of "+", "-", "*"
  int64_t max_number = 9;                      // countdown: numbers are 1..max_number
  int64_t max_target = 99;                     // countdown: targets are 0..max_target
  double flawed_demonstrations = 0.0;          // arithmetic: share of prompts taught wrongly
  std::string flaw = "carry";                  // carry (+ and - only) | slip

  void Bind(config::Binder& b);
  absl::Status Validate() const;
};

enum class DemonstrationStyle { kAnswer, kChainOfThought };

class BuiltinTask {
 public:
  virtual ~BuiltinTask() = default;
  virtual std::string name() const = 0;
  // The data source written into records (selects the verifier).
  virtual std::string data_source() const = 0;
  // A random prompt of difficulty `level` (one the options allow).
  virtual PromptRecord Generate(int64_t level, std::mt19937_64& rng) const = 0;
  // A correct worked response for `record` (a prompt of this task); InvalidArgument when the
  // record is not one of this task's prompts. For countdown, a random one of the correct
  // expressions.
  virtual absl::StatusOr<std::string> Demonstrate(const PromptRecord& record,
                                                  DemonstrationStyle style,
                                                  std::mt19937_64& rng) const = 0;
};

// The task named by `options.name`; InvalidArgument naming the choices when unknown.
absl::StatusOr<std::unique_ptr<BuiltinTask>> MakeBuiltinTask(const BuiltinTaskOptions& options);

struct TaskSplits {
  PromptDataset train;
  PromptDataset val;
};

// Generates `val_size` then `train_size` distinct prompts (equally many per level, levels
// interleaved), none shared between the splits. FailedPrecondition when a level has fewer
// distinct prompts than requested (the message says how many were found).
absl::StatusOr<TaskSplits> GenerateTaskSplits(const BuiltinTask& task,
                                              const BuiltinTaskOptions& options);

// The final answer of a response in the built-in tasks' format: its last line.
std::string BuiltinFinalAnswer(const std::string& response);

}  // namespace ponder::trainer
