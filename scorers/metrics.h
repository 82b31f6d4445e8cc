// Per-document metrics and their aggregation (lm_eval/api/metrics.py).
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "scorers/py_regex.h"

namespace llada {

// What a multiple-choice document produced: one log-likelihood per choice.
struct ChoiceOutcome {
  std::vector<double> loglikelihoods;
  std::vector<bool> is_greedy;
  std::vector<std::string> choices;  // choice strings without the target delimiter
  int gold = 0;
  std::vector<int> labels;  // per choice, 1 = true (TruthfulQA mc2's doc_to_labels); may be empty
};

// Scores one multiple-choice document (acc, acc_norm, ...).
class ChoiceMetric {
 public:
  virtual ~ChoiceMetric() = default;
  virtual double Compute(const ChoiceOutcome& outcome) const = 0;
  // What the metric reads of the log-likelihoods: only the first place by
  // value (acc) or by value per code point (acc_norm), or the values. A
  // sampling backend may stop early only for the first two (Request::ranking).
  enum class Reads { kValues, kFirstPlace, kFirstPlacePerCodePoint };
  virtual Reads reads() const { return Reads::kValues; }
};

class SandboxRunner;

// What scoring may use beyond the document: the process's code sandbox, which
// the harness configures per run and passes in (metrics hold no global).
struct ScoringContext {
  SandboxRunner* sandbox = nullptr;  // code tasks (pass@k); null elsewhere
};

// Scores one generated answer against its reference (exact_match, ...).
class TextMetric {
 public:
  virtual ~TextMetric() = default;
  virtual double Compute(const std::string& prediction, const std::string& reference) const = 0;
  // The same, also describing how the value came about (stored per sample);
  // `details` is left null by metrics with nothing to add.
  virtual double ComputeWithDetails(const std::string& prediction, const std::string& reference,
                                    nlohmann::json* details) const {
    (void)details;
    return Compute(prediction, reference);
  }
  // Over the n samples of one document (lm-eval's `repeats`), for metrics
  // defined on a set of samples (pass@k). By default: the first sample's value.
  virtual double ComputeOverSamples(const std::vector<std::string>& predictions, const std::string& reference,
                                    const ScoringContext& context, nlohmann::json* details) const {
    (void)context;
    return ComputeWithDetails(predictions.at(0), reference, details);
  }
};

// minerva_math's process_results: the answer after "Final Answer: The final
// answer is", normalised, is_equiv to the (normalised) gold.
class MinervaMathMetric : public TextMetric {
 public:
  double Compute(const std::string& prediction, const std::string& reference) const override;
};

// eval_reverse.py's score: 1 when the reference occurs in the output.
class ContainsMetric : public TextMetric {
 public:
  double Compute(const std::string& prediction, const std::string& reference) const override;
};

// pass@k's unbiased estimator (Chen et al. 2021, as lm-eval's code_eval):
// 1 - C(n - c, k) / C(n, k) for n samples of which c pass.
double PassAtK(int n, int c, int k);

// np.argmax: the first index of the maximum.
size_t ArgMax(const std::vector<double>& values);

// acc: argmax of the log-likelihoods is the gold index.
class AccuracyMetric : public ChoiceMetric {
 public:
  double Compute(const ChoiceOutcome& outcome) const override;
  Reads reads() const override { return Reads::kFirstPlace; }
};

// acc_norm: argmax of loglikelihood / len(choice) in characters (code points,
// as Python's len), delimiter excluded.
class NormalizedAccuracyMetric : public ChoiceMetric {
 public:
  double Compute(const ChoiceOutcome& outcome) const override;
  Reads reads() const override { return Reads::kFirstPlacePerCodePoint; }
};

// TruthfulQA mc2 (lm-eval's process_results_mc2): the normalised probability
// mass of the true answers, p = exp(ll), true answers being those before the
// first label 0.
class TruthfulQaMc2Metric : public ChoiceMetric {
 public:
  double Compute(const ChoiceOutcome& outcome) const override;
};

// lm-eval's exact_match (exact_match_hf_evaluate): each regex in
// regexes_to_ignore is removed from prediction and reference in turn, then
// optional lowercasing, then string equality.
class ExactMatchMetric : public TextMetric {
 public:
  ExactMatchMetric(const std::vector<std::string>& regexes_to_ignore, bool ignore_case, bool ignore_punctuation,
                   const std::string& origin);
  double Compute(const std::string& prediction, const std::string& reference) const override;
  std::string Normalize(std::string text) const;

 private:
  std::vector<PyRegex> ignore_;
  bool ignore_case_;
  bool ignore_punctuation_;
};

// An aggregate value with its standard error (nullopt where lm-eval reports
// "N/A", e.g. a single document).
struct Aggregate {
  double value = 0.0;
  std::optional<double> stderr_value;
  size_t count = 0;
};

// mean with lm-eval's mean_stderr: sample standard deviation (n-1) / sqrt(n).
Aggregate MeanAggregate(const std::vector<double>& values);

struct SubtaskAggregate {
  double value;
  std::optional<double> stderr_value;
  size_t size;
};

// A group's aggregate over its subtasks (lm-eval's aggregate_subtask_metrics
// and pooled_sample_stderr): weight_by_size gives the micro average.
Aggregate AggregateSubtasks(const std::vector<SubtaskAggregate>& subtasks, bool weight_by_size);

// Number of Unicode code points in UTF-8 text (Python's len()).
size_t CodePointLength(const std::string& text);

}  // namespace llada
