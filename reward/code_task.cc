#include "reward/code_task.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace ponder::reward {
namespace {

absl::Status Bad(const std::string& field, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("ground_truth.", field, " ", what));
}

absl::StatusOr<std::string> StringField(const nlohmann::json& object, const std::string& key,
                                        const std::string& path) {
  const nlohmann::json& value = object.at(key);
  if (!value.is_string()) {
    return Bad(path, absl::StrCat("must be a string (got ", value.type_name(), ")"));
  }
  return value.get<std::string>();
}

std::string_view StripTrailingSpace(std::string_view line) {
  while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r' ||
                           line.back() == '\f' || line.back() == '\v')) {
    line.remove_suffix(1);
  }
  return line;
}

std::vector<std::string_view> Lines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    lines.push_back(StripTrailingSpace(text.substr(start, end - start)));
    start = end + 1;
  }
  while (!lines.empty() && lines.back().empty()) lines.pop_back();
  return lines;
}

std::vector<std::string_view> Tokens(std::string_view text) {
  std::vector<std::string_view> tokens;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && absl::ascii_isspace(static_cast<unsigned char>(text[i]))) ++i;
    size_t start = i;
    while (i < text.size() && !absl::ascii_isspace(static_cast<unsigned char>(text[i]))) ++i;
    if (i > start) tokens.push_back(text.substr(start, i - start));
  }
  return tokens;
}

bool NumbersClose(std::string_view a, std::string_view b, double tolerance) {
  double x, y;
  if (!absl::SimpleAtod(absl::string_view(a.data(), a.size()), &x) ||
      !absl::SimpleAtod(absl::string_view(b.data(), b.size()), &y)) {
    return false;
  }
  if (std::isnan(x) || std::isnan(y)) return false;
  return std::fabs(x - y) <= tolerance * std::max(1.0, std::fabs(y));
}

// A fence line: up to 3 spaces, then ``` (or more backticks); returns the info string.
bool IsFence(std::string_view line, std::string_view* info) {
  size_t i = 0;
  while (i < line.size() && i < 3 && line[i] == ' ') ++i;
  if (line.substr(i, 3) != "```") return false;
  i += 3;
  while (i < line.size() && line[i] == '`') ++i;
  absl::string_view rest =
      absl::StripAsciiWhitespace(absl::string_view(line.data() + i, line.size() - i));
  *info = std::string_view(rest.data(), rest.size());
  return true;
}

bool TaggedFor(std::string_view info, CodeLanguage language) {
  std::string tag = absl::AsciiStrToLower(absl::string_view(info.data(), info.size()));
  tag = tag.substr(0, tag.find_first_of(" \t{"));
  if (language == CodeLanguage::kPython) return tag == "python" || tag == "py" || tag == "python3";
  return tag == "cpp" || tag == "c++" || tag == "cc" || tag == "cxx";
}

// Appends `c` (a code point) as UTF-8.
void AppendUtf8(std::string& out, uint32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

}  // namespace

const char* CodeLanguageName(CodeLanguage language) {
  return language == CodeLanguage::kPython ? "python" : "cpp";
}

const char* CodeTestStyleName(CodeTestStyle style) {
  switch (style) {
    case CodeTestStyle::kStdio:
      return "stdio";
    case CodeTestStyle::kAsserts:
      return "asserts";
    case CodeTestStyle::kFunction:
      return "function";
  }
  return "?";
}

size_t CodeTask::num_tests() const {
  switch (style) {
    case CodeTestStyle::kStdio:
      return cases.size();
    case CodeTestStyle::kAsserts:
      return asserts.size();
    case CodeTestStyle::kFunction:
      return 1;
  }
  return 0;
}

absl::StatusOr<CodeTask> ParseCodeTask(const nlohmann::json& ground_truth) {
  const nlohmann::json* object = &ground_truth;
  nlohmann::json parsed;
  if (ground_truth.is_string()) {
    parsed = nlohmann::json::parse(ground_truth.get<std::string>(), nullptr, false);
    if (parsed.is_discarded() || !parsed.is_object()) {
      return absl::InvalidArgumentError(
          "ground_truth for `code` must be an object (or a string holding a JSON object) with "
          "`language` and `tests`, `asserts` or `test` + `entry_point`");
    }
    object = &parsed;
  }
  if (!object->is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ground_truth for `code` must be an object with `language` and `tests`, `asserts` or "
        "`test` + `entry_point` (got ",
        object->type_name(), ")"));
  }
  static const char* const kKeys[] = {"language", "tests",       "asserts",   "setup",
                                      "test",     "entry_point", "timeout_s", "memory_mb"};
  for (const auto& [key, value] : object->items()) {
    if (std::find_if(std::begin(kKeys), std::end(kKeys), [&](const char* k) { return key == k; }) ==
        std::end(kKeys)) {
      return Bad(key,
                 "is not a known key (use language, tests, asserts, setup, test, "
                 "entry_point, timeout_s, memory_mb)");
    }
  }
  CodeTask task;
  if (!object->contains("language")) return Bad("language", "is missing (python or cpp)");
  std::string language;
  {
    absl::StatusOr<std::string> l = StringField(*object, "language", "language");
    if (!l.ok()) return l.status();
    language = absl::AsciiStrToLower(*l);
  }
  if (language == "python" || language == "python3") {
    task.language = CodeLanguage::kPython;
  } else if (language == "cpp" || language == "c++") {
    task.language = CodeLanguage::kCpp;
  } else {
    return Bad("language", absl::StrCat("must be python or cpp (got '", language, "')"));
  }

  int styles = object->contains("tests") + object->contains("asserts") + object->contains("test");
  if (styles != 1) {
    return absl::InvalidArgumentError(
        "ground_truth must have exactly one of `tests` (stdin/stdout cases), `asserts` or "
        "`test` (with `entry_point`)");
  }
  if (object->contains("tests")) {
    task.style = CodeTestStyle::kStdio;
    const nlohmann::json& tests = object->at("tests");
    if (!tests.is_array() || tests.empty()) {
      return Bad("tests", "must be a non-empty list of {\"stdin\": ..., \"stdout\": ...}");
    }
    for (size_t i = 0; i < tests.size(); ++i) {
      std::string path = absl::StrCat("tests[", i, "]");
      const nlohmann::json& t = tests[i];
      if (!t.is_object()) return Bad(path, "must be an object with stdin and stdout");
      for (const auto& [key, value] : t.items()) {
        if (key != "stdin" && key != "stdout") {
          return Bad(absl::StrCat(path, ".", key), "is not a known key (use stdin, stdout)");
        }
      }
      if (!t.contains("stdout")) return Bad(path + ".stdout", "is missing");
      StdioCase c;
      absl::StatusOr<std::string> out = StringField(t, "stdout", path + ".stdout");
      if (!out.ok()) return out.status();
      c.expected_stdout = *out;
      if (t.contains("stdin")) {
        absl::StatusOr<std::string> in = StringField(t, "stdin", path + ".stdin");
        if (!in.ok()) return in.status();
        c.stdin_data = *in;
      }
      task.cases.push_back(std::move(c));
    }
  } else if (object->contains("asserts")) {
    task.style = CodeTestStyle::kAsserts;
    const nlohmann::json& asserts = object->at("asserts");
    if (!asserts.is_array() || asserts.empty()) {
      return Bad("asserts", "must be a non-empty list of assert statements");
    }
    for (size_t i = 0; i < asserts.size(); ++i) {
      std::string path = absl::StrCat("asserts[", i, "]");
      if (!asserts[i].is_string() ||
          absl::StripAsciiWhitespace(asserts[i].get<std::string>()).empty()) {
        return Bad(path, "must be a non-empty string");
      }
      task.asserts.push_back(asserts[i].get<std::string>());
    }
    if (object->contains("setup")) {
      absl::StatusOr<std::string> setup = StringField(*object, "setup", "setup");
      if (!setup.ok()) return setup.status();
      task.setup = *setup;
    }
  } else {
    task.style = CodeTestStyle::kFunction;
    absl::StatusOr<std::string> test = StringField(*object, "test", "test");
    if (!test.ok()) return test.status();
    task.test = *test;
    if (task.language == CodeLanguage::kPython) {
      if (!object->contains("entry_point")) {
        return Bad("entry_point", "is missing (the function that `check` is called with)");
      }
      absl::StatusOr<std::string> entry = StringField(*object, "entry_point", "entry_point");
      if (!entry.ok()) return entry.status();
      bool identifier = !entry->empty() && !absl::ascii_isdigit((*entry)[0]);
      for (char c : *entry) identifier &= absl::ascii_isalnum(c) || c == '_';
      if (!identifier) {
        return Bad("entry_point", absl::StrCat("must be a Python identifier (got '", *entry, "')"));
      }
      task.entry_point = *entry;
    } else if (object->contains("entry_point")) {
      absl::StatusOr<std::string> entry = StringField(*object, "entry_point", "entry_point");
      if (!entry.ok()) return entry.status();
      task.entry_point = *entry;
    }
  }
  if (object->contains("setup") && task.style != CodeTestStyle::kAsserts) {
    return Bad("setup", "only goes with `asserts`");
  }
  if (object->contains("entry_point") && task.style != CodeTestStyle::kFunction) {
    return Bad("entry_point", "only goes with `test`");
  }
  if (object->contains("timeout_s")) {
    const nlohmann::json& t = object->at("timeout_s");
    if (!t.is_number() || !(t.get<double>() > 0) || t.get<double>() > 3600) {
      return Bad("timeout_s", "must be a number of seconds in (0, 3600]");
    }
    task.timeout_s = t.get<double>();
  }
  if (object->contains("memory_mb")) {
    const nlohmann::json& m = object->at("memory_mb");
    if (!m.is_number_integer() || m.get<int64_t>() < 16) {
      return Bad("memory_mb", "must be an integer >= 16");
    }
    task.memory_mb = m.get<int64_t>();
  }
  return task;
}

ExtractedProgram ExtractProgram(std::string_view response, CodeLanguage language) {
  struct Block {
    std::string_view body;
    bool tagged;
  };
  std::vector<Block> blocks;
  bool open = false;
  bool open_tagged = false;
  size_t body_start = 0;
  size_t pos = 0;
  while (pos <= response.size()) {
    size_t end = response.find('\n', pos);
    if (end == std::string_view::npos) end = response.size();
    std::string_view line = response.substr(pos, end - pos);
    std::string_view info;
    if (IsFence(line, &info)) {
      if (!open) {
        open = true;
        open_tagged = TaggedFor(info, language);
        body_start = std::min(end + 1, response.size());
      } else if (info.empty()) {
        blocks.push_back({response.substr(body_start, pos - body_start), open_tagged});
        open = false;
      }
    }
    pos = end + 1;
  }
  ExtractedProgram out;
  for (auto it = blocks.rbegin(); it != blocks.rend(); ++it) {
    if (it->tagged) {
      out.code = std::string(it->body);
      out.source = "fenced_block";
      return out;
    }
  }
  if (open && (blocks.empty() || open_tagged)) {
    out.code = std::string(response.substr(body_start));
    out.source = "unclosed_block";
    return out;
  }
  if (!blocks.empty()) {
    out.code = std::string(blocks.back().body);
    out.source = "fenced_block";
    return out;
  }
  out.code = std::string(response);
  out.source = "whole_response";
  return out;
}

bool OutputsMatch(std::string_view expected, std::string_view got, OutputMatch match,
                  double float_tolerance) {
  switch (match) {
    case OutputMatch::kExact:
      return expected == got;
    case OutputMatch::kLines:
      return Lines(expected) == Lines(got);
    case OutputMatch::kTokens: {
      std::vector<std::string_view> a = Tokens(expected), b = Tokens(got);
      if (a.size() != b.size()) return false;
      for (size_t i = 0; i < a.size(); ++i) {
        if (a[i] == b[i]) continue;
        if (float_tolerance > 0 && NumbersClose(b[i], a[i], float_tolerance)) continue;
        return false;
      }
      return true;
    }
  }
  return false;
}

std::string Excerpt(std::string_view text, size_t max_chars) {
  bool cut = text.size() > max_chars;
  if (cut) {
    // Cut at a character boundary: never in the middle of a UTF-8 sequence.
    size_t end = max_chars;
    while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
    text = text.substr(0, end);
  }
  std::string out;
  out.reserve(text.size() + 16);
  size_t i = 0;
  while (i < text.size()) {
    unsigned char c = text[i];
    int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    bool valid = len > 0 && i + len <= text.size();
    uint32_t cp = len == 1 ? c : len == 2 ? c & 0x1F : len == 3 ? c & 0x0F : c & 0x07;
    for (int k = 1; valid && k < len; ++k) {
      unsigned char d = text[i + k];
      valid = (d & 0xC0) == 0x80;
      cp = (cp << 6) | (d & 0x3F);
    }
    if (valid &&
        ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
         (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF))) {
      valid = false;  // overlong, out of range, or a surrogate
    }
    if (!valid) {
      AppendUtf8(out, 0xFFFD);
      ++i;
      continue;
    }
    out.append(text.substr(i, len));
    i += len;
  }
  if (cut) out += "...[cut]";
  return out;
}

}  // namespace ponder::reward
