#include "monitor/sample_query.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace ponder::monitor {
using nlohmann::json;

namespace {

constexpr size_t kMaxLimit = 1000;
constexpr size_t kExcerptChars = 240;
const std::vector<std::string> kSorts = {"", "score", "advantage", "length"};
const std::vector<std::string> kFilters = {"truncated", "error",         "correct",
                                           "incorrect", "zero_variance", "nonzero_variance"};

double Number(const json& sample, const char* key) {
  auto it = sample.find(key);
  return it != sample.end() && it->is_number() ? it->get<double>()
                                               : std::numeric_limits<double>::quiet_NaN();
}

bool HasError(const json& s) { return s.contains("error") || !s.contains("score"); }
bool IsTruncated(const json& s) { return s.value("finish_reason", "") == "length"; }
// true / false / absent (no verdict).
int Correct(const json& s) {
  auto it = s.find("correct");
  if (it == s.end() || !it->is_boolean()) return -1;
  return it->get<bool>() ? 1 : 0;
}

std::string Text(const json& s, const char* key) {
  auto it = s.find(key);
  if (it == s.end()) return "";
  return it->is_string() ? it->get<std::string>() : it->dump();
}

// Cuts at a UTF-8 character boundary.
std::string Excerpt(const std::string& text, size_t chars) {
  if (text.size() <= chars) return text;
  size_t end = chars;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end) + "…";
}

struct GroupStats {
  size_t size = 0;
  std::vector<double> scores;
  std::string prompt;
};

}  // namespace

absl::StatusOr<SampleQuery> SampleQuery::FromParams(
    const std::map<std::string, std::string>& params) {
  SampleQuery q;
  auto get = [&](const char* key) {
    auto it = params.find(key);
    return it == params.end() ? std::string() : it->second;
  };
  q.sort = get("sort");
  if (std::find(kSorts.begin(), kSorts.end(), q.sort) == kSorts.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("sort must be one of score, advantage, length "
                     "(got '",
                     q.sort, "')"));
  }
  const std::string order = get("order");
  if (order != "" && order != "asc" && order != "desc") {
    return absl::InvalidArgumentError(
        absl::StrCat("order must be asc or desc (got '", order, "')"));
  }
  q.descending = order != "asc";
  for (absl::string_view f : absl::StrSplit(get("filter"), ',', absl::SkipEmpty())) {
    if (std::find(kFilters.begin(), kFilters.end(), f) == kFilters.end()) {
      return absl::InvalidArgumentError(absl::StrCat("filter must be a comma-separated list of ",
                                                     absl::StrJoin(kFilters, ", "), " (got '", f,
                                                     "')"));
    }
    q.filters.emplace_back(f);
  }
  q.text = get("q");
  q.group = get("group");
  for (auto [key, out, most] : {std::make_tuple("offset", &q.offset, SIZE_MAX),
                                std::make_tuple("limit", &q.limit, kMaxLimit)}) {
    const std::string value = get(key);
    if (value.empty()) continue;
    uint64_t n = 0;
    if (!absl::SimpleAtoi(value, &n) || n > most) {
      return absl::InvalidArgumentError(absl::StrCat(key, " must be a whole number",
                                                     most == kMaxLimit ? " up to 1000" : "",
                                                     " (got '", value, "')"));
    }
    *out = static_cast<size_t>(n);
  }
  return q;
}

std::string GroupKey(const json& sample) {
  auto it = sample.find("prompt_uid");
  if (it != sample.end() && !it->is_null()) return it->dump();
  return Text(sample, "prompt");
}

std::string ExtractedAnswer(const json& sample) {
  auto details = sample.find("details");
  if (details == sample.end() || !details->is_object()) return "";
  auto pick = [](const json& d) -> std::string {
    auto it = d.find("extracted");
    if (it == d.end() || it->is_null()) return "";
    return it->is_string() ? it->get<std::string>() : it->dump();
  };
  std::string answer = pick(*details);
  if (!answer.empty()) return answer;
  for (const auto& [term, d] : details->items()) {  // a composite reward: details per term
    if (d.is_object() && !(answer = pick(d)).empty()) return answer;
  }
  return "";
}

json RunSampleQuery(const std::vector<json>& samples, const SampleQuery& q) {
  std::map<std::string, GroupStats> groups;
  for (const json& s : samples) {
    GroupStats& g = groups[GroupKey(s)];
    ++g.size;
    if (g.prompt.empty()) g.prompt = Text(s, "prompt");
    const double score = Number(s, "score");
    if (!std::isnan(score)) g.scores.push_back(score);
  }
  json group_json = json::object();
  std::map<std::string, bool> zero_variance;
  for (const auto& [key, g] : groups) {
    double mean = 0, var = 0;
    for (double v : g.scores) mean += v;
    if (!g.scores.empty()) mean /= static_cast<double>(g.scores.size());
    for (double v : g.scores) var += (v - mean) * (v - mean);
    if (!g.scores.empty()) var /= static_cast<double>(g.scores.size());
    const bool zero = g.scores.size() > 1 && var == 0;
    zero_variance[key] = zero;
    group_json[key] = {{"size", g.size},
                       {"mean", g.scores.empty() ? json() : json(mean)},
                       {"std", g.scores.empty() ? json() : json(std::sqrt(var))},
                       {"zero_variance", zero},
                       {"prompt", Excerpt(g.prompt, 2000)}};
  }

  const std::string needle = absl::AsciiStrToLower(q.text);
  std::vector<size_t> matched;
  for (size_t i = 0; i < samples.size(); ++i) {
    const json& s = samples[i];
    const std::string key = GroupKey(s);
    if (!q.group.empty() && key != q.group) continue;
    bool keep = true;
    for (const std::string& f : q.filters) {
      if (f == "truncated") keep = keep && IsTruncated(s);
      if (f == "error") keep = keep && HasError(s);
      if (f == "correct") keep = keep && Correct(s) == 1;
      if (f == "incorrect") keep = keep && Correct(s) == 0;
      if (f == "zero_variance") keep = keep && zero_variance[key];
      if (f == "nonzero_variance") keep = keep && !zero_variance[key];
    }
    if (keep && !needle.empty()) {
      keep = absl::StrContains(absl::AsciiStrToLower(Text(s, "response")), needle) ||
             absl::StrContains(absl::AsciiStrToLower(Text(s, "prompt")), needle);
    }
    if (keep) matched.push_back(i);
  }
  if (!q.sort.empty()) {
    const char* key = q.sort == "length" ? "response_tokens" : q.sort.c_str();
    // NaN (no value) sorts last either way.
    std::stable_sort(matched.begin(), matched.end(), [&](size_t a, size_t b) {
      const double x = Number(samples[a], key), y = Number(samples[b], key);
      if (std::isnan(x) || std::isnan(y)) return !std::isnan(x) && std::isnan(y);
      return q.descending ? x > y : x < y;
    });
  }

  json rows = json::array();
  for (size_t r = q.offset; r < matched.size() && rows.size() < q.limit; ++r) {
    const json& s = samples[matched[r]];
    json row = {{"index", matched[r]},
                {"group", GroupKey(s)},
                {"excerpt", Excerpt(Text(s, "response"), kExcerptChars)},
                {"extracted", ExtractedAnswer(s)}};
    for (const char* key : {"prompt_uid", "sample_index", "score", "shaped_score", "correct",
                            "advantage", "finish_reason", "response_tokens", "components", "error",
                            "origin", "greedy", "weight_version"}) {
      auto it = s.find(key);
      if (it != s.end()) row[key] = *it;
    }
    rows.push_back(std::move(row));
  }
  return {{"total", samples.size()},
          {"matched", matched.size()},
          {"groups", std::move(group_json)},
          {"samples", std::move(rows)}};
}

}  // namespace ponder::monitor
