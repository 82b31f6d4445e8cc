#include "scorers/math_answer.h"

#include <re2/re2.h>

#include <cctype>
#include <cmath>
#include <cstring>
#include <algorithm>
#include <map>
#include <optional>
#include <memory>
#include <vector>

#include "core/errors.h"
#include "core/text.h"

namespace llada {

std::optional<std::string> LastBoxedOnlyString(const std::string& text) {
  const std::string spaced = "\\boxed ";
  if (text.find(spaced) != std::string::npos) {
    const std::string after = text.substr(text.rfind(spaced) + spaced.size());
    return spaced + after.substr(0, after.find('$'));
  }
  size_t index = text.rfind("\\boxed");
  if (index == std::string::npos) index = text.rfind("\\fbox");
  if (index == std::string::npos) return std::nullopt;
  int open = 0;
  for (size_t i = index; i < text.size(); ++i) {
    if (text[i] == '{') ++open;
    if (text[i] == '}' && --open == 0) return text.substr(index, i + 1 - index);
  }
  return std::nullopt;
}

std::string RemoveBoxed(const std::string& boxed) {
  const std::string spaced = "\\boxed ", braced = "\\boxed{";
  if (boxed.find(spaced) != std::string::npos) {
    if (!StartsWith(boxed, spaced)) throw SampleError("remove_boxed: '" + boxed + "' does not start with \\boxed");
    return boxed.substr(spaced.size());
  }
  if (!StartsWith(boxed, braced) || !EndsWith(boxed, "}"))
    throw SampleError("remove_boxed: '" + boxed + "' is not \\boxed{...}");
  return boxed.substr(braced.size(), boxed.size() - braced.size() - 1);
}

std::string NormalizeFinalAnswer(std::string answer) {
  static const std::vector<std::pair<std::string, std::string>> kSubstitutions = {
      {"an ", ""},    {"a ", ""},         {".$", "$"},          {"\\$", ""},           {"\\ ", ""},
      {" ", ""},      {"mbox", "text"},   {",\\text{and}", ","}, {"\\text{and}", ","}, {"\\text{m}", "\\text{}"}};
  static const std::vector<std::string> kRemoved = {
      "square",      "ways",        "integers",  "dollars",   "mph",       "inches",     "ft",
      "hours",       "km",          "units",     "\\ldots",   "sue",       "points",     "feet",
      "minutes",     "digits",      "cents",     "degrees",   "cm",        "gm",         "pounds",
      "meters",      "meals",       "edges",     "students",  "childrentickets", "multiples", "\\text{s}",
      "\\text{.}",   "\\text{\ns}", "\\text{}^2", "\\text{}^3", "\\text{\n}", "\\text{}", "\\mathrm{th}",
      "^\\circ",     "^{\\circ}",   "\\;",       ",\\!",      "{,}",       "\"",         "\\dots"};
  const size_t equals = answer.rfind('=');
  if (equals != std::string::npos) answer = answer.substr(equals + 1);
  for (const auto& [before, after] : kSubstitutions) answer = ReplaceAll(answer, before, after);
  for (const auto& expression : kRemoved) answer = ReplaceAll(answer, expression, "");
  // re.sub with Python's semantics: RE2 is leftmost-first like `re`, and `.`
  // excludes "\n" in both.
  static const RE2 kDollars("(.*?)(\\$)(.*?)(\\$)(.*)"), kText("(\\\\text\\{)(.*?)(\\})"),
      kTextbf("(\\\\textbf\\{)(.*?)(\\})"), kOverline("(\\\\overline\\{)(.*?)(\\})"), kBoxed("(\\\\boxed\\{)(.*)(\\})"),
      kFrac("(frac)([^{])(.)"), kSqrt("(sqrt)([^{])");
  RE2::GlobalReplace(&answer, kDollars, "$\\3$");
  RE2::GlobalReplace(&answer, kText, "\\2");
  RE2::GlobalReplace(&answer, kTextbf, "\\2");
  RE2::GlobalReplace(&answer, kOverline, "\\2");
  RE2::GlobalReplace(&answer, kBoxed, "\\2");
  RE2::GlobalReplace(&answer, kFrac, "frac{\\2}{\\3}");
  RE2::GlobalReplace(&answer, kSqrt, "sqrt{\\2}");
  answer = ReplaceAll(answer, "$", "");
  const std::string digits = ReplaceAll(answer, ",", "");
  if (!digits.empty() && IsAsciiDigits(digits)) answer = digits;
  return answer;
}

std::string GetUnnormalizedAnswer(const std::string& output) {
  static const RE2 kFinal("Final Answer: The final answer is(.*?). I hope it is correct.");
  std::string found;
  if (RE2::PartialMatch(output + "I hope it is correct.", kFinal, &found)) return PyStrip(found);
  return "[invalidanswer]";
}

namespace {

__extension__ typedef __int128 Wide;  // exact arithmetic on literals (GCC/Clang)

// A parsed expression, evaluated numerically with letters as variables.
struct Node {
  enum Kind { kNumber, kSymbol, kAdd, kSub, kMul, kDiv, kPow, kNeg, kSqrt, kRoot, kFunction } kind;
  double value = 0.0;
  // A literal's exact value (digits / 10^k), as sympy keeps it: a decimal is
  // the number it spells, not its nearest double. Unset for \pi.
  std::optional<std::pair<Wide, Wide>> exact;
  char symbol = 0;
  std::string function;
  std::unique_ptr<Node> left, right;
};
using NodePtr = std::unique_ptr<Node>;

struct ParseFailure {};

class LatexParser {
 public:
  explicit LatexParser(const std::string& text) : text_(text) {}

  // Like sympy's parse_latex, whose ANTLR entry rule has no end-of-input
  // anchor: the longest expression at the start counts and the rest is
  // ignored ("-4,-2,1" reads as -4, "221_3" as 221, "\frac{5}{6}." as 5/6);
  // only a text with no expression at its start fails (".5", "[2,5)").
  NodePtr Parse() { return Expression(); }

 private:
  void Skip() {
    while (pos_ < text_.size() && (std::isspace(static_cast<unsigned char>(text_[pos_])) ||
                                   text_.compare(pos_, 2, "\\!") == 0 || text_.compare(pos_, 2, "\\,") == 0)) {
      pos_ += std::isspace(static_cast<unsigned char>(text_[pos_])) ? 1 : 2;
    }
  }
  bool Peek(const char* token) {
    Skip();
    return text_.compare(pos_, std::strlen(token), token) == 0;
  }
  bool Accept(const char* token) {
    if (!Peek(token)) return false;
    // A command must not run into letters (\pi vs \pix).
    const size_t length = std::strlen(token);
    if (token[0] == '\\' && std::isalpha(static_cast<unsigned char>(token[length - 1])) && pos_ + length < text_.size() &&
        std::isalpha(static_cast<unsigned char>(text_[pos_ + length])))
      return false;
    pos_ += length;
    return true;
  }
  void Expect(const char* token) {
    if (!Accept(token)) throw ParseFailure();
  }
  static NodePtr Make(Node::Kind kind, NodePtr left = nullptr, NodePtr right = nullptr) {
    auto node = std::make_unique<Node>();
    node->kind = kind;
    node->left = std::move(left);
    node->right = std::move(right);
    return node;
  }

  NodePtr Expression() {
    NodePtr node;
    if (Accept("-")) node = Make(Node::kNeg, Term());
    else {
      Accept("+");
      node = Term();
    }
    while (true) {
      if (Accept("+")) node = Make(Node::kAdd, std::move(node), Term());
      else if (Accept("-")) node = Make(Node::kSub, std::move(node), Term());
      else return node;
    }
  }

  bool StartsFactor() {
    Skip();
    if (pos_ >= text_.size()) return false;
    const char c = text_[pos_];
    if (std::isdigit(static_cast<unsigned char>(c)) || std::isalpha(static_cast<unsigned char>(c)) || c == '(' ||
        c == '{' || c == '[')
      return true;
    for (const char* command : {"\\frac", "\\dfrac", "\\tfrac", "\\sqrt", "\\pi", "\\left", "\\sin", "\\cos", "\\tan",
                                "\\log", "\\ln", "\\exp"})
      if (Peek(command)) return true;
    return false;
  }

  NodePtr Term() {
    NodePtr node = Power();
    while (true) {
      if (Accept("*") || Accept("\\cdot") || Accept("\\times")) node = Make(Node::kMul, std::move(node), Power());
      else if (Accept("/") || Accept("\\div")) node = Make(Node::kDiv, std::move(node), Power());
      else if (StartsFactor()) node = Make(Node::kMul, std::move(node), Power());  // implicit product
      else return node;
    }
  }

  NodePtr Power() {
    NodePtr base = Primary();
    if (Accept("^")) {
      NodePtr exponent;
      if (Peek("{")) exponent = Group("{", "}");
      else exponent = SingleAtom();
      return Make(Node::kPow, std::move(base), std::move(exponent));
    }
    return base;
  }

  // The one-character argument of "x^2": a digit, a letter or \pi.
  NodePtr SingleAtom() {
    Skip();
    if (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) return Number(pos_ + 1);
    if (pos_ < text_.size() && (std::isalpha(static_cast<unsigned char>(text_[pos_])) || Peek("\\pi"))) return Primary();
    throw ParseFailure();
  }

  // The number text_[pos_, end).
  NodePtr Number(size_t end) {
    auto node = Make(Node::kNumber);
    const std::string literal = text_.substr(pos_, end - pos_);
    node->value = std::stod(literal);
    Wide numerator = 0, denominator = 1;
    bool fits = true, fraction = false;
    for (char c : literal) {
      if (c == '.') {
        fraction = true;
        continue;
      }
      fits = fits && !__builtin_mul_overflow(numerator, 10, &numerator) &&
             !__builtin_add_overflow(numerator, c - '0', &numerator) &&
             (!fraction || !__builtin_mul_overflow(denominator, 10, &denominator));
    }
    if (fits) node->exact = std::make_pair(numerator, denominator);
    pos_ = end;
    return node;
  }

  NodePtr Group(const char* open, const char* close) {
    Expect(open);
    NodePtr inner = Expression();
    Expect(close);
    return inner;
  }

  NodePtr Primary() {
    Skip();
    if (pos_ >= text_.size()) throw ParseFailure();
    const char c = text_[pos_];
    if (std::isdigit(static_cast<unsigned char>(c))) {
      size_t end = pos_;
      while (end < text_.size() && std::isdigit(static_cast<unsigned char>(text_[end]))) ++end;
      if (end < text_.size() && text_[end] == '.') {
        // sympy's lexer rejects a number ending in "." ("2300." fails to
        // parse, while "\frac{5}{6}." reads as 5/6): observed on the goldens.
        if (end + 1 >= text_.size() || !std::isdigit(static_cast<unsigned char>(text_[end + 1]))) throw ParseFailure();
        ++end;
        while (end < text_.size() && std::isdigit(static_cast<unsigned char>(text_[end]))) ++end;
      }
      return Number(end);
    }
    if (std::isalpha(static_cast<unsigned char>(c))) {
      ++pos_;
      auto node = Make(Node::kSymbol);
      node->symbol = c;
      return node;
    }
    if (c == '(') return Group("(", ")");
    if (c == '{') return Group("{", "}");
    if (c == '[') return Group("[", "]");
    if (Accept("\\left")) {
      for (const auto& [open, close] : {std::pair<const char*, const char*>{"(", ")"}, {"[", "]"}}) {
        if (!Peek(open)) continue;
        Expect(open);
        NodePtr inner = Expression();
        Expect("\\right");
        Expect(close);
        return inner;
      }
      throw ParseFailure();
    }
    if (Accept("\\frac") || Accept("\\dfrac") || Accept("\\tfrac")) {
      NodePtr numerator = Group("{", "}");
      NodePtr denominator = Group("{", "}");
      return Make(Node::kDiv, std::move(numerator), std::move(denominator));
    }
    if (Accept("\\sqrt")) {
      if (Peek("[")) {
        NodePtr degree = Group("[", "]");
        return Make(Node::kRoot, Group("{", "}"), std::move(degree));
      }
      return Make(Node::kSqrt, Group("{", "}"));
    }
    if (Accept("\\pi")) {
      auto node = Make(Node::kNumber);
      node->value = M_PI;
      return node;
    }
    for (const char* function : {"\\sin", "\\cos", "\\tan", "\\log", "\\ln", "\\exp"}) {
      if (Accept(function)) {
        auto node = Make(Node::kFunction, Power());
        node->function = function;
        return node;
      }
    }
    throw ParseFailure();
  }

  const std::string& text_;
  size_t pos_ = 0;
};

double Evaluate(const Node& node, const std::map<char, double>& at) {
  switch (node.kind) {
    case Node::kNumber: return node.value;
    case Node::kSymbol: return at.at(node.symbol);
    case Node::kAdd: return Evaluate(*node.left, at) + Evaluate(*node.right, at);
    case Node::kSub: return Evaluate(*node.left, at) - Evaluate(*node.right, at);
    case Node::kMul: return Evaluate(*node.left, at) * Evaluate(*node.right, at);
    case Node::kDiv: return Evaluate(*node.left, at) / Evaluate(*node.right, at);
    case Node::kPow: return std::pow(Evaluate(*node.left, at), Evaluate(*node.right, at));
    case Node::kNeg: return -Evaluate(*node.left, at);
    case Node::kSqrt: return std::sqrt(Evaluate(*node.left, at));
    case Node::kRoot: return std::pow(Evaluate(*node.left, at), 1.0 / Evaluate(*node.right, at));
    case Node::kFunction: {
      const double x = Evaluate(*node.left, at);
      if (node.function == "\\sin") return std::sin(x);
      if (node.function == "\\cos") return std::cos(x);
      if (node.function == "\\tan") return std::tan(x);
      if (node.function == "\\exp") return std::exp(x);
      return std::log(x);
    }
  }
  return NAN;
}

// Exact rational arithmetic on 128-bit integers; nullopt on overflow, on a
// division by zero, and on what is not rational (\pi, roots, functions,
// non-integer powers): the caller then compares doubles.
class Rational {
 public:
  static std::optional<Rational> Of(Wide numerator, Wide denominator) {
    if (denominator == 0) return std::nullopt;
    if (denominator < 0) numerator = -numerator, denominator = -denominator;
    Wide a = numerator < 0 ? -numerator : numerator, b = denominator;
    while (b != 0) a %= b, std::swap(a, b);
    return Rational(numerator / a, denominator / a);
  }
  friend std::optional<Rational> operator+(const Rational& x, const Rational& y) {
    Wide left, right, numerator, denominator;
    if (__builtin_mul_overflow(x.num_, y.den_, &left) || __builtin_mul_overflow(y.num_, x.den_, &right) ||
        __builtin_add_overflow(left, right, &numerator) || __builtin_mul_overflow(x.den_, y.den_, &denominator))
      return std::nullopt;
    return Of(numerator, denominator);
  }
  friend std::optional<Rational> operator*(const Rational& x, const Rational& y) {
    Wide numerator, denominator;
    if (__builtin_mul_overflow(x.num_, y.num_, &numerator) || __builtin_mul_overflow(x.den_, y.den_, &denominator))
      return std::nullopt;
    return Of(numerator, denominator);
  }
  Rational Negated() const { return Rational(-num_, den_); }
  std::optional<Rational> Inverse() const { return Of(den_, num_); }
  bool IsInteger() const { return den_ == 1; }
  Wide numerator() const { return num_; }
  bool operator==(const Rational& other) const { return num_ == other.num_ && den_ == other.den_; }

 private:
  Rational(Wide numerator, Wide denominator) : num_(numerator), den_(denominator) {}
  Wide num_, den_;
};

std::optional<Rational> EvaluateExactly(const Node& node, const std::map<char, Rational>& at) {
  auto both = [&](auto combine) -> std::optional<Rational> {
    const auto x = EvaluateExactly(*node.left, at), y = EvaluateExactly(*node.right, at);
    if (!x || !y) return std::nullopt;
    return combine(*x, *y);
  };
  switch (node.kind) {
    case Node::kNumber: return node.exact ? Rational::Of(node.exact->first, node.exact->second) : std::nullopt;
    case Node::kSymbol: return at.at(node.symbol);
    case Node::kAdd: return both([](const Rational& x, const Rational& y) { return x + y; });
    case Node::kSub: return both([](const Rational& x, const Rational& y) { return x + y.Negated(); });
    case Node::kMul: return both([](const Rational& x, const Rational& y) { return x * y; });
    case Node::kDiv:
      return both([](const Rational& x, const Rational& y) -> std::optional<Rational> {
        const auto inverse = y.Inverse();
        return inverse ? x * *inverse : std::nullopt;
      });
    case Node::kPow:
      return both([](const Rational& base, const Rational& exponent) -> std::optional<Rational> {
        if (!exponent.IsInteger() || exponent.numerator() > 64 || exponent.numerator() < -64) return std::nullopt;
        std::optional<Rational> result = Rational::Of(1, 1);
        const Wide count = exponent.numerator() < 0 ? -exponent.numerator() : exponent.numerator();
        for (Wide i = 0; i < count && result; ++i) result = *result * base;
        return result && exponent.numerator() < 0 ? result->Inverse() : result;
      });
    case Node::kNeg: {
      const auto x = EvaluateExactly(*node.left, at);
      return x ? std::optional<Rational>(x->Negated()) : std::nullopt;
    }
    default: return std::nullopt;
  }
}

void CollectSymbols(const Node& node, std::map<char, double>* symbols) {
  if (node.kind == Node::kSymbol) (*symbols)[node.symbol] = 0.0;
  if (node.left) CollectSymbols(*node.left, symbols);
  if (node.right) CollectSymbols(*node.right, symbols);
}

}  // namespace

bool MathAnswersEquivalent(const std::string& a, const std::string& b) {
  NodePtr left, right;
  try {
    left = LatexParser(a).Parse();
    right = LatexParser(b).Parse();
  } catch (const ParseFailure&) {
    return false;
  }
  std::map<char, double> symbols;
  CollectSymbols(*left, &symbols);
  CollectSymbols(*right, &symbols);
  // simplify(diff) == 0 for an identity: the difference vanishes wherever it
  // is defined. Sample a few points; every finite one must agree. Where both
  // sides are rational there, they must agree exactly, as in sympy: a decimal
  // keeps its own precision, so 0.08333333333333333 is not 1/12 (their
  // doubles are equal) while 0.25 is 1/4.
  int compared = 0;
  for (int trial = 0; trial < 6; ++trial) {
    int k = 0;
    std::map<char, Rational> exact_point;
    for (auto& [symbol, value] : symbols) {
      const int thousandths = 500 + 370 * (trial + 1) + 113 * (++k);
      value = thousandths / 1000.0;
      exact_point.emplace(symbol, *Rational::Of(thousandths, 1000));
    }
    const auto exact_x = EvaluateExactly(*left, exact_point), exact_y = EvaluateExactly(*right, exact_point);
    if (exact_x && exact_y) {
      if (!(*exact_x == *exact_y)) return false;
      ++compared;
      continue;
    }
    const double x = Evaluate(*left, symbols), y = Evaluate(*right, symbols);
    if (!std::isfinite(x) || !std::isfinite(y)) continue;
    if (std::abs(x - y) > 1e-9 * std::max({1.0, std::abs(x), std::abs(y)})) return false;
    ++compared;
  }
  return compared > 0;
}

}  // namespace llada
