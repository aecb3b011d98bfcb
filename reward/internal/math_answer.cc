#include "reward/internal/math_answer.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "reward/internal/math_parser.h"
#include "reward/internal/math_value.h"

namespace ponder::reward::internal {
namespace {

using Kind = Expr::Kind;

constexpr size_t kMaxExpansions = 16;

bool IsLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// A plain word answer ("east", "Evelyn", "odd function"): text, not a product of variables;
// "sin x" and "pi" are math.
bool IsPlainWords(std::string_view s) {
  size_t longest = 0;
  size_t begin = 0;
  while (begin <= s.size()) {
    size_t end = s.find_first_of(" -'", begin);
    if (end == std::string_view::npos) end = s.size();
    std::string_view word = s.substr(begin, end - begin);
    if (!std::all_of(word.begin(), word.end(), IsLetter)) return false;
    if (IsFunctionName(word) || word == "sqrt" || word == "pi" || word == "inf" ||
        word == "infty") {
      return false;
    }
    longest = std::max(longest, word.size());
    begin = end + 1;
  }
  return longest >= 2;
}

std::vector<std::string> Ops(const Expr& relation) { return absl::StrSplit(relation.name, ' '); }

// "A \approx B" -> A (or B when A is a name); "x = A \approx B" -> "x = A".
Expr DropApproximation(Expr e) {
  if (e.kind != Kind::kRelation) return e;
  std::vector<std::string> ops = Ops(e);
  auto at = std::find(ops.begin(), ops.end(), "approx");
  if (at == ops.end()) return e;
  size_t k = at - ops.begin();
  if (k == 0) {
    return IsLabel(e.children[0]) ? std::move(e.children[1]) : std::move(e.children[0]);
  }
  if (k == 1) {  // x = A \approx B: keep x = A
    Expr out = MakeNamed(Kind::kRelation, ops[0]);
    out.children.push_back(std::move(e.children[0]));
    out.children.push_back(std::move(e.children[1]));
    return out;
  }
  ops.resize(k);
  e.children.resize(k + 1);
  e.name = absl::StrJoin(ops, " ");
  return e;
}

// "n = 1, 2, 3" -> 1, 2, 3: the label on the first item covers the list.
Expr DropListLabel(Expr e) {
  if (e.kind != Kind::kList || e.open != 0 || e.children.size() < 2) return e;
  const Expr& first = e.children[0];
  if (first.kind != Kind::kRelation || first.name != "=" || !IsLabel(first.children[0])) {
    return e;
  }
  for (size_t k = 1; k < e.children.size(); ++k) {
    if (e.children[k].kind == Kind::kRelation) return e;
  }
  e.children[0] = std::move(e.children[0].children[1]);
  return e;
}

// \mathbb{R} -> (-\infty, \infty), anywhere.
void RealsToInterval(Expr& e) {
  if (e.kind == Kind::kText && (e.name == "\\mathbb{R}" || e.name == "\\mathbb R")) {
    std::vector<Expr> ends;
    ends.push_back(MakeNeg(MakeNamed(Kind::kConstant, "inf")));
    ends.push_back(MakeNamed(Kind::kConstant, "inf"));
    e = MakeList('(', ')', std::move(ends));
    return;
  }
  for (Expr& c : e.children) RealsToInterval(c);
}

// Every value of an expression with \pm in it: a \pm b -> a + b, a - b; \pm b -> b, -b.
std::vector<Expr> Expand(const Expr& e) {
  if (!Contains(e, Kind::kPlusMinus)) return {e};
  std::vector<std::vector<Expr>> options;
  for (const Expr& c : e.children) options.push_back(Expand(c));
  std::vector<Expr> out;
  std::vector<size_t> index(options.size(), 0);
  while (out.size() < kMaxExpansions) {
    Expr copy = e;
    copy.children.clear();
    for (size_t k = 0; k < options.size(); ++k) copy.children.push_back(options[k][index[k]]);
    if (e.kind == Kind::kPlusMinus && copy.children.size() == 1) {
      out.push_back(copy.children[0]);
      out.push_back(MakeNeg(copy.children[0]));
    } else if (e.kind == Kind::kPlusMinus) {
      Expr plus = MakeNode(Kind::kAdd, copy.children);
      std::vector<Expr> minus_parts;
      minus_parts.push_back(copy.children[0]);
      minus_parts.push_back(MakeNeg(copy.children[1]));
      out.push_back(std::move(plus));
      out.push_back(MakeNode(Kind::kAdd, std::move(minus_parts)));
    } else {
      out.push_back(std::move(copy));
    }
    size_t k = 0;
    while (k < index.size() && ++index[k] == options[k].size()) index[k++] = 0;
    if (k == index.size()) break;
  }
  return out;
}

// How many values Expand gives, up to kMaxExpansions + 1.
size_t CountValues(const Expr& e) {
  size_t n = e.kind == Kind::kPlusMinus ? 2 : 1;
  for (const Expr& c : e.children) n = std::min(n * CountValues(c), kMaxExpansions + 1);
  return n;
}

absl::StatusOr<std::vector<Expr>> ExpandAll(const Expr& e) {
  if (CountValues(e) > kMaxExpansions) {
    return absl::InvalidArgumentError(
        absl::StrCat("\\pm gives more than ", kMaxExpansions, " values"));
  }
  return Expand(e);
}

// An answer with \pm is the set of its values; inside a set or bare list each element is
// expanded in place. An answer with more values than kMaxExpansions is not read (a part of
// its values could match a wrong answer).
absl::StatusOr<Expr> ExpandPlusMinus(Expr e) {
  if (!Contains(e, Kind::kPlusMinus)) return e;
  if (e.kind == Kind::kList && (e.open == 0 || e.open == '{')) {
    std::vector<Expr> items;
    for (const Expr& c : e.children) {
      absl::StatusOr<std::vector<Expr>> values = ExpandAll(c);
      if (!values.ok()) return values.status();
      for (Expr& v : *values) items.push_back(std::move(v));
    }
    e.children = std::move(items);
    return e;
  }
  absl::StatusOr<std::vector<Expr>> values = ExpandAll(e);
  if (!values.ok()) return values.status();
  return MakeList(0, 0, *std::move(values));
}

}  // namespace

bool IsLabel(const Expr& e) {
  switch (e.kind) {
    case Kind::kSymbol:
    case Kind::kText:
      return true;
    case Kind::kMul:
      return std::all_of(e.children.begin(), e.children.end(), [](const Expr& c) {
        return c.kind == Kind::kSymbol ||
               (c.kind == Kind::kConstant && (c.name == "e" || c.name == "i"));
      });
    case Kind::kList:
    case Kind::kRatio:
      return e.open != '{' && !e.children.empty() &&
             std::all_of(e.children.begin(), e.children.end(), IsLabel);
    default:
      return false;
  }
}

absl::StatusOr<Expr> ReadAnswer(std::string_view normalized) {
  Expr e;
  if (IsPlainWords(normalized)) {
    e = MakeNamed(Kind::kText, std::string(normalized));
    return e;
  }
  absl::StatusOr<Expr> parsed = ParseMath(normalized);
  if (!parsed.ok()) return parsed.status();
  e = DropApproximation(*std::move(parsed));
  if (e.kind == Kind::kList) {
    for (Expr& item : e.children) item = DropApproximation(std::move(item));
  }
  e = DropListLabel(std::move(e));
  RealsToInterval(e);
  return ExpandPlusMinus(std::move(e));
}

std::string KindName(const Expr& e) {
  switch (e.kind) {
    case Kind::kRelation:
      return "relation";
    case Kind::kMatrix:
      return "matrix";
    case Kind::kRatio:
      return "ratio";
    case Kind::kText:
      return "text";
    case Kind::kUnion:
      return "union of intervals";
    case Kind::kList:
      if (e.open == 0 || e.open == '{') return "set";
      if (e.open == '(' && e.close == ')') return "tuple";
      return e.children.size() == 2 ? "interval" : "list";
    case Kind::kPercent:
    case Kind::kNumber:
      return "number";
    default: {
      if (!IsScalar(e)) return "expression";
      std::optional<Value> v = Evaluate(e, Point());
      return v ? "number" : "expression";
    }
  }
}

}  // namespace ponder::reward::internal
