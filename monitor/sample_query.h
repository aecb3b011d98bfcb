// The sample browser's queries over one step's samples (one JSON object per sample, as the
// run directory holds them): filters, text search, sorting and paging, plus the statistics of
// each prompt group (the samples that share a prompt).
#pragma once

#include <cstddef>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace ponder::monitor {

struct SampleQuery {
  // "" (file order), "score", "advantage", "length" (response tokens).
  std::string sort;
  bool descending = true;
  // All must hold: "truncated", "error", "correct", "incorrect", "zero_variance" (the group's
  // scores are all equal), "nonzero_variance".
  std::vector<std::string> filters;
  std::string text;   // case-insensitive, in prompt or response
  std::string group;  // only this prompt group (GroupKey)
  size_t offset = 0;
  size_t limit = 100;

  // From query parameters sort, order (asc|desc), filter (comma-separated), q, group, offset,
  // limit; an unknown value is an InvalidArgument naming the parameter and the valid ones.
  static absl::StatusOr<SampleQuery> FromParams(const std::map<std::string, std::string>& params);
};

// The prompt group of a sample: its prompt_uid, else its prompt text.
std::string GroupKey(const nlohmann::json& sample);

// {"total", "matched", "groups": {key: {"size", "mean", "std", "zero_variance", "prompt"}},
//  "samples": [{"index", "group", ... summary fields, "excerpt"}]} where "index" is the line
// of the sample in its file (for /api/sample).
nlohmann::json RunSampleQuery(const std::vector<nlohmann::json>& samples, const SampleQuery& q);

// The answer a verifier extracted from the response (details.extracted, or the first one among
// a composite reward's per-term details), or "" when there is none.
std::string ExtractedAnswer(const nlohmann::json& sample);

}  // namespace ponder::monitor
