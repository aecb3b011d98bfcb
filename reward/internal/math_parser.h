// The recursive-descent parser behind ParseMath (reward/internal/math_expr.h). The grammar,
// loosest binding first, is in math_parser.cc; the atoms (numbers, commands, words, matrices,
// function calls) are in math_parser_atoms.cc.
//
//   list      := item ((',' | ';') item)*          empty items (", ,") are skipped
//   relation  := ratio (relop ratio)*               = < > <= >= != \in \approx and LaTeX names
//   ratio     := union (':' union)*
//   union     := additive ('\cup' additive)*
//   additive  := term (('+' | '-' | '\pm' | '\mp') term)*
//   term      := signed ((* \cdot \times / \div) signed | implicit power)*
//   signed    := ('-' | '+' | '\pm' | '\mp') signed | power
//   power     := postfix ('^' exponent postfix-ops)?
//   postfix   := atom ('!' | '%')*
//
// Every level counts its depth, and the parser gives up past kMaxDepth, so nesting in hostile
// input costs at most linear time and bounded stack.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "reward/internal/math_expr.h"

namespace ponder::reward::internal {

class MathParser {
 public:
  static constexpr int kMaxDepth = 400;       // frames: about 80 levels of brackets
  static constexpr size_t kMaxDigits = 400;   // longer numbers are not read
  static constexpr int kMaxExponent10 = 400;  // 1e400 is read, 1e401 is not

  explicit MathParser(std::string_view text, int depth = 0) : s_(text), depth_(depth) {}
  absl::StatusOr<Expr> Run();

 private:
  struct DepthGuard {
    explicit DepthGuard(MathParser* p) : p(p) { ++p->depth_; }
    ~DepthGuard() { --p->depth_; }
    bool TooDeep() const { return p->depth_ > kMaxDepth; }
    MathParser* p;
  };

  // Characters and commands (math_parser.cc).
  void SkipSpace();
  char Peek();
  char PeekAt(size_t offset) const;
  bool Consume(char c);
  std::string_view PeekCommand();  // "frac" for "\frac", "{" for "\{"; empty if none
  void SkipCommand(std::string_view name) { pos_ += 1 + name.size(); }
  bool ConsumeCommand(std::string_view name);
  bool Fail(std::string message);

  // Grammar (math_parser.cc).
  bool ParseList(Expr& out);
  std::string ReadRelationOp();
  bool ParseRelation(Expr& out);
  bool ParseRatio(Expr& out);
  bool ParseUnion(Expr& out);
  bool ParseAdditive(Expr& out);
  bool StartsImplicitFactor();
  bool ParseTerm(Expr& out);
  bool ParseMixedNumber(Expr& whole);
  bool ParseSignedFactor(Expr& out);
  bool ParsePower(Expr& out);
  bool ParsePostfixOps(Expr& out);
  bool ParseExponent(Expr& out);
  bool ParseArgument(Expr& out);
  bool ParseSingle(Expr& out);
  bool ParseGroup(Expr& out);
  bool ParseBracketed(char open, Expr& out);

  // Atoms (math_parser_atoms.cc).
  bool ParseAtom(Expr& out);
  bool ParseWord(Expr& out);
  bool ReadSubscript(std::string& sub);
  bool ParseNumber(Expr& out);
  bool ReadRepeatingDigits(std::string& digits);
  bool ParseFunction(std::string name, Expr& out);
  bool ParseMatrix(Expr& out);
  bool ParseCommandAtom(Expr& out);
  bool ReadBraced(std::string_view command, std::string& content);
  bool TextOrMath(const std::string& content, Expr& out);
  bool ParseDelimited(std::string_view close_command, const char* function, Expr& out);

  std::string_view s_;
  size_t pos_ = 0;
  int depth_ = 0;
  int bracket_depth_ = 0;
  bool failed_ = false;
  std::string error_;
  size_t error_pos_ = 0;
};

// Names the parser knows (shared with the normaliser and the answer shaper).
bool IsFunctionName(std::string_view name);
bool IsGreekName(std::string_view name);
bool IsTextCommandName(std::string_view name);

}  // namespace ponder::reward::internal
