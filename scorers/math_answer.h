// lm-evaluation-harness's minerva_math answer handling (utils.py), ported
// function for function, and an equivalence check standing in for its
// sympy-based is_equiv.
#pragma once

#include <optional>
#include <string>

namespace llada {

// The last "\boxed{...}" (or "\fbox{...}", or "\boxed x" up to a "$") in `text`,
// braces balanced; nullopt when there is none or it is unclosed.
std::optional<std::string> LastBoxedOnlyString(const std::string& text);

// "\boxed{x}" -> "x", "\boxed x" -> "x". Throws SampleError where lm-eval's
// asserts fail.
std::string RemoveBoxed(const std::string& boxed);

// Lewkowycz et al. (2022) appendix D, as lm-eval has it: keep what follows the
// last "=", drop units and filler words, unwrap \text, \textbf, \overline,
// \boxed and $...$, expand \fracab / \sqrta shorthands, drop thousands commas.
std::string NormalizeFinalAnswer(std::string answer);

// The text between "Final Answer: The final answer is" and the first
// ". I hope it is correct." (one is appended first); "[invalidanswer]" else.
std::string GetUnnormalizedAnswer(const std::string& output);

// lm-eval: is_equiv(x1, x2) = sympy.simplify(parse_latex(x1) - parse_latex(x2)) == 0,
// false whenever either fails to parse. Here: a parser for the LaTeX subset
// MATH answers use (numbers, letters as symbols, + - * / ^, \frac, \dfrac,
// \tfrac, \sqrt, \sqrt[n], \pi, \cdot, \times, \left( \right), implicit
// products), the difference evaluated at several points. As sympy's parser,
// it reads the longest expression at the start of the text and ignores the
// rest ("-4,-2,1" is -4), and fails only when no expression starts the text
// (".5", "[2,5)"), which is then false. scorers/README.md lists where the
// two may disagree.
bool MathAnswersEquivalent(const std::string& a, const std::string& b);

}  // namespace llada
