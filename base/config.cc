#include "base/config.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/file.h"
#include "base/status.h"

namespace ponder::config {
namespace internal {

std::string FormatDouble(double value) {
  if (std::isnan(value)) return ".nan";
  if (std::isinf(value)) return value > 0 ? ".inf" : "-.inf";
  char buf[64];
  auto result = std::to_chars(buf, buf + sizeof(buf), value);
  return std::string(buf, result.ptr);
}

std::string Context::Where(const std::string& path, const YAML::Node& node) const {
  // A key set on the command line, or inside a value set there, names the override.
  const std::string* closest = nullptr;  // the most specific override containing `path`
  size_t closest_length = 0;
  for (const auto& [key, text] : overrides) {
    bool inside =
        path == key || absl::StartsWith(path, key + ".") || absl::StartsWith(path, key + "[");
    if (inside && key.size() >= closest_length) {
      closest = &text;
      closest_length = key.size();
    }
  }
  if (closest != nullptr) return absl::StrCat("command-line override '", *closest, "'");
  if (node.IsDefined() && node.Mark().line >= 0) {
    return absl::StrCat(file, ":", node.Mark().line + 1, ":", node.Mark().column + 1);
  }
  return file;
}

namespace {

size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

std::string LastSegment(const std::string& path) {
  size_t dot = path.rfind('.');
  return dot == std::string::npos ? path : path.substr(dot + 1);
}

std::string Parent(const std::string& path) {
  size_t dot = path.rfind('.');
  return dot == std::string::npos ? "" : path.substr(0, dot);
}

// "foo[3].bar" -> "foo[].bar", so keys inside lists compare across elements.
std::string WithoutIndices(const std::string& path) {
  std::string out;
  bool in_index = false;
  for (char c : path) {
    if (c == '[') in_index = true;
    if (!in_index || c == '[' || c == ']') out += c;
    if (c == ']') in_index = false;
  }
  return out;
}

// The closest valid key to an unknown one: first among its siblings (a typo), then anywhere
// in the config under the same name (a key put in the wrong section).
std::string Suggest(const std::string& unknown, const std::vector<std::string>& known) {
  const std::string leaf = LastSegment(unknown);
  const std::string parent = WithoutIndices(Parent(unknown));
  std::string best;
  size_t best_distance = std::max<size_t>(2, leaf.size() / 3) + 1;
  for (const auto& path : known) {
    std::string generic = WithoutIndices(path);
    if (Parent(generic) != parent) continue;
    const std::string candidate = LastSegment(generic);
    size_t d = EditDistance(leaf, candidate);
    // A shortened or lengthened name ("lrate" for "lr") counts as close too.
    bool prefix = std::min(leaf.size(), candidate.size()) >= 2 &&
                  (absl::StartsWith(leaf, candidate) || absl::StartsWith(candidate, leaf));
    if (prefix) d = std::min(d, best_distance - 1);
    if (d < best_distance) {
      best_distance = d;
      best = path;
    }
  }
  if (!best.empty()) return best;
  for (const auto& path : known) {
    if (LastSegment(path) == leaf) return path;
  }
  return "";
}

}  // namespace
}  // namespace internal

// ---- Binder ------------------------------------------------------------------------------

Binder::Binder(YAML::Node node, std::string path, std::shared_ptr<internal::Context> context)
    : node_(std::move(node)), path_(std::move(path)), context_(std::move(context)) {}

Binder::Binder(YAML::Emitter* out) : out_(out) {}

Binder::Binder(std::vector<FieldInfo>* fields, std::string path)
    : path_(std::move(path)), fields_(fields) {}

namespace internal {
std::string WithoutGot(const std::string& what) {
  const size_t got = what.rfind(" (got ");
  if (got == std::string::npos || what.back() != ')') return what;
  // "(got '...'; registered: ...)" keeps what follows the value.
  const size_t semicolon = what.find("; ", got);
  if (semicolon != std::string::npos)
    return what.substr(0, got) + " (" + what.substr(semicolon + 2);
  return what.substr(0, got);
}
}  // namespace internal

std::string Binder::Child(const char* key) const {
  return path_.empty() ? std::string(key) : absl::StrCat(path_, ".", key);
}

YAML::Node Binder::Lookup(const char* key) {
  known_keys_.emplace_back(key);
  context_->known_paths.push_back(Child(key));
  const YAML::Node& map = node_;  // const access never inserts the key
  if (!map.IsDefined() || !map.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
  return map[key];
}

void Binder::Renamed(const char* old_key, const char* new_key, const std::string& note) {
  if (!reading()) return;
  known_keys_.emplace_back(old_key);  // not a known path: hints never suggest the old name
  const YAML::Node& map = node_;
  if (!map.IsDefined() || !map.IsMap() || !map[old_key].IsDefined()) return;
  Fail(Child(old_key), absl::StrCat("was renamed to ", Child(new_key),
                                    note.empty() ? "" : absl::StrCat(" (", note, ")")));
}

void Binder::Fail(const std::string& path, const std::string& message) {
  // Point at the field's value when it is in the file, else at this section.
  YAML::Node node = node_;
  const YAML::Node& map = node_;
  if (map.IsDefined() && map.IsMap() && path.size() > path_.size()) {
    std::string leaf = path.substr(path_.empty() ? 0 : path_.size() + 1);
    if (leaf.find('.') == std::string::npos && leaf.find('[') == std::string::npos &&
        map[leaf].IsDefined()) {
      node.reset(map[leaf]);  // rebinds; `node = ...` would overwrite the section itself
    }
  }
  std::string where = context_->Where(path, node);
  context_->errors.push_back(
      absl::StrCat(where, ": ", path.empty() ? "config" : path, " ", message));
}

void Binder::CheckUnknownKeys() {
  if (!node_.IsDefined() || !node_.IsMap()) return;
  for (const auto& kv : node_) {
    std::string key = kv.first.Scalar();
    if (std::find(known_keys_.begin(), known_keys_.end(), key) != known_keys_.end()) continue;
    std::string path = Child(key.c_str());
    context_->unknown.emplace_back(path, context_->Where(path, kv.first));
  }
}

bool Binder::ExpectMap(const YAML::Node& node, const std::string& path) {
  if (node.IsMap()) return true;
  Fail(path, node.IsSequence() ? "must be a section (a map of keys), not a list"
                               : absl::StrCat("must be a section (a map of keys), got '",
                                              node.IsScalar() ? node.Scalar() : "", "'"));
  return false;
}

bool Binder::ExpectSequence(const YAML::Node& node, const std::string& path) {
  if (node.IsSequence()) return true;
  Fail(path, node.IsMap() ? "must be a list, not a section"
                          : absl::StrCat("must be a list such as [a, b], got '",
                                         node.IsScalar() ? node.Scalar() : "", "'"));
  return false;
}

namespace {
std::string Describe(const YAML::Node& node) {
  if (node.IsNull()) return "nothing";
  if (node.IsSequence()) return "a list";
  if (node.IsMap()) return "a section";
  return absl::StrCat("'", node.Scalar(), "'");
}
}  // namespace

void Binder::DecodeScalar(const YAML::Node& node, const std::string& path, bool& value) {
  bool parsed = false;
  if (node.IsScalar() && YAML::convert<bool>::decode(node, parsed)) {
    value = parsed;
    return;
  }
  Fail(path, absl::StrCat("expects true or false, got ", Describe(node)));
}

void Binder::DecodeScalar(const YAML::Node& node, const std::string& path, int64_t& value) {
  if (node.IsScalar()) {
    std::string text = node.Scalar();
    if (!text.empty() && text[0] == '+') text.erase(0, 1);
    int64_t parsed = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), parsed);
    if (ec == std::errc() && end == text.data() + text.size() && !text.empty()) {
      value = parsed;
      return;
    }
    if (ec == std::errc::result_out_of_range) {
      Fail(path, absl::StrCat("value ", node.Scalar(), " does not fit in a 64-bit integer"));
      return;
    }
  }
  Fail(path, absl::StrCat("expects an integer, got ", Describe(node)));
}

void Binder::DecodeScalar(const YAML::Node& node, const std::string& path, uint64_t& value) {
  if (node.IsScalar()) {
    std::string text = node.Scalar();
    if (!text.empty() && text[0] == '+') text.erase(0, 1);
    if (!text.empty() && text[0] == '-') {
      Fail(path, absl::StrCat("must be >= 0 (got ", node.Scalar(), ")"));
      return;
    }
    uint64_t parsed = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), parsed);
    if (ec == std::errc() && end == text.data() + text.size() && !text.empty()) {
      value = parsed;
      return;
    }
  }
  Fail(path, absl::StrCat("expects a non-negative integer, got ", Describe(node)));
}

void Binder::DecodeScalar(const YAML::Node& node, const std::string& path, double& value) {
  if (node.IsScalar()) {
    std::string text = node.Scalar();
    std::string lower = absl::AsciiStrToLower(text);
    if (lower == ".inf" || lower == "+.inf") {
      value = std::numeric_limits<double>::infinity();
      return;
    }
    if (lower == "-.inf") {
      value = -std::numeric_limits<double>::infinity();
      return;
    }
    if (lower == ".nan") {
      value = std::numeric_limits<double>::quiet_NaN();
      return;
    }
    double parsed = 0;
    if (absl::SimpleAtod(text, &parsed) && !text.empty() &&
        text.find_first_not_of("0123456789+-.eE") == std::string::npos) {
      value = parsed;
      return;
    }
  }
  Fail(path, absl::StrCat("expects a number, got ", Describe(node)));
}

void Binder::DecodeScalar(const YAML::Node& node, const std::string& path, std::string& value) {
  if (node.IsScalar()) {
    value = node.Scalar();
    return;
  }
  Fail(path, absl::StrCat("expects a string, got ", Describe(node)));
}

void Binder::EmitScalar(bool value) { *out_ << (value ? "true" : "false"); }
void Binder::EmitScalar(int64_t value) { *out_ << value; }
void Binder::EmitScalar(uint64_t value) { *out_ << value; }
void Binder::EmitScalar(double value) { *out_ << internal::FormatDouble(value); }

void Binder::EmitScalar(const std::string& value) {
  // Quote strings that YAML would otherwise read as null, a bool or a number.
  YAML::Node probe;
  bool ambiguous = value.empty();
  if (!ambiguous) {
    try {
      probe = YAML::Load(value);
      bool b;
      ambiguous =
          probe.IsNull() || (probe.IsScalar() && probe.Tag() == "?" &&
                             (YAML::convert<bool>::decode(probe, b) ||
                              value.find_first_not_of("0123456789+-.eE") == std::string::npos));
    } catch (const YAML::Exception&) {
      ambiguous = true;
    }
  }
  if (ambiguous) *out_ << YAML::DoubleQuoted;
  *out_ << value;
}

void Binder::EmitBlock(const Block& block) {
  if (block.empty()) {
    *out_ << YAML::Flow << YAML::BeginMap << YAML::EndMap;
  } else {
    *out_ << block.node();
  }
}

// ---- Document ----------------------------------------------------------------------------

namespace {

// A key written twice in one mapping (e.g. a second `trainer:` block appended to a job file):
// yaml-cpp keeps both pairs and a lookup finds only the first, so the second would be ignored
// without a word. An error naming both lines instead.
absl::Status CheckDuplicateKeys(const YAML::Node& node, const std::string& path,
                                const std::string& file) {
  if (node.IsSequence()) {
    for (size_t i = 0; i < node.size(); ++i) {
      PONDER_RETURN_IF_ERROR(CheckDuplicateKeys(node[i], absl::StrCat(path, "[", i, "]"), file));
    }
    return absl::OkStatus();
  }
  if (!node.IsMap()) return absl::OkStatus();
  std::map<std::string, int> first_line;
  for (const auto& kv : node) {
    if (!kv.first.IsScalar()) continue;
    const std::string key = kv.first.Scalar();
    const std::string child = path.empty() ? key : absl::StrCat(path, ".", key);
    const YAML::Mark mark = kv.first.Mark();
    auto [it, inserted] = first_line.emplace(key, mark.line + 1);
    if (!inserted) {
      return absl::InvalidArgumentError(absl::StrCat(
          file, ":", mark.line + 1, ":", mark.column + 1, ": '", child, "' is given twice (lines ",
          it->second, " and ", mark.line + 1, "); only one would be read -- merge them into one"));
    }
    PONDER_RETURN_IF_ERROR(CheckDuplicateKeys(kv.second, child, file));
  }
  return absl::OkStatus();
}

}  // namespace

Document::Document() : context_(std::make_shared<internal::Context>()) {}

absl::StatusOr<Document> Document::FromFile(const std::string& path) {
  PONDER_ASSIGN_OR_RETURN(std::string text, file::ReadFile(path, "config file"));
  return FromString(text, path);
}

absl::StatusOr<Document> Document::FromString(const std::string& yaml, const std::string& name) {
  Document doc;
  doc.context_->file = name;
  try {
    doc.root_ = YAML::Load(yaml);
  } catch (const YAML::ParserException& e) {
    return absl::InvalidArgumentError(absl::StrCat(name, ":", e.mark.line + 1, ":",
                                                   e.mark.column + 1, ": malformed YAML: ", e.msg));
  }
  if (!doc.root_.IsNull() && !doc.root_.IsMap()) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": a config file must be a map of sections (run:, trainer:, ...)"));
  }
  if (doc.root_.IsNull()) doc.root_ = YAML::Node(YAML::NodeType::Map);
  PONDER_RETURN_IF_ERROR(CheckDuplicateKeys(doc.root_, "", name));
  return doc;
}

absl::Status Document::ApplyOverrides(const std::vector<std::string>& overrides) {
  for (const std::string& text : overrides) {
    size_t eq = text.find('=');
    if (eq == std::string::npos || eq == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("override '", text, "' must look like key=value, e.g. trainer.lr=1e-5"));
    }
    std::string key = text.substr(0, eq);
    std::string value_text = text.substr(eq + 1);
    YAML::Node value;
    try {
      value = value_text.empty() ? YAML::Node(std::string()) : YAML::Load(value_text);
    } catch (const YAML::ParserException& e) {
      return absl::InvalidArgumentError(
          absl::StrCat("override '", text, "': value is not valid YAML: ", e.msg));
    }
    std::vector<std::string> parts = absl::StrSplit(key, '.');
    YAML::Node node = root_;
    std::string walked;
    for (size_t i = 0; i < parts.size(); ++i) {
      const std::string& part = parts[i];
      if (part.empty()) {
        return absl::InvalidArgumentError(absl::StrCat("override '", text, "': empty key segment"));
      }
      bool last = i + 1 == parts.size();
      size_t index = 0;
      const bool node_was_sequence = node.IsSequence() && absl::SimpleAtoi(part, &index);
      if (node_was_sequence) {
        if (index >= node.size()) {
          return absl::InvalidArgumentError(
              absl::StrCat("override '", text, "': '", walked, "' has ", node.size(), " items"));
        }
        if (last) {
          node[index] = value;
        } else {
          node.reset(node[index]);
        }
      } else {
        if (!node.IsMap() && !node.IsNull()) {
          return absl::InvalidArgumentError(
              absl::StrCat("override '", text, "': '", walked, "' is a value, not a section"));
        }
        if (last) {
          node[part] = value;
        } else {
          if (!node[part].IsDefined() || node[part].IsNull()) {
            node[part] = YAML::Node(YAML::NodeType::Map);
          }
          YAML::Node next = node[part];
          node.reset(next);
        }
      }
      walked = node_was_sequence ? absl::StrCat(walked, "[", part, "]")
               : walked.empty()  ? part
                                 : absl::StrCat(walked, ".", part);
    }
    context_->overrides[walked] = text;
  }
  return absl::OkStatus();
}

absl::Status Document::Finish() const {
  std::vector<std::string> messages = context_->errors;
  for (const auto& [path, where] : context_->unknown) {
    std::string message = absl::StrCat(where, ": unknown key '", path, "'");
    std::string hint = internal::Suggest(path, context_->known_paths);
    if (!hint.empty()) absl::StrAppend(&message, "; did you mean '", hint, "'?");
    messages.push_back(message);
  }
  if (messages.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrJoin(messages, "\n"));
}

}  // namespace ponder::config
