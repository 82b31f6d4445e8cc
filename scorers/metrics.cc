#include "scorers/metrics.h"

#include "scorers/math_answer.h"

#include <cmath>

#include "core/errors.h"
#include "core/text.h"

namespace llada {

size_t ArgMax(const std::vector<double>& values) {
  size_t best = 0;
  for (size_t i = 1; i < values.size(); ++i)
    if (values[i] > values[best]) best = i;  // strict: ties go to the first index
  return best;
}

size_t CodePointLength(const std::string& text) {
  size_t count = 0;
  for (unsigned char c : text)
    if ((c & 0xc0) != 0x80) ++count;
  return count;
}

double AccuracyMetric::Compute(const ChoiceOutcome& outcome) const {
  if (outcome.loglikelihoods.empty()) throw InternalError("acc on a document without choices");
  return static_cast<int>(ArgMax(outcome.loglikelihoods)) == outcome.gold ? 1.0 : 0.0;
}

double NormalizedAccuracyMetric::Compute(const ChoiceOutcome& outcome) const {
  if (outcome.loglikelihoods.size() != outcome.choices.size())
    throw InternalError("acc_norm: choices and log-likelihoods differ in number");
  std::vector<double> normalized(outcome.loglikelihoods.size());
  for (size_t i = 0; i < normalized.size(); ++i)
    normalized[i] = outcome.loglikelihoods[i] / static_cast<double>(CodePointLength(outcome.choices[i]));
  return static_cast<int>(ArgMax(normalized)) == outcome.gold ? 1.0 : 0.0;
}

double TruthfulQaMc2Metric::Compute(const ChoiceOutcome& outcome) const {
  auto first_false = std::find(outcome.labels.begin(), outcome.labels.end(), 0);
  if (outcome.labels.size() != outcome.loglikelihoods.size() || first_false == outcome.labels.end())
    throw SampleError("mc2 needs one label per choice and at least one false answer");
  const size_t split = static_cast<size_t>(first_false - outcome.labels.begin());
  // sum(p_true) / (sum(p_true) + sum(p_false)) with p = exp(ll), computed
  // relative to the largest log-likelihood: lm-eval's direct form underflows
  // to 0/0 when every answer is very unlikely (long answers, small models).
  const double top = *std::max_element(outcome.loglikelihoods.begin(), outcome.loglikelihoods.end());
  double p_true = 0.0, p_false = 0.0;
  for (size_t i = 0; i < outcome.loglikelihoods.size(); ++i)
    (i < split ? p_true : p_false) += std::exp(outcome.loglikelihoods[i] - top);
  return p_true / (p_true + p_false);
}

double ContainsMetric::Compute(const std::string& prediction, const std::string& reference) const {
  return prediction.find(reference) != std::string::npos ? 1.0 : 0.0;
}

double PassAtK(int n, int c, int k) {
  if (n <= 0 || c < 0 || c > n || k <= 0 || k > n) throw InternalError("pass@k: need 0 <= c <= n and 0 < k <= n");
  if (n - c < k) return 1.0;
  // 1 - prod_{i=n-c+1}^{n} (1 - k / i), as numpy computes it (stable).
  double none_pass = 1.0;
  for (int i = n - c + 1; i <= n; ++i) none_pass *= 1.0 - static_cast<double>(k) / i;
  return 1.0 - none_pass;
}

double MinervaMathMetric::Compute(const std::string& prediction, const std::string& reference) const {
  return MathAnswersEquivalent(NormalizeFinalAnswer(GetUnnormalizedAnswer(prediction)), reference) ? 1.0 : 0.0;
}

ExactMatchMetric::ExactMatchMetric(const std::vector<std::string>& regexes_to_ignore, bool ignore_case,
                                   bool ignore_punctuation, const std::string& origin)
    : ignore_case_(ignore_case), ignore_punctuation_(ignore_punctuation) {
  for (const auto& pattern : regexes_to_ignore) ignore_.emplace_back(pattern, origin);
}

std::string ExactMatchMetric::Normalize(std::string text) const {
  for (const auto& regex : ignore_) text = regex.SubEmpty(text);
  if (ignore_case_) text = PyLower(text);
  if (ignore_punctuation_) {
    // string.punctuation: the ASCII punctuation characters.
    std::string kept;
    for (char c : text)
      if (!(c >= 33 && c <= 126 && !std::isalnum(static_cast<unsigned char>(c)))) kept.push_back(c);
    text = kept;
  }
  return text;
}

double ExactMatchMetric::Compute(const std::string& prediction, const std::string& reference) const {
  return Normalize(prediction) == Normalize(reference) ? 1.0 : 0.0;
}

Aggregate MeanAggregate(const std::vector<double>& values) {
  Aggregate result;
  result.count = values.size();
  if (values.empty()) return result;
  double sum = 0.0;
  for (double v : values) sum += v;
  const double mean = sum / static_cast<double>(values.size());
  result.value = mean;
  if (values.size() > 1) {
    double squares = 0.0;
    for (double v : values) squares += (v - mean) * (v - mean);
    const double n = static_cast<double>(values.size());
    result.stderr_value = std::sqrt(squares / (n - 1)) / std::sqrt(n);
  }
  return result;
}

Aggregate AggregateSubtasks(const std::vector<SubtaskAggregate>& subtasks, bool weight_by_size) {
  Aggregate result;
  if (subtasks.empty()) return result;
  double weighted = 0.0, total_weight = 0.0;
  size_t total_size = 0;
  for (const auto& s : subtasks) {
    const double weight = weight_by_size ? static_cast<double>(s.size) : 1.0;
    weighted += s.value * weight;
    total_weight += weight;
    total_size += s.size;
  }
  result.value = weighted / total_weight;
  result.count = total_size;
  // pooled_sample_stderr: pooled variance of the concatenated samples.
  bool all_known = true;
  double pooled = 0.0;
  for (const auto& s : subtasks) {
    if (!s.stderr_value) {
      all_known = false;
      break;
    }
    const double n = static_cast<double>(s.size);
    pooled += (n - 1) * (*s.stderr_value) * (*s.stderr_value) * n;
  }
  const double denominator = static_cast<double>(total_size) - static_cast<double>(subtasks.size());
  if (all_known && denominator > 0)
    result.stderr_value = std::sqrt(pooled / denominator / static_cast<double>(total_size));
  return result;
}

}  // namespace llada
