#include "reports/paired_stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "core/errors.h"

namespace llada {
namespace {

bool AllBinary(const std::vector<double>& values) {
  return std::all_of(values.begin(), values.end(), [](double v) { return v == 0.0 || v == 1.0; });
}

double Mean(const std::vector<double>& values) {
  return values.empty() ? 0.0 : std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
}

// log of n choose k.
double LogChoose(int64_t n, int64_t k) {
  return std::lgamma(static_cast<double>(n) + 1) - std::lgamma(static_cast<double>(k) + 1) -
         std::lgamma(static_cast<double>(n - k) + 1);
}

}  // namespace

double McNemarExactP(int64_t b, int64_t c) {
  const int64_t n = b + c;
  if (n == 0) return 1.0;
  const int64_t k = std::min(b, c);
  // P(X <= k) for X ~ Binomial(n, 1/2), doubled (the distribution is symmetric).
  double tail = 0.0;
  for (int64_t i = 0; i <= k; ++i) tail += std::exp(LogChoose(n, i) - static_cast<double>(n) * std::log(2.0));
  return std::min(1.0, 2.0 * tail);
}

PairedResult ComparePaired(const std::vector<double>& baseline, const std::vector<double>& candidate, int resamples,
                           uint64_t seed) {
  if (baseline.size() != candidate.size()) throw InternalError("ComparePaired: unpaired inputs");
  PairedResult result;
  result.n = baseline.size();
  result.baseline = Mean(baseline);
  result.candidate = Mean(candidate);
  result.delta = result.candidate - result.baseline;
  if (result.n == 0) return result;
  std::vector<double> differences(result.n);
  for (size_t i = 0; i < result.n; ++i) differences[i] = candidate[i] - baseline[i];

  // The interval comes from the bootstrap for both tests (percentile method).
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<size_t> pick(0, result.n - 1);
  std::vector<double> means(static_cast<size_t>(resamples));
  int64_t at_or_below_zero = 0, at_or_above_zero = 0;
  for (auto& mean : means) {
    double sum = 0.0;
    for (size_t i = 0; i < result.n; ++i) sum += differences[pick(rng)];
    mean = sum / static_cast<double>(result.n);
    at_or_below_zero += mean <= 0.0;
    at_or_above_zero += mean >= 0.0;
  }
  std::sort(means.begin(), means.end());
  const auto quantile = [&](double q) { return means[static_cast<size_t>(q * (means.size() - 1))]; };
  result.ci_low = quantile(0.025);
  result.ci_high = quantile(0.975);

  if (AllBinary(baseline) && AllBinary(candidate)) {
    result.test = "mcnemar";
    for (size_t i = 0; i < result.n; ++i) {
      result.baseline_only += baseline[i] == 1.0 && candidate[i] == 0.0;
      result.candidate_only += baseline[i] == 0.0 && candidate[i] == 1.0;
    }
    result.p_value = McNemarExactP(result.baseline_only, result.candidate_only);
  } else {
    result.test = "bootstrap";
    const bool all_equal = std::all_of(differences.begin(), differences.end(), [](double d) { return d == 0.0; });
    result.p_value = all_equal ? 1.0
                               : std::min(1.0, 2.0 * static_cast<double>(std::min(at_or_below_zero, at_or_above_zero)) /
                                                   static_cast<double>(resamples));
  }
  return result;
}

std::vector<bool> HolmSignificant(const std::vector<double>& p_values, double alpha) {
  std::vector<size_t> order(p_values.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return p_values[a] < p_values[b]; });
  std::vector<bool> significant(p_values.size(), false);
  for (size_t rank = 0; rank < order.size(); ++rank) {
    if (p_values[order[rank]] > alpha / static_cast<double>(order.size() - rank)) break;
    significant[order[rank]] = true;
  }
  return significant;
}

}  // namespace llada
