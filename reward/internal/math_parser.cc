// The grammar of math answers, loosest binding first (see math_parser.h).
#include "reward/internal/math_parser.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace ponder::reward::internal {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

bool IsNonNegativeIntegerLiteral(const Expr& e) {
  return e.kind == Expr::Kind::kNumber && !e.decimal && e.number.get_den() == 1 && e.number >= 0;
}

}  // namespace

absl::StatusOr<Expr> ParseMath(std::string_view text) { return MathParser(text).Run(); }

absl::StatusOr<Expr> MathParser::Run() {
  Expr out;
  if (ParseList(out) && !failed_) {
    SkipSpace();
    if (pos_ < s_.size()) Fail(absl::StrCat("unexpected '", std::string(1, s_[pos_]), "'"));
  }
  if (failed_) {
    std::string shown(s_.substr(0, 80));
    if (s_.size() > 80) shown += "...";
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read '", shown, "' at position ", error_pos_, ": ", error_));
  }
  return out;
}

// ---- characters ----------------------------------------------------------------------------

void MathParser::SkipSpace() {
  while (pos_ < s_.size() && IsSpace(s_[pos_])) ++pos_;
}

char MathParser::Peek() {
  SkipSpace();
  return pos_ < s_.size() ? s_[pos_] : '\0';
}

char MathParser::PeekAt(size_t offset) const {
  return pos_ + offset < s_.size() ? s_[pos_ + offset] : '\0';
}

bool MathParser::Consume(char c) {
  if (Peek() != c) return false;
  ++pos_;
  return true;
}

std::string_view MathParser::PeekCommand() {
  SkipSpace();
  if (pos_ >= s_.size() || s_[pos_] != '\\' || pos_ + 1 >= s_.size()) return {};
  size_t end = pos_ + 1;
  if (!IsLetter(s_[end])) return s_.substr(end, 1);
  while (end < s_.size() && IsLetter(s_[end])) ++end;
  return s_.substr(pos_ + 1, end - pos_ - 1);
}

bool MathParser::ConsumeCommand(std::string_view name) {
  if (PeekCommand() != name) return false;
  SkipCommand(name);
  return true;
}

bool MathParser::Fail(std::string message) {
  if (!failed_) {
    failed_ = true;
    error_ = std::move(message);
    error_pos_ = pos_;
  }
  return false;
}

// ---- grammar -------------------------------------------------------------------------------

bool MathParser::ParseList(Expr& out) {
  DepthGuard guard(this);
  if (guard.TooDeep()) return Fail("nested too deeply");
  std::vector<Expr> items;
  while (true) {
    char c = Peek();
    std::string_view cmd = PeekCommand();
    if (c == ',' || c == ';') {  // an empty item: "1, , 2"
      ++pos_;
      continue;
    }
    if (c == '\0' || c == ')' || c == ']' || c == '}' || c == '&' || cmd == "}" || cmd == "end" ||
        cmd == "\\") {
      break;
    }
    Expr item;
    if (!ParseRelation(item)) return false;
    items.push_back(std::move(item));
    c = Peek();
    if (c != ',' && c != ';') break;
  }
  if (items.empty()) return Fail(Peek() == '\0' ? "nothing to read" : "an empty list");
  if (items.size() == 1) {
    out = std::move(items[0]);
  } else {
    out = MakeList(0, 0, std::move(items));
  }
  return true;
}

std::string MathParser::ReadRelationOp() {
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
      {"le", "<="}, {"leq", "<="},        {"leqslant", "<="}, {"leqq", "<="},
      {"ge", ">="}, {"geq", ">="},        {"geqq", ">="},     {"geqslant", ">="},
      {"lt", "<"},  {"gt", ">"},          {"ne", "!="},       {"neq", "!="},
      {"in", "in"}, {"approx", "approx"}, {"equiv", "="},     {"doteq", "="}};
  for (const auto& [name, op] : kOps) {
    if (cmd == name) {
      SkipCommand(cmd);
      return op;
    }
  }
  return "";
}

bool MathParser::ParseRelation(Expr& out) {
  Expr first;
  if (!ParseRatio(first)) return false;
  std::string op = ReadRelationOp();
  if (op.empty()) {
    out = std::move(first);
    return true;
  }
  out = MakeNamed(Expr::Kind::kRelation, "");
  out.children.push_back(std::move(first));
  std::vector<std::string> ops;
  while (!op.empty()) {
    if (ops.size() >= 16) return Fail("too many relations in a chain");
    ops.push_back(op);
    Expr next;
    if (!ParseRatio(next)) return false;
    out.children.push_back(std::move(next));
    op = ReadRelationOp();
  }
  out.name = absl::StrJoin(ops, " ");
  return true;
}

bool MathParser::ParseRatio(Expr& out) {
  if (!ParseUnion(out)) return false;
  if (Peek() != ':' || PeekAt(1) == '=') return true;
  std::vector<Expr> parts;
  parts.push_back(std::move(out));
  while (Peek() == ':' && PeekAt(1) != '=') {
    ++pos_;
    Expr next;
    if (!ParseUnion(next)) return false;
    parts.push_back(std::move(next));
  }
  out = MakeNode(Expr::Kind::kRatio, std::move(parts));
  return true;
}

bool MathParser::ParseUnion(Expr& out) {
  if (!ParseAdditive(out)) return false;
  while (ConsumeCommand("cup")) {
    Expr next;
    if (!ParseAdditive(next)) return false;
    out = MakeBinary(Expr::Kind::kUnion, std::move(out), std::move(next));
  }
  return true;
}

bool MathParser::ParseAdditive(Expr& out) {
  if (!ParseTerm(out)) return false;
  while (true) {
    char c = Peek();
    std::string_view cmd = PeekCommand();
    if (c == '+' || c == '-') {
      ++pos_;
      Expr next;
      if (!ParseTerm(next)) return false;
      if (c == '-') next = MakeNeg(std::move(next));
      out = MakeBinary(Expr::Kind::kAdd, std::move(out), std::move(next));
    } else if (cmd == "pm" || cmd == "mp") {
      SkipCommand(cmd);
      Expr next;
      if (!ParseTerm(next)) return false;
      // a \mp b has the same two values as a \pm b.
      std::vector<Expr> both;
      both.push_back(std::move(out));
      both.push_back(std::move(next));
      out = MakeNode(Expr::Kind::kPlusMinus, std::move(both));
    } else {
      return true;
    }
  }
}

bool MathParser::StartsImplicitFactor() {
  char c = Peek();
  if (IsDigit(c) || IsLetter(c) || c == '(' || c == '{' || c == '.') return true;
  if (c != '\\') return false;
  std::string_view cmd = PeekCommand();
  return cmd == "frac" || cmd == "dfrac" || cmd == "tfrac" || cmd == "cfrac" || cmd == "sqrt" ||
         cmd == "pi" || cmd == "infty" || cmd == "binom" || cmd == "dbinom" || cmd == "tbinom" ||
         cmd == "lfloor" || cmd == "lceil" || cmd == "overline" || cmd == "imath" ||
         cmd == "angle" || cmd == "triangle" || cmd == "measuredangle" || IsFunctionName(cmd) ||
         IsGreekName(cmd) || IsTextCommandName(cmd) || cmd == "begin";
}

bool MathParser::ParseTerm(Expr& out) {
  DepthGuard guard(this);
  if (guard.TooDeep()) return Fail("nested too deeply");
  if (!ParseSignedFactor(out)) return false;
  bool only_integer = IsNonNegativeIntegerLiteral(out);  // mixed numbers: 2\frac{1}{2}, 3 1/2
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
      std::vector<Expr> parts;
      parts.push_back(std::move(out));
      parts.push_back(std::move(next));
      out = MakeNode(Expr::Kind::kDiv, std::move(parts));
    } else if (StartsImplicitFactor()) {
      if (only_integer && IsDigit(Peek())) {
        if (!ParseMixedNumber(out)) return false;
        only_integer = false;
        continue;
      }
      Expr next;
      if (!ParsePower(next)) return false;
      if (only_integer && next.kind == Expr::Kind::kDiv && next.name == "frac" &&
          IsNonNegativeIntegerLiteral(next.children[0]) &&
          IsNonNegativeIntegerLiteral(next.children[1])) {
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

// "3 1/2": a mixed number written in plain text; any other two numbers in a row are an error.
bool MathParser::ParseMixedNumber(Expr& whole) {
  bool spaced = pos_ > 0 && IsSpace(s_[pos_ - 1]);
  if (!spaced) return Fail("two numbers in a row");
  Expr num, den;
  if (!ParseNumber(num) || !IsNonNegativeIntegerLiteral(num) || !Consume('/') ||
      !ParseNumber(den) || !IsNonNegativeIntegerLiteral(den)) {
    return Fail("two numbers in a row (a mixed number is written 3 1/2)");
  }
  std::vector<Expr> parts;
  parts.push_back(std::move(num));
  parts.push_back(std::move(den));
  whole =
      MakeBinary(Expr::Kind::kAdd, std::move(whole), MakeNode(Expr::Kind::kDiv, std::move(parts)));
  return true;
}

bool MathParser::ParseSignedFactor(Expr& out) {
  DepthGuard guard(this);
  if (guard.TooDeep()) return Fail("nested too deeply");
  if (Consume('-')) {
    Expr inner;
    if (!ParseSignedFactor(inner)) return false;
    out = MakeNeg(std::move(inner));
    return true;
  }
  if (Consume('+')) return ParseSignedFactor(out);
  std::string_view cmd = PeekCommand();
  if (cmd == "pm" || cmd == "mp") {  // \pm 3: the two values 3 and -3
    SkipCommand(cmd);
    Expr inner;
    if (!ParseSignedFactor(inner)) return false;
    std::vector<Expr> one;
    one.push_back(std::move(inner));
    out = MakeNode(Expr::Kind::kPlusMinus, std::move(one));
    return true;
  }
  return ParsePower(out);
}

bool MathParser::ParsePower(Expr& out) {
  if (!ParseAtom(out) || !ParsePostfixOps(out)) return false;
  if (Consume('^')) {
    Expr exponent;
    if (!ParseExponent(exponent)) return false;
    std::vector<Expr> parts;
    parts.push_back(std::move(out));
    parts.push_back(std::move(exponent));
    out = MakeNode(Expr::Kind::kPow, std::move(parts));
    return ParsePostfixOps(out);
  }
  return true;
}

bool MathParser::ParsePostfixOps(Expr& out) {
  while (true) {
    SkipSpace();
    if (pos_ < s_.size() && s_[pos_] == '!' && PeekAt(1) != '=') {
      ++pos_;
      std::vector<Expr> arg;
      arg.push_back(std::move(out));
      out = MakeFunc("factorial", std::move(arg));
    } else if (pos_ < s_.size() && s_[pos_] == '%') {
      ++pos_;
      std::vector<Expr> arg;
      arg.push_back(std::move(out));
      out = MakeNode(Expr::Kind::kPercent, std::move(arg));
    } else {
      return true;
    }
  }
}

// After '^': a braced group, a signed number (plain-text 2^10 means 1024), a letter or a
// command atom; "2^-1" is read as 2^{-1}.
bool MathParser::ParseExponent(Expr& out) {
  DepthGuard guard(this);
  if (guard.TooDeep()) return Fail("nested too deeply");
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
bool MathParser::ParseArgument(Expr& out) {
  char c = Peek();
  if (c == '{') return ParseGroup(out);
  if (IsDigit(c)) {
    ++pos_;
    out = MakeNumber(mpq_class(c - '0'));
    return true;
  }
  return ParseSingle(out);
}

bool MathParser::ParseSingle(Expr& out) {
  char c = Peek();
  if (IsLetter(c)) {
    ++pos_;
    std::string name(1, c);
    out = name == "e" || name == "i" ? MakeNamed(Expr::Kind::kConstant, name)
                                     : MakeNamed(Expr::Kind::kSymbol, name);
    return true;
  }
  if (c == '\\') return ParseAtom(out);
  if (c == '\0') return Fail("expression ends early");
  return Fail(absl::StrCat("unexpected '", std::string(1, c), "'"));
}

bool MathParser::ParseGroup(Expr& out) {
  DepthGuard guard(this);
  if (guard.TooDeep()) return Fail("nested too deeply");
  if (!Consume('{')) return Fail("expected '{'");
  if (Consume('}')) return Fail("empty group {}");
  if (!ParseList(out)) return false;
  if (!Consume('}')) return Fail("missing '}'");
  return true;
}

bool MathParser::ParseBracketed(char open, Expr& out) {
  DepthGuard guard(this);
  if (guard.TooDeep()) return Fail("nested too deeply");
  ++bracket_depth_;
  Expr inner;
  bool ok = ParseList(inner);
  --bracket_depth_;
  if (!ok) return false;
  char close = Peek();
  if (close != ')' && close != ']') {
    return Fail(absl::StrCat("missing ')' or ']' after '", std::string(1, open), "'"));
  }
  ++pos_;
  if (inner.kind == Expr::Kind::kList && inner.open == 0) {
    inner.open = open;
    inner.close = close;
    out = std::move(inner);
    return true;
  }
  if ((open == '(' && close == ')') || (open == '[' && close == ']')) {
    out = std::move(inner);  // grouping
    return true;
  }
  return Fail("an interval needs two endpoints");
}

}  // namespace ponder::reward::internal
