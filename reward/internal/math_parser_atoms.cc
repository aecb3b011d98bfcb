// Atoms of math answers: numbers (exact, with thousands separators, repeating decimals,
// scientific notation and base subscripts), letters and words, LaTeX commands (\frac, \sqrt,
// \text{...}, \binom, \lfloor...\rfloor, sets, matrices) and function calls.
#include <algorithm>
#include <initializer_list>
#include <utility>

#include "absl/strings/str_cat.h"
#include "reward/internal/math_parser.h"

namespace ponder::reward::internal {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

bool OneOf(std::string_view name, std::initializer_list<const char*> names) {
  for (const char* n : names) {
    if (name == n) return true;
  }
  return false;
}

Expr Letter(const std::string& name) {
  if (name == "e" || name == "i") return MakeNamed(Expr::Kind::kConstant, name);
  return MakeNamed(Expr::Kind::kSymbol, name);
}

mpz_class Pow10(unsigned long k) {
  mpz_class p;
  mpz_ui_pow_ui(p.get_mpz_t(), 10, k);
  return p;
}

// The exact value of "123.45" (digits with at most one point).
mpq_class FromDecimal(const std::string& digits) {
  size_t point = digits.find('.');
  std::string whole = digits;
  unsigned long decimals = 0;
  if (point != std::string::npos) {
    whole.erase(point, 1);
    decimals = digits.size() - point - 1;
  }
  if (whole.empty()) whole = "0";
  mpq_class q(mpz_class(whole, 10), Pow10(decimals));
  q.canonicalize();
  return q;
}

}  // namespace

bool IsFunctionName(std::string_view name) {
  return OneOf(name, {"sin", "cos", "tan", "sec", "csc", "cot", "arcsin", "arccos", "arctan",
                      "sinh", "cosh", "tanh", "ln", "log", "lg", "exp"});
}

bool IsGreekName(std::string_view name) {
  return OneOf(name, {"alpha",  "beta",  "gamma",    "delta",   "epsilon", "varepsilon", "zeta",
                      "eta",    "theta", "vartheta", "iota",    "kappa",   "lambda",     "mu",
                      "nu",     "xi",    "rho",      "sigma",   "tau",     "upsilon",    "phi",
                      "varphi", "chi",   "psi",      "omega",   "Gamma",   "Delta",      "Theta",
                      "Lambda", "Xi",    "Sigma",    "Upsilon", "Phi",     "Psi",        "Omega"});
}

bool IsTextCommandName(std::string_view name) {
  return OneOf(name, {"text", "textbf", "textit", "textrm", "textnormal", "mathrm", "mathbf",
                      "mathit", "mbox", "operatorname", "textsf", "mathsf", "boldsymbol"});
}

bool MathParser::ParseAtom(Expr& out) {
  DepthGuard guard(this);
  if (guard.TooDeep()) return Fail("nested too deeply");
  char c = Peek();
  if (IsDigit(c) || (c == '.' && IsDigit(PeekAt(1)))) return ParseNumber(out);
  if (IsLetter(c)) return ParseWord(out);
  if (c == '(' || c == '[') {
    ++pos_;
    return ParseBracketed(c, out);
  }
  if (c == '{') return ParseGroup(out);
  if (c == '|') {
    ++pos_;
    Expr inner;
    if (!ParseAdditive(inner)) return false;
    if (!Consume('|')) return Fail("missing closing '|'");
    std::vector<Expr> arg;
    arg.push_back(std::move(inner));
    out = MakeFunc("abs", std::move(arg));
    return true;
  }
  if (c == '\\') return ParseCommandAtom(out);
  if (c == '\0') return Fail("expression ends early");
  return Fail(absl::StrCat("unexpected '", std::string(1, c), "'"));
}

// A run of letters: a function name, sqrt/pi/inf written in plain text, or a product of
// single-letter variables (LaTeX: xy = x*y), of which the first is read here.
bool MathParser::ParseWord(Expr& out) {
  size_t end = pos_;
  while (end < s_.size() && IsLetter(s_[end])) ++end;
  std::string word(s_.substr(pos_, end - pos_));
  if (IsFunctionName(word)) {
    pos_ = end;
    return ParseFunction(word, out);
  }
  if (word == "sqrt") {
    pos_ = end;
    Expr arg;
    if (!ParsePower(arg)) return false;
    std::vector<Expr> args;
    args.push_back(std::move(arg));
    out = MakeFunc("sqrt", std::move(args));
    return true;
  }
  if (word == "pi") {
    pos_ = end;
    out = MakeNamed(Expr::Kind::kConstant, "pi");
    return true;
  }
  if (word == "inf" || word == "infty" || word == "infinity") {
    pos_ = end;
    out = MakeNamed(Expr::Kind::kConstant, "inf");
    return true;
  }
  char c = s_[pos_++];
  std::string sub;
  if (!ReadSubscript(sub)) return false;
  out = sub.empty() ? Letter(std::string(1, c))
                    : MakeNamed(Expr::Kind::kSymbol, std::string(1, c) + "_" + sub);
  return true;
}

// Reads "_x", "_{12}", "_1" after a symbol; `sub` is the subscript text (empty when none).
bool MathParser::ReadSubscript(std::string& sub) {
  sub.clear();
  if (pos_ >= s_.size() || s_[pos_] != '_') return true;
  ++pos_;
  if (pos_ < s_.size() && s_[pos_] == '{') {
    size_t end = s_.find('}', pos_);
    if (end == std::string_view::npos) return Fail("missing '}' after '_{'");
    sub = std::string(s_.substr(pos_ + 1, end - pos_ - 1));
    sub.erase(std::remove_if(sub.begin(), sub.end(), IsSpace), sub.end());
    pos_ = end + 1;
  } else if (pos_ < s_.size() && (IsDigit(s_[pos_]) || IsLetter(s_[pos_]))) {
    sub = std::string(1, s_[pos_++]);
  } else {
    return Fail("expected a subscript after '_'");
  }
  return true;
}

// "\overline{3}" after a decimal point: the repeating digits.
bool MathParser::ReadRepeatingDigits(std::string& digits) {
  digits.clear();
  if (s_.substr(pos_, 10) != "\\overline{") return true;
  size_t end = s_.find('}', pos_ + 10);
  if (end == std::string_view::npos) return Fail("missing '}' after \\overline{");
  std::string_view inside = s_.substr(pos_ + 10, end - pos_ - 10);
  for (char c : inside) {
    if (!IsDigit(c)) return Fail("a repeating decimal's \\overline{} holds digits only");
  }
  if (inside.empty() || inside.size() > 50) return Fail("bad repeating digits");
  digits = std::string(inside);
  pos_ = end + 1;
  return true;
}

bool MathParser::ParseNumber(Expr& out) {
  SkipSpace();
  std::string digits;
  while (pos_ < s_.size() && IsDigit(s_[pos_])) digits += s_[pos_++];
  // Thousands separators, outside brackets only ("(1,234)" is a pair): 1,234,567.
  if (bracket_depth_ == 0 && !digits.empty() && digits.size() <= 3) {
    while (pos_ + 3 < s_.size() && s_[pos_] == ',' && IsDigit(PeekAt(1)) && IsDigit(PeekAt(2)) &&
           IsDigit(PeekAt(3)) && !IsDigit(PeekAt(4))) {
      digits.append(s_.substr(pos_ + 1, 3));
      pos_ += 4;
    }
  }
  bool decimal = false;
  std::string repeating;
  if (pos_ < s_.size() && s_[pos_] == '.' &&
      ((pos_ + 1 < s_.size() && IsDigit(s_[pos_ + 1])) ||
       s_.substr(pos_ + 1, 10) == "\\overline{")) {
    decimal = true;
    digits += s_[pos_++];
    while (pos_ < s_.size() && IsDigit(s_[pos_])) digits += s_[pos_++];
    if (!ReadRepeatingDigits(repeating)) return false;
  }
  if (digits.empty() || digits == ".") return Fail("expected a number");
  if (digits.size() > kMaxDigits) return Fail(absl::StrCat("a number longer than ", kMaxDigits));
  mpq_class value = FromDecimal(digits);
  if (!repeating.empty()) {  // 0.1\overline{6} = 0.1 + 6 / (10 * 9)
    size_t decimals = digits.size() - digits.find('.') - 1;
    mpz_class period = Pow10(repeating.size()) - 1;
    mpq_class tail(mpz_class(repeating, 10), period * Pow10(decimals));
    tail.canonicalize();
    value += tail;
    decimal = false;  // exact
  }
  // Scientific notation: 2.5e3, 1E-4 (the 'e' directly after the digits, then digits).
  if (repeating.empty() && pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
    size_t p = pos_ + 1;
    bool negative = false;
    if (p < s_.size() && (s_[p] == '+' || s_[p] == '-')) negative = s_[p++] == '-';
    size_t exp_start = p;
    long exponent = 0;
    while (p < s_.size() && IsDigit(s_[p]) && p - exp_start < 7) {
      exponent = exponent * 10 + (s_[p++] - '0');
    }
    if (p > exp_start && (p >= s_.size() || !IsDigit(s_[p]))) {
      if (exponent > kMaxExponent10) return Fail("a number in scientific notation out of range");
      mpq_class scale(Pow10(exponent));
      value = negative ? mpq_class(value / scale) : mpq_class(value * scale);
      decimal = true;
      pos_ = p;
    }
  }
  // A base subscript: 204_5, 2516_{8}.
  if (!decimal && repeating.empty() && pos_ < s_.size() && s_[pos_] == '_') {
    std::string sub;
    if (!ReadSubscript(sub)) return false;
    int base = 0;
    for (char c : sub) {
      if (!IsDigit(c) || base > 100) return Fail("a number's subscript must be its base");
      base = base * 10 + (c - '0');
    }
    if (base < 2 || base > 36) return Fail("a number's base must be 2 to 36");
    for (char c : digits) {
      if (c - '0' >= base) {
        return Fail(absl::StrCat("digit ", std::string(1, c), " is not valid in base ", base));
      }
    }
    value = mpq_class(mpz_class(digits, base));
  }
  out = MakeNumber(value, decimal);
  return true;
}

bool MathParser::ParseFunction(std::string name, Expr& out) {
  // \sin^2 x = (\sin x)^2; \log_2 8; \log_{10}(x).
  Expr power, base;
  bool has_power = false, has_base = false;
  for (int round = 0; round < 2; ++round) {
    SkipSpace();
    if (pos_ < s_.size() && s_[pos_] == '^' && !has_power) {
      ++pos_;
      if (!ParseExponent(power)) return false;
      has_power = true;
    } else if (pos_ < s_.size() && s_[pos_] == '_' && name == "log" && !has_base) {
      ++pos_;
      if (!ParseArgument(base)) return false;
      has_base = true;
    }
  }
  Expr arg;
  if (Peek() == '(') {
    if (!ParseAtom(arg)) return false;
  } else {
    if (!ParsePower(arg)) return false;
    // \sin 2x: a number followed by letters is one argument.
    while (IsLetter(Peek())) {
      Expr more;
      if (!ParsePower(more)) return false;
      arg = MakeBinary(Expr::Kind::kMul, std::move(arg), std::move(more));
    }
  }
  std::vector<Expr> args;
  args.push_back(std::move(arg));
  if (has_base) args.push_back(std::move(base));
  out = MakeFunc(std::move(name), std::move(args));
  if (has_power) {
    std::vector<Expr> parts;
    parts.push_back(std::move(out));
    parts.push_back(std::move(power));
    out = MakeNode(Expr::Kind::kPow, std::move(parts));
  }
  return true;
}

// \begin{pmatrix} a & b \\ c & d \end{pmatrix} (also bmatrix, matrix, array ...).
bool MathParser::ParseMatrix(Expr& out) {
  if (!Consume('{')) return Fail("expected '{' after \\begin");
  size_t end = s_.find('}', pos_);
  if (end == std::string_view::npos) return Fail("missing '}' after \\begin{");
  std::string env(s_.substr(pos_, end - pos_));
  pos_ = end + 1;
  if (!OneOf(env, {"pmatrix", "bmatrix", "matrix", "Bmatrix", "vmatrix", "smallmatrix", "array"})) {
    return Fail(absl::StrCat("unsupported environment '", env, "'"));
  }
  if (env == "array" && Peek() == '{') {  // column spec
    size_t close = s_.find('}', pos_);
    if (close == std::string_view::npos) return Fail("missing '}' in array column spec");
    pos_ = close + 1;
  }
  out = MakeNode(Expr::Kind::kMatrix, {});
  Expr row = MakeList(0, 0, {});
  ++bracket_depth_;
  while (true) {
    Expr cell;
    if (!ParseAdditive(cell)) return false;
    row.children.push_back(std::move(cell));
    if (Consume('&')) continue;
    if (PeekCommand() == "\\") {
      SkipCommand("\\");
      out.children.push_back(std::move(row));
      row = MakeList(0, 0, {});
      if (PeekCommand() == "end") break;  // a trailing \\ before \end
      continue;
    }
    if (PeekCommand() == "end") {
      out.children.push_back(std::move(row));
      break;
    }
    return Fail("expected '&', '\\\\' or \\end in a matrix");
  }
  --bracket_depth_;
  SkipCommand("end");
  if (!Consume('{')) return Fail("expected '{' after \\end");
  end = s_.find('}', pos_);
  if (end == std::string_view::npos || s_.substr(pos_, end - pos_) != env) {
    return Fail(absl::StrCat("\\begin{", env, "} is not closed by \\end{", env, "}"));
  }
  pos_ = end + 1;
  size_t cols = out.children[0].children.size();
  for (const Expr& r : out.children) {
    if (r.children.size() != cols) return Fail("matrix rows have different lengths");
  }
  return true;
}

// The braced argument of \command, braces balanced, as text.
bool MathParser::ReadBraced(std::string_view command, std::string& content) {
  if (Peek() != '{') return Fail(absl::StrCat("expected '{' after \\", std::string(command)));
  int depth = 0;
  size_t end = pos_;
  for (; end < s_.size(); ++end) {
    if (s_[end] == '{') ++depth;
    if (s_[end] == '}' && --depth == 0) break;
  }
  if (end >= s_.size()) return Fail(absl::StrCat("missing '}' after \\", std::string(command)));
  content = std::string(s_.substr(pos_ + 1, end - pos_ - 1));
  pos_ = end + 1;
  return true;
}

// \lfloor x \rfloor, \lceil x \rceil.
bool MathParser::ParseDelimited(std::string_view close_command, const char* function, Expr& out) {
  Expr inner;
  if (!ParseAdditive(inner)) return false;
  if (!ConsumeCommand(close_command))
    return Fail(absl::StrCat("missing \\", std::string(close_command)));
  std::vector<Expr> arg;
  arg.push_back(std::move(inner));
  out = MakeFunc(function, std::move(arg));
  return true;
}

bool MathParser::ParseCommandAtom(Expr& out) {
  std::string_view cmd = PeekCommand();
  if (cmd.empty()) return Fail("stray '\\'");
  SkipCommand(cmd);
  std::string name(cmd);
  if (OneOf(name, {"frac", "dfrac", "tfrac", "cfrac"})) {
    Expr num, den;
    if (!ParseArgument(num) || !ParseArgument(den)) return false;
    std::vector<Expr> parts;
    parts.push_back(std::move(num));
    parts.push_back(std::move(den));
    out = MakeNode(Expr::Kind::kDiv, std::move(parts));
    out.name = "frac";  // marks a \frac for mixed numbers
    return true;
  }
  if (OneOf(name, {"binom", "dbinom", "tbinom"})) {
    Expr n, k;
    if (!ParseArgument(n) || !ParseArgument(k)) return false;
    std::vector<Expr> args;
    args.push_back(std::move(n));
    args.push_back(std::move(k));
    out = MakeFunc("binom", std::move(args));
    return true;
  }
  if (name == "sqrt") {
    Expr index;
    bool has_index = false;
    if (Peek() == '[') {
      ++pos_;
      if (!ParseAdditive(index)) return false;
      if (!Consume(']')) return Fail("missing ']' in \\sqrt[n]");
      has_index = true;
    }
    Expr radicand;  // \sqrt{2}, \sqrt2, \sqrt(2)
    if (!(Peek() == '(' ? ParseAtom(radicand) : ParseArgument(radicand))) return false;
    std::vector<Expr> args;
    args.push_back(std::move(radicand));
    if (has_index) args.push_back(std::move(index));
    out = MakeFunc("sqrt", std::move(args));
    return true;
  }
  if (name == "lfloor") return ParseDelimited("rfloor", "floor", out);
  if (name == "lceil") return ParseDelimited("rceil", "ceil", out);
  if (name == "pi") {
    out = MakeNamed(Expr::Kind::kConstant, "pi");
    return true;
  }
  if (name == "angle" || name == "triangle" || name == "measuredangle") {  // \angle ABC: a name
    out = MakeNamed(Expr::Kind::kSymbol, "\\" + name);
    return true;
  }
  if (name == "imath") {
    out = MakeNamed(Expr::Kind::kConstant, "i");
    return true;
  }
  if (name == "infty" || name == "infinity") {
    out = MakeNamed(Expr::Kind::kConstant, "inf");
    return true;
  }
  if (name == "{") {  // a set
    bool empty = PeekCommand() == "}";
    Expr inner;
    ++bracket_depth_;
    bool ok = empty || ParseList(inner);
    --bracket_depth_;
    if (!ok) return false;
    if (!ConsumeCommand("}")) return Fail("missing '\\}'");
    if (!empty && inner.kind == Expr::Kind::kList && inner.open == 0) {
      out = std::move(inner);
    } else {
      out = MakeList('{', '}', {});
      if (!empty) out.children.push_back(std::move(inner));
    }
    out.open = '{';
    out.close = '}';
    return true;
  }
  if (name == "emptyset" || name == "varnothing") {
    out = MakeList('{', '}', {});
    return true;
  }
  if (name == "overline") {  // a segment's name: \overline{AB}
    std::string content;
    if (!ReadBraced(name, content)) return false;
    content.erase(std::remove_if(content.begin(), content.end(), IsSpace), content.end());
    if (content.empty() || !std::all_of(content.begin(), content.end(), IsLetter)) {
      return Fail("\\overline{} holds a segment's letters here");
    }
    out = MakeNamed(Expr::Kind::kSymbol, "seg_" + content);
    return true;
  }
  if (name == "operatorname") {
    std::string content;
    if (!ReadBraced(name, content)) return false;
    if (IsFunctionName(content)) return ParseFunction(content, out);
    return TextOrMath(content, out);
  }
  if (IsTextCommandName(name)) {
    std::string content;
    if (!ReadBraced(name, content)) return false;
    return TextOrMath(content, out);
  }
  if (name == "mathbb") {
    std::string content;
    if (!ReadBraced(name, content)) return false;
    out = MakeNamed(Expr::Kind::kText, "\\mathbb{" + content + "}");
    return true;
  }
  if (name == "begin") return ParseMatrix(out);
  if (IsFunctionName(name)) return ParseFunction(name, out);
  if (IsGreekName(name)) {
    std::string sub;
    if (!ReadSubscript(sub)) return false;
    out = MakeNamed(Expr::Kind::kSymbol, "\\" + name + (sub.empty() ? "" : "_" + sub));
    return true;
  }
  return Fail(absl::StrCat("unsupported command \\", name));
}

// \text{...}: words stay words ("Evelyn", "(B)"); one letter is a variable or constant
// (\mathrm{e}); anything else is math ("\text{5}").
bool MathParser::TextOrMath(const std::string& content, Expr& out) {
  size_t letters = 0;
  bool only_words = true;
  for (char c : content) {
    if (IsLetter(c)) ++letters;
    if (!(IsLetter(c) || IsSpace(c) || c == '(' || c == ')' || c == '.' || c == '-' || c == '\'')) {
      only_words = false;
    }
  }
  if (letters >= 2 && only_words) {
    std::string word;
    for (char c : content) {
      if (!IsSpace(c) || (!word.empty() && word.back() != ' ')) word += IsSpace(c) ? ' ' : c;
    }
    while (!word.empty() && word.back() == ' ') word.pop_back();
    out = MakeNamed(Expr::Kind::kText, word);
    return true;
  }
  MathParser inner(content, depth_);
  absl::StatusOr<Expr> parsed = inner.Run();
  if (!parsed.ok()) return Fail(std::string(parsed.status().message()));
  out = *std::move(parsed);
  return true;
}

}  // namespace ponder::reward::internal
