#include "reward/internal/math_expr.h"

#include <utility>

#include "absl/strings/str_split.h"

namespace ponder::reward::internal {

Expr MakeNumber(const mpq_class& q, bool decimal) {
  Expr e;
  e.kind = Expr::Kind::kNumber;
  e.number = q;
  e.decimal = decimal;
  return e;
}

Expr MakeNamed(Expr::Kind kind, std::string name) {
  Expr e;
  e.kind = kind;
  e.name = std::move(name);
  return e;
}

Expr MakeNode(Expr::Kind kind, std::vector<Expr> children) {
  Expr e;
  e.kind = kind;
  e.children = std::move(children);
  return e;
}

Expr MakeBinary(Expr::Kind kind, Expr a, Expr b) {
  Expr e;
  e.kind = kind;
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
  std::vector<Expr> children;
  children.push_back(std::move(a));
  return MakeNode(Expr::Kind::kNeg, std::move(children));
}

Expr MakeFunc(std::string name, std::vector<Expr> args) {
  Expr e = MakeNamed(Expr::Kind::kFunc, std::move(name));
  e.children = std::move(args);
  return e;
}

Expr MakeList(char open, char close, std::vector<Expr> items) {
  Expr e = MakeNode(Expr::Kind::kList, std::move(items));
  e.open = open;
  e.close = close;
  return e;
}

bool Contains(const Expr& e, Expr::Kind kind) {
  if (e.kind == kind) return true;
  for (const Expr& c : e.children) {
    if (Contains(c, kind)) return true;
  }
  return false;
}

namespace {

// Binding strength, for parentheses: higher binds tighter.
int Precedence(const Expr& e) {
  switch (e.kind) {
    case Expr::Kind::kRelation:
      return 1;
    case Expr::Kind::kRatio:
      return 2;
    case Expr::Kind::kUnion:
      return 3;
    case Expr::Kind::kAdd:
    case Expr::Kind::kPlusMinus:
      return 4;
    case Expr::Kind::kMul:
    case Expr::Kind::kDiv:
      return 5;
    case Expr::Kind::kNeg:
      return 6;
    case Expr::Kind::kPow:
      return 7;
    case Expr::Kind::kNumber:
      return e.number < 0 || e.number.get_den() != 1 ? 5 : 9;
    default:
      return 9;
  }
}

void Render(const Expr& e, std::string& out);

void RenderChild(const Expr& child, int min_precedence, std::string& out) {
  bool paren = Precedence(child) < min_precedence;
  if (paren) out += '(';
  Render(child, out);
  if (paren) out += ')';
}

void RenderJoined(const Expr& e, const char* sep, int min_precedence, std::string& out) {
  for (size_t i = 0; i < e.children.size(); ++i) {
    if (i > 0) out += sep;
    RenderChild(e.children[i], min_precedence, out);
  }
}

void Render(const Expr& e, std::string& out) {
  using Kind = Expr::Kind;
  switch (e.kind) {
    case Kind::kNumber:
      out += e.number.get_str();
      return;
    case Kind::kSymbol:
    case Kind::kConstant:
      out += e.name == "inf" ? "oo" : e.name;
      return;
    case Kind::kText:
      out += "\"" + e.name + "\"";
      return;
    case Kind::kNeg:
      out += "-";
      RenderChild(e.children[0], 6, out);
      return;
    case Kind::kAdd:
      for (size_t i = 0; i < e.children.size(); ++i) {
        const Expr& c = e.children[i];
        if (i > 0 && c.kind == Kind::kNeg) {
          out += " - ";
          RenderChild(c.children[0], 5, out);
        } else {
          if (i > 0) out += " + ";
          RenderChild(c, 4, out);
        }
      }
      return;
    case Kind::kMul:
      RenderJoined(e, "*", 5, out);
      return;
    case Kind::kDiv:
      RenderChild(e.children[0], 5, out);
      out += "/";
      RenderChild(e.children[1], 6, out);
      return;
    case Kind::kPow:
      RenderChild(e.children[0], 8, out);
      out += "^";
      RenderChild(e.children[1], 8, out);
      return;
    case Kind::kPlusMinus:
      if (e.children.size() == 1) {
        out += "+-";
        RenderChild(e.children[0], 6, out);
        return;
      }
      RenderJoined(e, " +- ", 5, out);
      return;
    case Kind::kUnion:
      RenderJoined(e, " U ", 4, out);
      return;
    case Kind::kRatio:
      RenderJoined(e, ":", 3, out);
      return;
    case Kind::kPercent:
      RenderChild(e.children[0], 9, out);
      out += "%";
      return;
    case Kind::kFunc:
      out += e.name + "(";
      RenderJoined(e, ", ", 0, out);
      out += ")";
      return;
    case Kind::kList:
      out += e.open == 0 ? "" : std::string(1, e.open == '{' ? '{' : e.open);
      RenderJoined(e, ", ", 0, out);
      out += e.close == 0 ? "" : std::string(1, e.close);
      return;
    case Kind::kMatrix:
      out += "[";
      for (size_t i = 0; i < e.children.size(); ++i) {
        if (i > 0) out += "; ";
        RenderJoined(e.children[i], ", ", 0, out);
      }
      out += "]";
      return;
    case Kind::kRelation: {
      std::vector<std::string> ops = absl::StrSplit(e.name, ' ');
      for (size_t i = 0; i < e.children.size(); ++i) {
        if (i > 0) {
          out += " ";
          out += i - 1 < ops.size() ? std::string(ops[i - 1]) : std::string("?");
          out += " ";
        }
        RenderChild(e.children[i], 2, out);
      }
      return;
    }
  }
}

}  // namespace

std::string ToString(const Expr& e) {
  std::string out;
  Render(e, out);
  return out;
}

}  // namespace ponder::reward::internal
