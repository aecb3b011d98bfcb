#include "trainer/config_reference.h"

#include <map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "base/config.h"
#include "reward/verifier_registry.h"
#include "trainer/job_config.h"

namespace ponder::trainer {
namespace {

// Where each section's options are explained in prose (the header above its struct).
const std::map<std::string, std::string>& SectionHeaders() {
  static const auto* headers = new std::map<std::string, std::string>{
      {"run", "trainer/job_config.h"},
      {"model", "model/model_options.h"},
      {"data", "trainer/data_options.h, trainer/builtin_task.h, trainer/prompt_sampler.h"},
      {"rollout", "rollout/rollout_options.h"},
      {"algorithm", "trainer/algorithm_options.h"},
      {"trainer", "trainer/trainer_options.h"},
      {"reward", "reward/reward_options.h"},
      {"checkpoint", "trainer/checkpoint.h"},
      {"eval", "trainer/evaluation.h"},
      {"monitor", "monitor/monitor_options.h"},
      {"sft", "trainer/sft.h"},
  };
  return *headers;
}

std::string Cell(const std::string& text) { return absl::StrReplaceAll(text, {{"|", "\\|"}}); }

void AppendTable(const std::vector<config::FieldInfo>& fields, std::string& out) {
  absl::StrAppend(&out, "| key | type | default | checked at load |\n|---|---|---|---|\n");
  for (const config::FieldInfo& f : fields) {
    std::string rules;
    for (const std::string& r : f.rules) absl::StrAppend(&rules, rules.empty() ? "" : "; ", r);
    absl::StrAppend(&out, "| `", f.path, "` | ", Cell(f.type), " | ",
                    f.default_value.empty() ? "" : absl::StrCat("`", Cell(f.default_value), "`"),
                    " | ", Cell(rules), " |\n");
  }
}

}  // namespace

std::string ConfigReference() {
  std::string out =
      "# Configuration reference\n\n"
      "Generated from the code by `ponder config reference` (do not edit by hand: a test fails\n"
      "when this file and the options structs disagree; regenerate with\n"
      "`build/cli/ponder config reference > docs/config-reference.md`).\n\n"
      "A job file has one section per component; every key is optional and has the default\n"
      "shown. Any key can be overridden on the command line as `key=value` (`trainer.lr=1e-5`,\n"
      "`data.task.levels=[3]`); `ponder config check FILE` prints a file fully resolved. In keys,\n"
      "`[]` stands for any item of a list and `<name>` for any key of a map. Rules that involve\n"
      "several keys are checked too, and explained in the header named under each section.\n";
  const std::vector<config::FieldInfo> fields = config::DescribeFields<JobConfig>();
  for (const config::FieldInfo& section : fields) {
    if (section.path.find('.') != std::string::npos) continue;
    absl::StrAppend(&out, "\n## `", section.path, "`\n\n");
    auto header = SectionHeaders().find(section.path);
    if (header != SectionHeaders().end()) {
      absl::StrAppend(&out, "Explained in ", header->second, ".\n\n");
    }
    std::vector<config::FieldInfo> rows;
    for (const config::FieldInfo& f : fields) {
      if (f.path.rfind(section.path + ".", 0) == 0 || f.path.rfind(section.path + "[", 0) == 0) {
        rows.push_back(f);
      }
    }
    AppendTable(rows, out);
  }

  absl::StrAppend(&out,
                  "\n## Verifier options\n\n"
                  "`reward.verifiers[].options` (and the same under `reward.sources`) is typed by\n"
                  "the verifier's `name`. Writing your own: docs/writing-a-verifier.md.\n");
  for (const reward::VerifierRegistry::Entry* entry :
       reward::VerifierRegistry::Builtins().Entries()) {
    absl::StrAppend(&out, "\n### `", entry->name, "`\n\n", entry->description, "\n\n");
    std::vector<config::FieldInfo> options;
    config::Binder binder(&options, "");
    entry->check_options(binder, "options");
    if (options.size() <= 1) {
      absl::StrAppend(&out, "No options.\n");
      continue;
    }
    options.erase(options.begin());  // the `options` section itself
    AppendTable(options, out);
  }
  return out;
}

}  // namespace ponder::trainer
