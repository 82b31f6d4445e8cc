// Task: one leaf benchmark (lm-eval's "task"): documents, prompts, requests,
// per-document scores. Groups (e.g. mmlu) aggregate leaf tasks; see registry.h.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/request.h"
#include "scorers/metrics.h"
#include "tasks/chat_template.h"

namespace llada {

struct DataFileStatus {
  std::string split;
  std::filesystem::path path;  // the first candidate that exists, else the preferred one
  bool found = false;
  std::vector<std::filesystem::path> candidates;  // every path the loader accepts, preferred first
};

// One filter pipeline's outcome on one document.
struct FilterOutcome {
  std::string filter;                      // "none", "strict-match", ...
  std::string answer;                      // the filtered answer
  std::map<std::string, double> metrics;   // metric name -> value for this document
  std::map<std::string, nlohmann::json> details;  // metric name -> how it was computed (optional)
};

struct DocumentScore {
  std::string target;  // printable gold answer
  std::vector<FilterOutcome> outcomes;
  // Set when a metric could not be computed (its value is then absent); the
  // outcomes, e.g. a code task's assembled program, are still recorded.
  std::string error;
  bool unscored = false;  // the error is not the document's (UnscoredError: the sandbox failed)
};

// How a document's prompt is assembled (lm-eval's fewshot_context arguments).
struct PromptOptions {
  int num_fewshot = 0;
  // Non-null: render the prompt as a conversation (--apply-chat-template).
  const ChatTemplate* chat_template = nullptr;
  std::optional<std::string> system_instruction;
  bool fewshot_as_multiturn = false;  // each example a user/assistant turn pair
};

// A (filter, metric) pair the task reports, with its aggregation.
struct ReportedMetric {
  std::string filter;
  std::string metric;
  std::string aggregation = "mean";
  bool higher_is_better = true;
};

class Task {
 public:
  virtual ~Task() = default;

  virtual const std::string& name() const = 0;
  virtual int version() const = 0;
  virtual RequestType request_type() const = 0;
  virtual const std::string& output_type() const = 0;  // lm-eval's: multiple_choice, generate_until
  virtual int default_num_fewshot() const = 0;
  virtual std::vector<ReportedMetric> reported_metrics() const = 0;

  // Where the task's files are expected under `data_dir`, and whether found.
  virtual std::vector<DataFileStatus> DataFiles(const std::filesystem::path& data_dir) const = 0;
  // Reads the data; throws UserError naming the file and row on bad input.
  virtual void Load(const std::filesystem::path& data_dir) = 0;
  virtual size_t NumDocs() const = 0;

  // Seeds the random few-shot sampler (lm-eval's Task.set_fewshot_seed, which
  // its evaluator calls on every task with --fewshot_random_seed, 1234 by
  // default). Call before BuildRequests.
  virtual void SetFewshotSeed(uint64_t seed) = 0;
  // The requests for one evaluation document. May be called for documents in
  // any order.
  virtual std::vector<Request> BuildRequests(size_t doc_index, const PromptOptions& options) = 0;
  // Filters the responses (in BuildRequests order) and computes metrics;
  // code tasks run their programs on `context.sandbox`.
  virtual DocumentScore Score(size_t doc_index, const std::vector<Response>& responses,
                              const ScoringContext& context) const = 0;
  // Tasks that run no code need no context.
  DocumentScore Score(size_t doc_index, const std::vector<Response>& responses) const {
    return Score(doc_index, responses, ScoringContext());
  }

  // The resolved configuration, stored with results and hashed into the run.
  virtual nlohmann::json Describe() const = 0;
  // How the few-shot examples were chosen (sampler, split, any fallback).
  virtual nlohmann::json FewshotInfo() const = 0;
  // Scoring runs programs (code tasks): the harness scores documents in
  // parallel, one per sandbox slot.
  virtual bool RunsCode() const { return false; }
};

}  // namespace llada
