#include "reward/internal/math_expr.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace ponder::reward::internal {
namespace {

constexpr int kMaxDepth = 64;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

bool OneOf(std::string_view name, std::initializer_list<const char*> names) {
  for (const char* n : names) {
    if (name == n) return true;
  }
  return false;
}

bool IsFunctionName(std::string_view name) {
  return OneOf(name, {"sin", "cos", "tan", "sec", "csc", "cot", "arcsin", "arccos", "arctan",
                      "sinh", "cosh", "tanh", "ln", "log", "lg", "exp"});
}

bool IsGreek(std::string_view name) {
  return OneOf(name, {"alpha",  "beta",  "gamma",    "delta",   "epsilon", "varepsilon", "zeta",
                      "eta",    "theta", "vartheta", "iota",    "kappa",   "lambda",     "mu",
                      "nu",     "xi",    "rho",      "sigma",   "tau",     "upsilon",    "phi",
                      "varphi", "chi",   "psi",      "omega",   "Gamma",   "Delta",      "Theta",
                      "Lambda", "Xi",    "Sigma",    "Upsilon", "Phi",     "Psi",        "Omega"});
}

bool IsTextCommand(std::string_view name) {
  return OneOf(name, {"text", "textbf", "textit", "textrm", "textnormal", "mathrm", "mathbf",
                      "mathit", "mbox", "operatorname", "textsf", "mathsf"});
}

Expr Make(Expr::Kind kind) {
  Expr e;
  e.kind = kind;
  return e;
}

Expr MakeNumber(const Rational& q, bool decimal) {
  Expr e = Make(Expr::Kind::kNumber);
  e.number = q;
  e.decimal = decimal;
  return e;
}

Expr MakeNamed(Expr::Kind kind, std::string name) {
  Expr e = Make(kind);
  e.name = std::move(name);
  return e;
}

Expr MakeBinary(Expr::Kind kind, Expr a, Expr b) {
  Expr e = Make(kind);
  // Flatten associative operators.
  if ((kind == Expr::Kind::kAdd || kind == Expr::Kind::kMul || kind == Expr::Kind::kUnion) &&
      a.kind == kind) {
    e = std::move(a);
  } else {
    e.children.push_back(std::move(a));
  }
  e.children.push_back(std::move(b));
  return e;
}

Expr MakeNeg(Expr a) {
  Expr e = Make(Expr::Kind::kNeg);
  e.children.push_back(std::move(a));
  return e;
}

Expr MakeFunc(std::string name, std::vector<Expr> args) {
  Expr e = MakeNamed(Expr::Kind::kFunc, std::move(name));
  e.children = std::move(args);
  return e;
}

bool IsIntegerLiteral(const Expr& e) {
  return e.kind == Expr::Kind::kNumber && !e.decimal && e.number.is_integer() &&
         e.number.num() >= 0;
}

class Parser {
 public:
  explicit Parser(std::string_view text) : s_(text) {}

  absl::StatusOr<Expr> Run() {
    Expr out;
    if (ParseList(out, /*closers=*/"") && !failed_) {
      SkipSpace();
      if (pos_ < s_.size()) Fail(absl::StrCat("unexpected '", std::string(1, s_[pos_]), "'"));
    }
    if (failed_) {
      return absl::InvalidArgumentError(absl::StrCat("cannot read '", std::string(s_),
                                                     "' at position ", error_pos_, ": ", error_));
    }
    return out;
  }

 private:
  // ---- characters ----
  void SkipSpace() {
    while (pos_ < s_.size() && IsSpace(s_[pos_])) ++pos_;
  }
  char Peek() {
    SkipSpace();
    return pos_ < s_.size() ? s_[pos_] : '\0';
  }
  char PeekAt(size_t offset) const { return pos_ + offset < s_.size() ? s_[pos_ + offset] : '\0'; }
  bool Consume(char c) {
    if (Peek() != c) return false;
    ++pos_;
    return true;
  }
  // The name of the command at the cursor ("frac" for "\frac", "{" for "\{"), without
  // consuming it; empty when the cursor is not at a command.
  std::string_view PeekCommand() {
    SkipSpace();
    if (pos_ >= s_.size() || s_[pos_] != '\\' || pos_ + 1 >= s_.size()) return {};
    size_t end = pos_ + 1;
    if (!IsLetter(s_[end])) return s_.substr(end, 1);
    while (end < s_.size() && IsLetter(s_[end])) ++end;
    return s_.substr(pos_ + 1, end - pos_ - 1);
  }
  void SkipCommand(std::string_view name) { pos_ += 1 + name.size(); }
  bool ConsumeCommand(std::string_view name) {
    if (PeekCommand() != name) return false;
    SkipCommand(name);
    return true;
  }

  bool Fail(std::string message) {
    if (!failed_) {
      failed_ = true;
      error_ = std::move(message);
      error_pos_ = pos_;
    }
    return false;
  }

  struct DepthGuard {
    explicit DepthGuard(Parser* p) : p(p) { ++p->depth_; }
    ~DepthGuard() { --p->depth_; }
    Parser* p;
  };

  // ---- grammar ----

  // Items separated by ',' or ';' up to one of `closers` (not consumed) or the end.
  bool ParseList(Expr& out, std::string_view closers) {
    DepthGuard guard(this);
    if (depth_ > kMaxDepth) return Fail("nested too deeply");
    std::vector<Expr> items;
    while (true) {
      Expr item;
      if (!ParseRelation(item)) return false;
      items.push_back(std::move(item));
      char c = Peek();
      if (c == ',' || c == ';') {
        ++pos_;
        continue;
      }
      break;
    }
    if (items.size() == 1) {
      out = std::move(items[0]);
    } else {
      out = Make(Expr::Kind::kList);
      out.children = std::move(items);
    }
    return true;
  }

  // Reads a relation operator at the cursor; empty when there is none.
  std::string ReadRelationOp() {
    char c = Peek();
    if (c == '=') {
      ++pos_;
      return "=";
    }
    if (c == '<' || c == '>') {
      ++pos_;
      if (Consume('=')) return c == '<' ? "<=" : ">=";
      return std::string(1, c);
    }
    if (c == '!' && PeekAt(1) == '=') {
      pos_ += 2;
      return "!=";
    }
    std::string_view cmd = PeekCommand();
    static const std::pair<const char*, const char*> kOps[] = {
        {"le", "<="},  {"leq", "<="},      {"leqslant", "<="}, {"ge", ">="},
        {"geq", ">="}, {"geqslant", ">="}, {"lt", "<"},        {"gt", ">"},
        {"ne", "!="},  {"neq", "!="},      {"in", "in"}};
    for (const auto& [name, op] : kOps) {
      if (cmd == name) {
        SkipCommand(cmd);
        return op;
      }
    }
    return "";
  }

  bool ParseRelation(Expr& out) {
    Expr first;
    if (!ParseUnion(first)) return false;
    std::string op = ReadRelationOp();
    if (op.empty()) {
      out = std::move(first);
      return true;
    }
    out = MakeNamed(Expr::Kind::kRelation, "");
    out.children.push_back(std::move(first));
    std::vector<std::string> ops;
    while (!op.empty()) {
      ops.push_back(op);
      Expr next;
      if (!ParseUnion(next)) return false;
      out.children.push_back(std::move(next));
      op = ReadRelationOp();
    }
    out.name = absl::StrJoin(ops, " ");
    return true;
  }

  bool ParseUnion(Expr& out) {
    if (!ParseAdditive(out)) return false;
    while (ConsumeCommand("cup")) {
      Expr next;
      if (!ParseAdditive(next)) return false;
      out = MakeBinary(Expr::Kind::kUnion, std::move(out), std::move(next));
    }
    return true;
  }

  bool ParseAdditive(Expr& out) {
    if (!ParseTerm(out)) return false;
    while (true) {
      char c = Peek();
      if (c == '+' || c == '-') {
        ++pos_;
        Expr next;
        if (!ParseTerm(next)) return false;
        if (c == '-') next = MakeNeg(std::move(next));
        out = MakeBinary(Expr::Kind::kAdd, std::move(out), std::move(next));
      } else if (PeekCommand() == "pm" || PeekCommand() == "mp") {
        bool minus_first = PeekCommand() == "mp";
        SkipCommand(minus_first ? "mp" : "pm");
        Expr next;
        if (!ParseTerm(next)) return false;
        // a \mp b has the same two values as a \pm b.
        out = MakeBinary(Expr::Kind::kPlusMinus, std::move(out), std::move(next));
      } else {
        return true;
      }
    }
  }

  // Whether the cursor starts a factor that multiplies the previous one without an operator.
  bool StartsImplicitFactor() {
    char c = Peek();
    if (IsDigit(c) || IsLetter(c) || c == '(' || c == '{' || c == '.') return true;
    if (c != '\\') return false;
    std::string_view cmd = PeekCommand();
    return cmd == "frac" || cmd == "dfrac" || cmd == "tfrac" || cmd == "cfrac" || cmd == "sqrt" ||
           cmd == "pi" || cmd == "infty" || IsFunctionName(cmd) || IsGreek(cmd) ||
           IsTextCommand(cmd) || cmd == "begin";
  }

  bool ParseTerm(Expr& out) {
    DepthGuard guard(this);
    if (depth_ > kMaxDepth) return Fail("nested too deeply");
    if (!ParseSignedFactor(out)) return false;
    bool only_integer = IsIntegerLiteral(out);  // for mixed numbers: 2\frac{1}{2}, 3 1/2
    while (true) {
      char c = Peek();
      std::string_view cmd = PeekCommand();
      if (c == '*' || cmd == "cdot" || cmd == "times" || cmd == "ast") {
        if (c == '*') {
          ++pos_;
        } else {
          SkipCommand(cmd);
        }
        Expr next;
        if (!ParseSignedFactor(next)) return false;
        out = MakeBinary(Expr::Kind::kMul, std::move(out), std::move(next));
      } else if (c == '/' || cmd == "div") {
        if (c == '/') {
          ++pos_;
        } else {
          SkipCommand(cmd);
        }
        Expr next;
        if (!ParseSignedFactor(next)) return false;
        out = MakeBinary(Expr::Kind::kDiv, std::move(out), std::move(next));
      } else if (StartsImplicitFactor()) {
        bool spaced = pos_ > 0 && IsSpace(s_[pos_ - 1]);
        if (only_integer && IsDigit(Peek())) {
          // "3 1/2": a mixed number written in plain text; anything else is two numbers.
          if (!spaced) return Fail("two numbers in a row");
          Expr whole = std::move(out), num, den;
          if (!ParseNumber(num) || !IsIntegerLiteral(num) || !Consume('/') || !ParseNumber(den) ||
              !IsIntegerLiteral(den)) {
            return Fail("two numbers in a row (a mixed number is written 3 1/2)");
          }
          Expr fraction = MakeBinary(Expr::Kind::kDiv, std::move(num), std::move(den));
          out = MakeBinary(Expr::Kind::kAdd, std::move(whole), std::move(fraction));
          only_integer = false;
          continue;
        }
        Expr next;
        if (!ParsePower(next)) return false;
        if (only_integer && next.kind == Expr::Kind::kDiv && next.name == "frac" &&
            IsIntegerLiteral(next.children[0]) && IsIntegerLiteral(next.children[1])) {
          out = MakeBinary(Expr::Kind::kAdd, std::move(out), std::move(next));  // 2\frac{1}{2}
        } else {
          out = MakeBinary(Expr::Kind::kMul, std::move(out), std::move(next));
        }
      } else {
        return true;
      }
      only_integer = false;
    }
  }

  bool ParseSignedFactor(Expr& out) {
    DepthGuard guard(this);
    if (depth_ > kMaxDepth) return Fail("nested too deeply");
    if (Consume('-')) {
      Expr inner;
      if (!ParseSignedFactor(inner)) return false;
      out = MakeNeg(std::move(inner));
      return true;
    }
    if (Consume('+')) return ParseSignedFactor(out);
    return ParsePower(out);
  }

  bool ParsePower(Expr& out) {
    if (!ParsePostfix(out)) return false;
    if (Consume('^')) {
      Expr exponent;
      if (!ParseExponent(exponent)) return false;
      Expr power = Make(Expr::Kind::kPow);
      power.children.push_back(std::move(out));
      power.children.push_back(std::move(exponent));
      out = std::move(power);
      return ParsePostfixOps(out);
    }
    return true;
  }

  bool ParsePostfix(Expr& out) {
    if (!ParseAtom(out)) return false;
    return ParsePostfixOps(out);
  }

  bool ParsePostfixOps(Expr& out) {
    while (true) {
      SkipSpace();
      if (pos_ < s_.size() && s_[pos_] == '!' && PeekAt(1) != '=') {
        ++pos_;
        out = MakeFunc("factorial", {std::move(out)});
      } else if (pos_ < s_.size() && s_[pos_] == '%') {
        ++pos_;
        Expr p = Make(Expr::Kind::kPercent);
        p.children.push_back(std::move(out));
        out = std::move(p);
      } else {
        return true;
      }
    }
  }

  // After '^': a braced group, a signed number (plain-text 2^10 means 1024), a letter or a
  // command atom; "2^-1" is read as 2^{-1}.
  bool ParseExponent(Expr& out) {
    char c = Peek();
    if (c == '{') return ParseGroup(out);
    if (c == '-' || c == '+') {
      ++pos_;
      Expr inner;
      if (!ParseExponent(inner)) return false;
      out = c == '-' ? MakeNeg(std::move(inner)) : std::move(inner);
      return true;
    }
    if (IsDigit(c)) return ParseNumber(out);
    if (c == '(') return ParseAtom(out);
    return ParseSingle(out);
  }

  // A macro argument: {group}, or a single digit, letter or command (\frac12, \sqrt2, \frac\pi2).
  bool ParseArgument(Expr& out) {
    char c = Peek();
    if (c == '{') return ParseGroup(out);
    if (IsDigit(c)) {
      ++pos_;
      out = MakeNumber(Rational(c - '0'), false);
      return true;
    }
    return ParseSingle(out);
  }

  // One letter (a variable or constant) or a command atom.
  bool ParseSingle(Expr& out) {
    char c = Peek();
    if (IsLetter(c)) {
      ++pos_;
      out = Letter(std::string(1, c));
      return true;
    }
    if (c == '\\') return ParseAtom(out);
    if (c == '\0') return Fail("expression ends early");
    return Fail(absl::StrCat("unexpected '", std::string(1, c), "'"));
  }

  // {...}: LaTeX grouping; a list inside braces is a bare list.
  bool ParseGroup(Expr& out) {
    if (!Consume('{')) return Fail("expected '{'");
    if (Consume('}')) return Fail("empty group {}");
    if (!ParseList(out, "}")) return false;
    if (!Consume('}')) return Fail("missing '}'");
    return true;
  }

  Expr Letter(std::string name) {
    if (name == "e") return MakeNamed(Expr::Kind::kConstant, "e");
    if (name == "i") return MakeNamed(Expr::Kind::kConstant, "i");
    return MakeNamed(Expr::Kind::kSymbol, std::move(name));
  }

  // Reads "_x", "_{12}", "_1" after a symbol; returns the subscript text (may be empty).
  bool ReadSubscript(std::string& sub) {
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

  bool ParseNumber(Expr& out) {
    SkipSpace();
    size_t start = pos_;
    std::string digits;
    size_t group_len = 0;
    while (pos_ < s_.size() && IsDigit(s_[pos_])) {
      digits += s_[pos_++];
      ++group_len;
    }
    // Thousands separators, outside brackets only ("(1,234)" is a pair): 1,234,567.
    if (bracket_depth_ == 0 && !digits.empty() && group_len <= 3) {
      while (pos_ + 3 < s_.size() + 0 && s_[pos_] == ',' && IsDigit(PeekAt(1)) &&
             IsDigit(PeekAt(2)) && IsDigit(PeekAt(3)) && !IsDigit(PeekAt(4))) {
        digits.append(s_.substr(pos_ + 1, 3));
        pos_ += 4;
      }
    }
    bool decimal = false;
    if (pos_ < s_.size() && s_[pos_] == '.' && pos_ + 1 < s_.size() && IsDigit(s_[pos_ + 1])) {
      decimal = true;
      digits += s_[pos_++];
      while (pos_ < s_.size() && IsDigit(s_[pos_])) digits += s_[pos_++];
    }
    if (digits.empty()) return Fail("expected a number");
    std::optional<Rational> value = Rational::FromDecimal(digits);
    if (!value) return Fail(absl::StrCat("number '", digits, "' is too long"));
    // Scientific notation: 2.5e3, 1E-4 (the 'e' directly after the digits, then digits).
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      size_t p = pos_ + 1;
      bool negative = false;
      if (p < s_.size() && (s_[p] == '+' || s_[p] == '-')) negative = s_[p++] == '-';
      size_t exp_start = p;
      int64_t exponent = 0;
      while (p < s_.size() && IsDigit(s_[p]) && p - exp_start < 6) {
        exponent = exponent * 10 + (s_[p++] - '0');
      }
      if (p > exp_start && (p >= s_.size() || !IsDigit(s_[p]))) {
        std::optional<Rational> scale = PowInt(Rational(10), negative ? -exponent : exponent);
        std::optional<Rational> scaled = scale ? Mul(*value, *scale) : std::nullopt;
        if (!scaled) return Fail("number in scientific notation is out of range");
        value = scaled;
        decimal = true;
        pos_ = p;
      }
    }
    // A base subscript: 204_5, 2516_{8}.
    if (!decimal && pos_ < s_.size() && s_[pos_] == '_') {
      std::string sub;
      if (!ReadSubscript(sub)) return false;
      int64_t base = 0;
      for (char c : sub) {
        if (!IsDigit(c) || base > 100) return Fail("a number's subscript must be its base");
        base = base * 10 + (c - '0');
      }
      if (base < 2 || base > 36) return Fail("a number's base must be 2 to 36");
      __int128 v = 0;
      for (char c : digits) {
        if (c - '0' >= base)
          return Fail(absl::StrCat("digit ", std::string(1, c), " is not valid in base ", base));
        v = v * base + (c - '0');
        if (v > (static_cast<__int128>(1) << 62)) return Fail("number is too large");
      }
      value = Rational(static_cast<int64_t>(v));
    }
    (void)start;
    out = MakeNumber(*value, decimal);
    return true;
  }

  bool ParseFunction(std::string name, Expr& out) {
    // \sin^2 x = (\sin x)^2; \log_2 8; \log_{10}(x).
    Expr power;
    bool has_power = false;
    std::string base_sub;
    Expr base;
    bool has_base = false;
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
      Expr p = Make(Expr::Kind::kPow);
      p.children.push_back(std::move(out));
      p.children.push_back(std::move(power));
      out = std::move(p);
    }
    return true;
  }

  // Bracketed list after `open` was consumed: tuple, interval or grouping.
  bool ParseBracketed(char open, Expr& out) {
    ++bracket_depth_;
    Expr inner;
    bool ok = ParseList(inner, ")]");
    --bracket_depth_;
    if (!ok) return false;
    char close = Peek();
    if (close != ')' && close != ']')
      return Fail(absl::StrCat("missing ')' or ']' after '", std::string(1, open), "'"));
    ++pos_;
    if (inner.kind == Expr::Kind::kList && inner.open == 0) {
      inner.open = open;
      inner.close = close;
      out = std::move(inner);
      return true;
    }
    if (open == '(' && close == ')') {
      out = std::move(inner);  // grouping
      return true;
    }
    if (open == '[' && close == ']') {
      out = std::move(inner);
      return true;
    }
    return Fail("an interval needs two endpoints");
  }

  bool ParseMatrix(Expr& out) {
    // \begin{pmatrix} a & b \\ c & d \end{pmatrix}
    if (!Consume('{')) return Fail("expected '{' after \\begin");
    size_t end = s_.find('}', pos_);
    if (end == std::string_view::npos) return Fail("missing '}' after \\begin{");
    std::string env(s_.substr(pos_, end - pos_));
    pos_ = end + 1;
    if (!OneOf(env,
               {"pmatrix", "bmatrix", "matrix", "Bmatrix", "vmatrix", "smallmatrix", "array"})) {
      return Fail(absl::StrCat("unsupported environment '", env, "'"));
    }
    if (env == "array" && Peek() == '{') {  // column spec
      size_t close = s_.find('}', pos_);
      if (close == std::string_view::npos) return Fail("missing '}' in array column spec");
      pos_ = close + 1;
    }
    out = Make(Expr::Kind::kMatrix);
    Expr row = Make(Expr::Kind::kList);
    ++bracket_depth_;
    while (true) {
      Expr cell;
      if (!ParseAdditive(cell)) return false;
      row.children.push_back(std::move(cell));
      if (Consume('&')) continue;
      if (PeekCommand() == "\\") {
        SkipCommand("\\");
        out.children.push_back(std::move(row));
        row = Make(Expr::Kind::kList);
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

  bool ParseCommandAtom(Expr& out) {
    std::string_view cmd = PeekCommand();
    if (cmd.empty()) return Fail("stray '\\'");
    SkipCommand(cmd);
    std::string name(cmd);
    if (OneOf(name, {"frac", "dfrac", "tfrac", "cfrac"})) {
      Expr num, den;
      if (!ParseArgument(num) || !ParseArgument(den)) return false;
      out = MakeBinary(Expr::Kind::kDiv, std::move(num), std::move(den));
      out.name = "frac";  // marks a \frac for mixed numbers
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
      Expr radicand;
      if (!ParseArgument(radicand)) return false;
      std::vector<Expr> args;
      args.push_back(std::move(radicand));
      if (has_index) args.push_back(std::move(index));
      out = MakeFunc("sqrt", std::move(args));
      return true;
    }
    if (name == "pi") {
      out = MakeNamed(Expr::Kind::kConstant, "pi");
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
      bool ok = empty || ParseList(inner, "");
      --bracket_depth_;
      if (!ok) return false;
      if (!ConsumeCommand("}")) return Fail("missing '\\}'");
      if (!empty && inner.kind == Expr::Kind::kList && inner.open == 0) {
        out = std::move(inner);
      } else {
        out = Make(Expr::Kind::kList);
        if (!empty) out.children.push_back(std::move(inner));
      }
      out.open = '{';
      out.close = '}';
      return true;
    }
    if (name == "emptyset" || name == "varnothing") {
      out = Make(Expr::Kind::kList);
      out.open = '{';
      out.close = '}';
      return true;
    }
    if (IsTextCommand(name)) {
      if (Peek() != '{') return Fail(absl::StrCat("expected '{' after \\", name));
      size_t open = pos_;
      int depth = 0;
      size_t end = open;
      for (; end < s_.size(); ++end) {
        if (s_[end] == '{') ++depth;
        if (s_[end] == '}' && --depth == 0) break;
      }
      if (end >= s_.size()) return Fail(absl::StrCat("missing '}' after \\", name));
      std::string content(s_.substr(open + 1, end - open - 1));
      pos_ = end + 1;
      return TextOrMath(content, out);
    }
    if (name == "mathbb") {
      Expr inner;
      if (Peek() != '{') return Fail("expected '{' after \\mathbb");
      size_t end = s_.find('}', pos_);
      if (end == std::string_view::npos) return Fail("missing '}' after \\mathbb");
      out = MakeNamed(Expr::Kind::kText,
                      "\\mathbb{" + std::string(s_.substr(pos_ + 1, end - pos_ - 1)) + "}");
      pos_ = end + 1;
      return true;
    }
    if (name == "begin") return ParseMatrix(out);
    if (IsFunctionName(name)) return ParseFunction(name, out);
    if (IsGreek(name)) {
      std::string sub;
      if (!ReadSubscript(sub)) return false;
      out = MakeNamed(Expr::Kind::kSymbol, "\\" + name + (sub.empty() ? "" : "_" + sub));
      return true;
    }
    return Fail(absl::StrCat("unsupported command \\", name));
  }

  // \text{...}: words stay words ("Evelyn", "(B)"); anything else is math ("\text{5}").
  bool TextOrMath(const std::string& content, Expr& out) {
    bool has_letter = false, only_words = true;
    for (char c : content) {
      if (IsLetter(c)) has_letter = true;
      if (!(IsLetter(c) || IsSpace(c) || c == '(' || c == ')' || c == '.' || c == '-' ||
            c == '\'')) {
        only_words = false;
      }
    }
    if (has_letter && only_words) {
      std::string word;
      for (char c : content) {
        if (!IsSpace(c) || (!word.empty() && word.back() != ' ')) word += IsSpace(c) ? ' ' : c;
      }
      while (!word.empty() && word.back() == ' ') word.pop_back();
      out = MakeNamed(Expr::Kind::kText, word);
      return true;
    }
    Parser inner(content);
    inner.depth_ = depth_;
    absl::StatusOr<Expr> parsed = inner.Run();
    if (!parsed.ok()) return Fail(std::string(parsed.status().message()));
    out = *std::move(parsed);
    return true;
  }

  bool ParseAtom(Expr& out) {
    DepthGuard guard(this);
    if (depth_ > kMaxDepth) return Fail("nested too deeply");
    char c = Peek();
    if (IsDigit(c) || (c == '.' && IsDigit(PeekAt(1)))) return ParseNumber(out);
    if (IsLetter(c)) {
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
        out = MakeFunc("sqrt", {std::move(arg)});
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
      // A run of letters is a product of single-letter variables (LaTeX: xy = x*y); the
      // first is read here, the rest by implicit multiplication.
      ++pos_;
      std::string sub;
      if (!ReadSubscript(sub)) return false;
      if (sub.empty()) {
        out = Letter(std::string(1, c));
      } else {
        out = MakeNamed(Expr::Kind::kSymbol, std::string(1, c) + "_" + sub);
      }
      return true;
    }
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
      out = MakeFunc("abs", {std::move(inner)});
      return true;
    }
    if (c == '\\') return ParseCommandAtom(out);
    if (c == '\0') return Fail("expression ends early");
    return Fail(absl::StrCat("unexpected '", std::string(1, c), "'"));
  }

  std::string_view s_;
  size_t pos_ = 0;
  int depth_ = 0;
  int bracket_depth_ = 0;
  bool failed_ = false;
  std::string error_;
  size_t error_pos_ = 0;
};

void Render(const Expr& e, std::string& out) {
  auto children = [&](const char* sep) {
    for (size_t i = 0; i < e.children.size(); ++i) {
      if (i > 0) out += sep;
      Render(e.children[i], out);
    }
  };
  switch (e.kind) {
    case Expr::Kind::kNumber:
      out += e.number.ToString();
      return;
    case Expr::Kind::kSymbol:
    case Expr::Kind::kConstant:
      out += e.name;
      return;
    case Expr::Kind::kText:
      out += "\"" + e.name + "\"";
      return;
    case Expr::Kind::kNeg:
      out += "-(";
      Render(e.children[0], out);
      out += ")";
      return;
    case Expr::Kind::kAdd:
      out += "(";
      children(" + ");
      out += ")";
      return;
    case Expr::Kind::kMul:
      out += "(";
      children(" * ");
      out += ")";
      return;
    case Expr::Kind::kDiv:
      out += "(";
      children(" / ");
      out += ")";
      return;
    case Expr::Kind::kPow:
      out += "(";
      children(" ^ ");
      out += ")";
      return;
    case Expr::Kind::kPlusMinus:
      out += "(";
      children(" +- ");
      out += ")";
      return;
    case Expr::Kind::kUnion:
      children(" U ");
      return;
    case Expr::Kind::kPercent:
      Render(e.children[0], out);
      out += "%";
      return;
    case Expr::Kind::kFunc:
      out += e.name + "(";
      children(", ");
      out += ")";
      return;
    case Expr::Kind::kList:
      out += e.open == 0 ? "<" : std::string(1, e.open);
      children(", ");
      out += e.close == 0 ? ">" : std::string(1, e.close);
      return;
    case Expr::Kind::kMatrix:
      out += "matrix[";
      children("; ");
      out += "]";
      return;
    case Expr::Kind::kRelation: {
      std::vector<std::string> ops = absl::StrSplit(e.name, ' ');
      for (size_t i = 0; i < e.children.size(); ++i) {
        if (i > 0) out += " " + (i - 1 < ops.size() ? ops[i - 1] : std::string("?")) + " ";
        Render(e.children[i], out);
      }
      return;
    }
  }
}

}  // namespace

absl::StatusOr<Expr> ParseMath(std::string_view text) {
  Parser parser(text);
  return parser.Run();
}

std::string ToString(const Expr& e) {
  std::string out;
  Render(e, out);
  return out;
}

}  // namespace ponder::reward::internal
