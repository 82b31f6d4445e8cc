// ConfigTask: a leaf task defined entirely by a JSON config in configs/tasks/,
// following lm-evaluation-harness's TaskConfig (doc_to_text, doc_to_target,
// doc_to_choice, description, delimiters, few-shot split and sampler,
// generation_kwargs, filter_list, metric_list). Most benchmarks need nothing else.
#pragma once

#include <memory>
#include <optional>

#include "core/py_random.h"
#include "scorers/registry.h"
#include "tasks/loaders.h"
#include "tasks/task.h"
#include "tasks/template.h"

namespace llada {

class ConfigTask : public Task {
 public:
  // `config`: the task object; `task_vars`: variables of a task family member
  // (e.g. {"subject": "anatomy"}); `origin`: the config file, for errors.
  ConfigTask(const nlohmann::json& config, const nlohmann::json& task_vars, const std::string& origin,
             const LoaderRegistry& loaders, const ScorerRegistry& scorers);

  const std::string& name() const override { return name_; }
  int version() const override { return version_; }
  RequestType request_type() const override { return request_type_; }
  const std::string& output_type() const override { return output_type_; }
  int default_num_fewshot() const override { return num_fewshot_; }
  std::vector<ReportedMetric> reported_metrics() const override;

  std::vector<DataFileStatus> DataFiles(const std::filesystem::path& data_dir) const override;
  void Load(const std::filesystem::path& data_dir) override;
  size_t NumDocs() const override { return eval_docs_.size(); }

  void SetFewshotSeed(uint64_t seed) override;
  std::vector<Request> BuildRequests(size_t doc_index, const PromptOptions& options) override;
  using Task::Score;
  DocumentScore Score(size_t doc_index, const std::vector<Response>& responses,
                      const ScoringContext& context) const override;

  nlohmann::json Describe() const override;
  nlohmann::json FewshotInfo() const override;
  bool RunsCode() const override { return program_.has_value(); }

  // The few-shot examples drawn for a document (indices into the few-shot
  // split, in the order used). lm-eval's random sampler makes `draws_per_doc`
  // rnd.sample() calls per document (2 in chat mode without multi-turn, where
  // its get_chat_context samples once and get_context again) and uses the last.
  // Exposed for tests against lm-eval's draws.
  std::vector<size_t> FewshotIndices(size_t doc_index, int num_fewshot, int draws_per_doc = 1);

 private:
  std::string RenderText(const PromptTemplate& tmpl, const Document& doc) const;
  // The few-shot examples as one string: text + delimiter + target + fewshot delimiter each.
  std::string FewshotText(const std::vector<size_t>& shots);
  std::string BuildContext(size_t doc_index, const PromptOptions& options, const std::string& question);
  // lm-eval's multiple-input mode: doc_to_text yields the gold index (an int).
  std::optional<int> MultipleInputGold(const Document& doc) const;
  // How the metrics read a document's choices, when only the first place
  // matters to every one of them (acc, acc_norm); unset otherwise.
  std::optional<ChoiceRanking> Ranking() const;
  std::string QuestionText(const Document& doc) const;  // a shot's question text
  std::string TargetText(const Document& doc) const;   // the document's target
  std::string ShotTarget(const Document& example) const;  // the target as it appears in a shot
  int TargetIndex(const Document& doc) const;          // multiple choice gold
  std::vector<std::string> Choices(const Document& doc) const;
  // Where a split's documents came from: the file, and each document's record
  // number in it (1-based; documents a `where` or `split_rows` left out skipped).
  struct DocumentOrigins {
    std::string file;
    std::vector<size_t> records;
  };
  std::vector<Document> LoadSplit(const std::string& split, const std::filesystem::path& data_dir,
                                  DocumentOrigins* origins = nullptr) const;
  const std::vector<Document>& FewshotDocs();

  nlohmann::json config_;
  nlohmann::json vars_;
  std::string origin_;
  const LoaderRegistry& loaders_;

  std::string name_;
  int version_ = 0;
  std::string output_type_;
  RequestType request_type_ = RequestType::kLoglikelihood;
  int num_fewshot_ = 0;
  std::string test_split_;
  std::optional<std::string> fewshot_split_;
  std::string sampler_;  // "first_n" or "random"
  uint64_t fewshot_seed_ = 1234;
  std::string target_delimiter_ = " ";
  std::string fewshot_delimiter_ = "\n\n";
  std::optional<PromptTemplate> description_;
  PromptTemplate doc_to_text_;
  PromptTemplate doc_to_target_;
  std::vector<PromptTemplate> choice_list_;      // doc_to_choice as a list of templates
  std::optional<PromptTemplate> doc_to_labels_;  // per-choice truth labels (TruthfulQA mc2)
  std::optional<PromptTemplate> doc_to_target_fewshot_;  // a shot's target, when it differs
  std::optional<PromptTemplate> program_;                // code tasks: program from `completion`
  std::optional<PromptTemplate> reference_program_;      // code tasks: the reference solution's program
  int repeats_ = 1;                                      // samples per document (lm-eval's `repeats`)
  std::optional<PromptTemplate> choice_field_;   // doc_to_choice as "{{choices}}"
  std::vector<std::string> until_;
  std::optional<int> max_gen_toks_;

  struct MetricEntry {
    ReportedMetric reported;
    std::unique_ptr<ChoiceMetric> choice;
    std::unique_ptr<TextMetric> text;
  };
  std::vector<MetricEntry> metrics_;
  std::vector<std::unique_ptr<FilterPipeline>> filters_;

  std::filesystem::path data_dir_;
  std::vector<Document> eval_docs_;
  std::optional<std::vector<Document>> fewshot_docs_;
  // Random sampler state: lm-eval makes one rnd.sample() call per document in
  // order, so document i always gets the i-th draw.
  std::unique_ptr<PyRandom> rng_;
  int rng_draw_size_ = -1;
  std::vector<std::vector<uint64_t>> draws_;
};

}  // namespace llada
