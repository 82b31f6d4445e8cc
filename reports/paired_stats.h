// Paired comparisons of two sets of per-document scores (the same documents
// scored twice): whether a difference is more than noise. 0/1 scores use
// McNemar's exact test on the discordant pairs; other scores a paired
// bootstrap. Both give the mean difference with a 95% interval.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace llada {

struct PairedResult {
  std::string test;       // "mcnemar" or "bootstrap"
  size_t n = 0;           // paired documents
  double baseline = 0.0;  // mean score
  double candidate = 0.0;
  double delta = 0.0;   // candidate - baseline
  double ci_low = 0.0;  // 95% interval of delta
  double ci_high = 0.0;
  double p_value = 1.0;        // two-sided
  int64_t baseline_only = 0;   // McNemar: documents right only in the baseline
  int64_t candidate_only = 0;  // ... only in the candidate
};

// Two-sided exact binomial p-value of McNemar's test: `b` and `c` discordant pairs.
double McNemarExactP(int64_t b, int64_t c);

// `baseline[i]` and `candidate[i]` score the same document. Deterministic:
// the bootstrap draws from `seed`.
PairedResult ComparePaired(const std::vector<double>& baseline, const std::vector<double>& candidate,
                           int resamples = 10000, uint64_t seed = 1234);

// Holm-Bonferroni: which of `p_values` stay significant at family-wise `alpha`.
std::vector<bool> HolmSignificant(const std::vector<double>& p_values, double alpha);

}  // namespace llada
