#include "reward/internal/math_normalize.h"

#include <algorithm>
#include <cctype>
#include <cstring>

namespace ponder::reward::internal {
namespace {

bool IsLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

bool StartsWith(std::string_view s, size_t at, std::string_view prefix) {
  return s.size() >= at + prefix.size() && s.substr(at, prefix.size()) == prefix;
}

void TrimRight(std::string& s) {
  while (!s.empty() && IsSpace(s.back())) s.pop_back();
}

bool EndsWith(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix.data(), suffix.size()) == 0;
}

struct Replacement {
  const char* from;
  const char* to;
};

// UTF-8 symbols models print, mapped to LaTeX or ASCII.
constexpr Replacement kUnicode[] = {
    {"\xe2\x88\x92", "-"},            // − minus sign
    {"\xe2\x80\x93", "-"},            // – en dash
    {"\xc3\x97", "\\times "},         // ×
    {"\xc3\xb7", "\\div "},           // ÷
    {"\xc2\xb7", "\\cdot "},          // ·
    {"\xe2\x8b\x85", "\\cdot "},      // ⋅
    {"\xcf\x80", "\\pi "},            // π
    {"\xe2\x88\x9e", "\\infty "},     // ∞
    {"\xe2\x88\x9a", "\\sqrt"},       // √
    {"\xe2\x89\xa4", "\\le "},        // ≤
    {"\xe2\x89\xa5", "\\ge "},        // ≥
    {"\xe2\x89\xa0", "\\ne "},        // ≠
    {"\xc2\xb1", "\\pm "},            // ±
    {"\xe2\x88\xaa", "\\cup "},       // ∪
    {"\xc2\xbd", "\\frac{1}{2}"},     // ½
    {"\xc2\xbc", "\\frac{1}{4}"},     // ¼
    {"\xc2\xbe", "\\frac{3}{4}"},     // ¾
    {"\xc2\xb2", "^2"},               // ²
    {"\xc2\xb3", "^3"},               // ³
    {"\xc2\xb0", "\\circ "},          // ° (removed below with the other degree signs)
    {"\xe2\x89\x88", "\\approx "},    // ≈
    {"\xe2\x88\x88", "\\in "},        // ∈
    {"\xe2\x88\x85", "\\emptyset "},  // ∅
    {"\xe2\x84\x9d", "\\mathbb{R}"},  // ℝ
    {"\xc2\xa0", " "},                // no-break space
    {"\xe2\x80\x89", ""},             // thin space
    {"\xe2\x80\xaf", ""},             // narrow no-break space
};

// Commands removed outright.
bool IsDroppedCommand(std::string_view name) {
  static constexpr const char* kDropped[] = {
      "left",      "right",  "bigl",  "bigr",  "Bigl",
      "Bigr",      "biggl",  "biggr", "Biggl", "Biggr",
      "big",       "Big",    "bigg",  "Bigg",  "displaystyle",
      "textstyle", "limits", "!",     ",",     ";",
      ":",         ">",      "$",     "(",     ")",
      "[",         "]"};
  for (const char* d : kDropped) {
    if (name == d) return true;
  }
  return false;
}

// Pass 1: Unicode symbols to LaTeX/ASCII.
std::string ReplaceUnicode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size();) {
    if (static_cast<unsigned char>(in[i]) < 0x80) {
      out += in[i++];
      continue;
    }
    bool replaced = false;
    for (const auto& r : kUnicode) {
      if (StartsWith(in, i, r.from)) {
        out += r.to;
        i += std::strlen(r.from);
        replaced = true;
        break;
      }
    }
    if (replaced && EndsWith(out, "\\sqrt") && i < in.size() && IsDigit(in[i])) {
      out += '{';  // √12 is \sqrt{12}
      while (i < in.size() && IsDigit(in[i])) out += in[i++];
      out += '}';
    }
    if (!replaced) out += in[i++];
  }
  return out;
}

// Pass 2: commands and characters, one scan.
std::string ScanCommands(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  size_t i = 0;
  while (i < in.size()) {
    char c = in[i];
    if (c == '$') {
      ++i;
      continue;
    }
    if (c == '~') {
      out += ' ';
      ++i;
      continue;
    }
    if (c != '\\' || i + 1 >= in.size()) {
      out += c;
      ++i;
      continue;
    }
    // A command: letters, or one non-letter character.
    size_t end = i + 1;
    if (IsLetter(in[end])) {
      while (end < in.size() && IsLetter(in[end])) ++end;
    } else {
      ++end;
    }
    std::string_view name = in.substr(i + 1, end - i - 1);
    i = end;
    if (name == "!") {
      // 10,\!080 and 11,\! 111: a LaTeX thousands separator.
      if (!out.empty() && out.back() == ',') {
        while (i < in.size() && IsSpace(in[i])) ++i;
        if (out.size() >= 2 && IsDigit(out[out.size() - 2]) && i + 2 < in.size() &&
            IsDigit(in[i]) && IsDigit(in[i + 1]) && IsDigit(in[i + 2])) {
          out.pop_back();
        }
      }
      continue;
    }
    if (name == "left" || name == "right") {
      while (i < in.size() && IsSpace(in[i])) ++i;
      if (i < in.size() && in[i] == '.') ++i;  // \left. and \right. are invisible
      continue;
    }
    if (IsDroppedCommand(name)) continue;
    if (name == " " || name == "quad" || name == "qquad") {
      out += ' ';
      continue;
    }
    if (name == "%") {
      out += '%';
      continue;
    }
    if (name == "dfrac" || name == "tfrac" || name == "cfrac") {
      out += "\\frac";
      continue;
    }
    if (name == "circ" || name == "degree") {
      // ^\circ, ^{\circ}: drop the power too.
      TrimRight(out);
      if (!out.empty() && out.back() == '^') {
        out.pop_back();
      } else if (EndsWith(out, "^{")) {
        out.resize(out.size() - 2);
        while (i < in.size() && IsSpace(in[i])) ++i;
        if (i < in.size() && in[i] == '}') ++i;
      }
      continue;
    }
    if (name == "lbrace") {
      out += "\\{";
      continue;
    }
    if (name == "rbrace") {
      out += "\\}";
      continue;
    }
    if (name == "langle") {
      out += '(';
      continue;
    }
    if (name == "rangle") {
      out += ')';
      continue;
    }
    if (name == "lvert" || name == "rvert" || name == "vert") {
      out += '|';
      continue;
    }
    out += '\\';
    out.append(name.data(), name.size());
    // Keep a letter command apart from a following letter ("\pi r" must not become "\pir").
    if (IsLetter(name[0]) && i < in.size() && IsLetter(in[i])) out += ' ';
  }
  return out;
}

void ReplaceAll(std::string& s, std::string_view from, std::string_view to) {
  size_t at = 0;
  while ((at = s.find(from, at)) != std::string::npos) {
    s.replace(at, from.size(), to);
    at += to.size();
  }
}

std::string CollapseSpaces(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (IsSpace(c)) {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else {
      out += c;
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// Unit words removed from the end of an answer (singular; plurals with -s/-es also match).
constexpr const char* kUnits[] = {
    "cm",         "mm",        "km",   "m",          "meter",  "metre",  "centimeter", "centimetre",
    "millimeter", "kilometer", "inch", "inches",     "in",     "foot",   "feet",       "ft",
    "yard",       "yd",        "mile", "mi",         "gram",   "g",      "kg",         "kilogram",
    "mg",         "pound",     "lb",   "lbs",        "ounce",  "oz",     "ton",        "liter",
    "litre",      "l",         "ml",   "milliliter", "gallon", "gal",    "quart",      "pint",
    "cup",        "second",    "sec",  "s",          "minute", "min",    "hour",       "hr",
    "h",          "day",       "week", "month",      "year",   "yr",     "dollar",     "cent",
    "euro",       "degree",    "deg",  "radian",     "rad",    "unit",   "sq",         "square",
    "cubic",      "mph",       "kmh",  "km/h",       "m/s",    "percent"};

bool IsUnitWord(std::string word) {
  std::transform(word.begin(), word.end(), word.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const char* unit : kUnits) {
    std::string u(unit);
    if (word == u) return true;
    if (u.size() >= 2 && (word == u + "s" || word == u + "es")) return true;
  }
  return false;
}

// Whether `s` ends (ignoring spaces) with something a unit can follow: a digit, a closing
// brace or parenthesis, or a constant such as \pi.
bool EndsWithValue(std::string s) {
  TrimRight(s);
  if (s.empty()) return false;
  char c = s.back();
  return IsDigit(c) || c == '}' || c == ')' || c == '%' || EndsWith(s, "\\pi");
}

// Words that are math, not units or nouns: "2 sqrt" is not "2".
bool IsMathWord(const std::string& word) {
  static constexpr const char* kWords[] = {"sqrt",   "sin",    "cos",  "tan",  "sec",   "csc",
                                           "cot",    "log",    "exp",  "inf",  "infty", "arcsin",
                                           "arccos", "arctan", "sinh", "cosh", "tanh",  "infinity"};
  for (const char* w : kWords) {
    if (word == w) return true;
  }
  return word.find('/') != std::string::npos;
}

bool EndsWithNumber(std::string s) {
  TrimRight(s);
  return !s.empty() && (IsDigit(s.back()) || s.back() == '%');
}

// Removes one trailing unit; returns whether it did.
bool StripTrailingUnit(std::string& s) {
  TrimRight(s);
  // A power after the unit: cm^2, \text{ cm}^2, \mbox{ inches}^2.
  std::string power;
  if (s.size() >= 2 && s[s.size() - 2] == '^' && IsDigit(s.back())) {
    power = s.substr(s.size() - 2);
    s.resize(s.size() - 2);
  } else if (s.size() >= 4 && EndsWith(s, "}") && s[s.size() - 4] == '^' &&
             s[s.size() - 3] == '{' && IsDigit(s[s.size() - 2])) {
    power = s.substr(s.size() - 4);
    s.resize(s.size() - 4);
  }
  auto restore = [&] {
    s += power;
    return false;
  };
  // \text{...}, \mbox{...}, \mathrm{...} at the end, after a value.
  if (!s.empty() && s.back() == '}') {
    int depth = 0;
    size_t open = std::string::npos;
    for (size_t k = s.size(); k-- > 0;) {
      if (s[k] == '}') ++depth;
      if (s[k] == '{' && --depth == 0) {
        open = k;
        break;
      }
    }
    if (open != std::string::npos) {
      for (std::string_view cmd : {"\\text", "\\mbox", "\\mathrm", "\\textrm", "\\textnormal",
                                   "\\textbf", "\\textit", "\\mathbf", "\\textsf"}) {
        if (open >= cmd.size() &&
            s.compare(open - cmd.size(), cmd.size(), cmd.data(), cmd.size()) == 0) {
          std::string content = s.substr(open + 1, s.size() - open - 2);
          bool wordy = std::any_of(content.begin(), content.end(), IsLetter) &&
                       std::all_of(content.begin(), content.end(), [](char c) {
                         return IsLetter(c) || IsSpace(c) || c == '.' || c == '/' || c == '^' ||
                                IsDigit(c) || c == '-';
                       });
          std::string before = s.substr(0, open - cmd.size());
          if (wordy && EndsWithValue(before)) {
            s = before;
            return true;
          }
        }
      }
    }
    return restore();
  }
  // A plain unit word after a value: "18 dollars", "5 cm", "30 degrees".
  size_t end = s.size();
  size_t begin = end;
  while (begin > 0 && (IsLetter(s[begin - 1]) || s[begin - 1] == '/')) --begin;
  if (begin == end || begin == 0) return restore();
  std::string word = s.substr(begin, end - begin);
  bool spaced = IsSpace(s[begin - 1]);
  std::string before = s.substr(0, begin);
  // A single-letter or two-letter word glued to a number ("5m", "2h") could be a variable
  // (5m = 5*m), so only spaced words count, except multi-letter unit words like "5cm".
  bool noun_after_number =
      spaced && word.size() >= 3 && !IsMathWord(word) && EndsWithNumber(before);  // "12 apples"
  // A unit of two words: "cubic units", "square feet".
  bool after_unit_word = false;
  if (spaced && IsUnitWord(word)) {
    std::string rest = before;
    TrimRight(rest);
    size_t w = rest.size();
    while (w > 0 && IsLetter(rest[w - 1])) --w;
    after_unit_word = w > 0 && w < rest.size() && IsSpace(rest[w - 1]) &&
                      IsUnitWord(rest.substr(w)) && EndsWithValue(rest.substr(0, w));
  }
  if (!(IsUnitWord(word) || noun_after_number) || !(EndsWithValue(before) || after_unit_word) ||
      (!spaced && word.size() <= 1)) {
    return restore();
  }
  if (!spaced && word.size() == 2 && word != "cm" && word != "mm" && word != "km" && word != "kg" &&
      word != "ml" && word != "ft") {
    return restore();
  }
  s = before;
  return true;
}

// \text{ and }, \text{or}, \text{, and } -> ",".
void ReplaceConnectorText(std::string& s) {
  for (std::string_view cmd : {"\\text{", "\\textrm{", "\\mbox{"}) {
    size_t at = 0;
    while ((at = s.find(cmd, at)) != std::string::npos) {
      size_t end = s.find('}', at);
      if (end == std::string::npos) break;
      std::string inside = s.substr(at + cmd.size(), end - at - cmd.size());
      std::string word;
      for (char c : inside) {
        if (IsLetter(c))
          word += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        else if (!IsSpace(c) && c != ',')
          word += '?';
      }
      if (word == "and" || word == "or") {
        s.replace(at, end + 1 - at, ",");
        ++at;
      } else {
        at = end;
      }
    }
  }
}

}  // namespace

std::string NormalizeAnswer(std::string_view answer) {
  std::string s = ScanCommands(ReplaceUnicode(answer));
  ReplaceAll(s, "{,}", "");
  s = CollapseSpaces(s);
  // Words for percent at the end: "28 percent", "28 percentage", "28 pct" -> "28%".
  for (std::string_view word : {" percentage", " percent", " pct"}) {
    if (EndsWith(s, word) && s.size() > word.size()) {
      s = s.substr(0, s.size() - word.size()) + "%";
      break;
    }
  }
  // Connectors between items: " and ", " or ", \text{ and }, \text{or}.
  ReplaceConnectorText(s);
  ReplaceAll(s, " and ", ", ");
  ReplaceAll(s, " or ", ", ");
  // Trailing punctuation, then units (repeatedly: "5 \text{ cm}^2." -> "5").
  for (int round = 0; round < 4; ++round) {
    TrimRight(s);
    while (!s.empty() && (s.back() == '.' || s.back() == ',')) s.pop_back();
    while (EndsWith(s, "\\\\")) s.resize(s.size() - 2);
    TrimRight(s);
    if (!StripTrailingUnit(s)) break;
  }
  return CollapseSpaces(s);
}

}  // namespace ponder::reward::internal
