// The request model every backend implements (lm-evaluation-harness's):
//   loglikelihood(context, continuation) -> (logprob, is_greedy)
//   generate_until(context, until, max_gen_toks) -> text
// Tasks produce Requests, models turn them into Responses, scorers read both.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace llada {

enum class RequestType { kLoglikelihood, kGenerateUntil };

const char* RequestTypeName(RequestType type);          // "loglikelihood" / "generate_until"
RequestType ParseRequestType(const std::string& name);  // throws UserError

// Where a request came from. Not part of what the model sees, but the key
// replayed answers and per-sample logs are joined on.
struct RequestOrigin {
  std::string task;
  int64_t doc_index = 0;
  int request_index = 0;
};

// How a multiple-choice document reads its requests' log-likelihoods when
// every metric it reports looks only at which choice ranks first: acc ranks
// the log-likelihoods, acc_norm the log-likelihoods per code point of the
// choice. The requests of one document (one origin task and doc_index)
// compete; a sampling backend may stop sampling them once the first place is
// settled under every rule in use (LLaDA's mc_adaptive). Unset where a
// metric reads the values themselves (TruthfulQA mc2).
struct ChoiceRanking {
  bool by_loglikelihood = false;  // acc
  bool by_normalized = false;     // acc_norm
  double normalizer = 1.0;        // acc_norm's divisor: the choice's length in code points
};

struct Request {
  RequestType type = RequestType::kLoglikelihood;
  RequestOrigin origin;
  std::string context;
  std::string continuation;         // loglikelihood only
  std::vector<std::string> until;   // generate_until only
  std::optional<int> max_gen_toks;  // generate_until; unset = the model's default
  // The n-th sample of the same prompt (a task's `repeats`): part of the cache
  // key, and it moves the model's sampling seed so samples differ.
  int sample_index = 0;
  std::optional<ChoiceRanking> ranking;  // loglikelihood only
};

// What one generated answer cost, for speed beside accuracy
// (../shared/spec/fast_decoding.md section 1): model forward calls (NFE),
// generated tokens before the first EOS/EoT, and the model's wall time for
// the request (warm-up excluded, the device synchronized before the clock).
struct GenerationCost {
  int64_t forward_calls = 0;
  int64_t generated_tokens = 0;
  double seconds = 0.0;
};

// What one Monte-Carlo estimate (LLaDA) cost: its rows, its share of the
// rows the model computed (a row identical for several requests is computed
// once and split among them), and its share of its batch's model time.
struct LikelihoodCost {
  int64_t rows = 0;
  double rows_computed = 0.0;
  double seconds = 0.0;
};

struct Response {
  double loglikelihood = 0.0;  // loglikelihood only
  bool is_greedy = false;      // loglikelihood only
  // Monte-Carlo estimates (LLaDA): the sample standard error of loglikelihood.
  std::optional<double> loglikelihood_stderr;
  std::string text;                               // generate_until only
  std::optional<GenerationCost> cost;             // generate_until, from backends that measure it
  std::optional<LikelihoodCost> likelihood_cost;  // loglikelihood, Monte-Carlo backends
};

}  // namespace llada
