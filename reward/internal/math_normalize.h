// String normalisation of a math answer before it is parsed or compared. Each rule is
// listed here and has a unit test in tests/reward/cases/math_normalize.tsv:
//  - math delimiters go: $...$, \(...\), \[...\]; \displaystyle
//  - \left / \right / \big... sizing goes (\left. too); spacing commands \! \, \; \: go,
//    \quad, "\ " and ~ become a space
//  - \dfrac, \tfrac, \cfrac become \frac
//  - thousands separators written in LaTeX: 1{,}234 and 10,\!080 become 1234 and 10080
//    (plain 1,234 is read by the parser, outside brackets only)
//  - degrees go: ^\circ, ^{\circ}, \circ, \degree, °
//  - \% becomes %, "percent" / "percentage" / "pct" at the end becomes %; \$ and a leading $
//    sign go (dollars)
//  - trailing units go: a trailing \text{...} / \mbox{...} / \mathrm{...} / \textbf{...}
//    after a value (with a power such as ^2), trailing unit words (cm, meters, dollars,
//    hours ...), and other words after a number ("42 apples")
//  - " and ", " or ", \text{ and }, \text{or} between items become ","
//  - a trailing period goes; spaces are collapsed and trimmed
//  - Unicode: − – × ÷ · π ∞ √ ≤ ≥ ≠ ± ∪ ≈ ∈ ∅ ℝ ² ³ and no-break / thin spaces become LaTeX/ASCII
//    (√12 is \sqrt{12})
#pragma once

#include <string>
#include <string_view>

namespace ponder::reward::internal {

std::string NormalizeAnswer(std::string_view answer);

}  // namespace ponder::reward::internal
