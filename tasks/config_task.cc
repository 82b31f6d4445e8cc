#include "tasks/config_task.h"

#include "core/errors.h"
#include "core/file_io.h"
#include "core/text.h"
#include "scorers/metrics.h"

namespace llada {
namespace {

std::string RequiredString(const nlohmann::json& config, const std::string& field, const std::string& origin) {
  if (!config.contains(field) || !config.at(field).is_string())
    throw UserError::InFile(origin, field, "required string field missing");
  return config.at(field).get<std::string>();
}

std::string OptionalString(const nlohmann::json& config, const std::string& field, const std::string& fallback,
                           const std::string& origin) {
  if (!config.contains(field) || config.at(field).is_null()) return fallback;
  if (!config.at(field).is_string()) throw UserError::InFile(origin, field, "expected a string");
  return config.at(field).get<std::string>();
}

}  // namespace

ConfigTask::ConfigTask(const nlohmann::json& config, const nlohmann::json& task_vars, const std::string& origin,
                       const LoaderRegistry& loaders, const ScorerRegistry& scorers)
    : config_(config),
      vars_(task_vars.is_null() ? nlohmann::json::object() : task_vars),
      origin_(origin),
      loaders_(loaders),
      doc_to_text_(RequiredString(config, "doc_to_text", origin), origin + ": doc_to_text"),
      doc_to_target_(RequiredString(config, "doc_to_target", origin), origin + ": doc_to_target") {
  name_ = PromptTemplate(RequiredString(config, "task", origin), origin + ": task").Render({}, vars_);
  const std::string where = origin + " (" + name_ + ")";
  if (!config.contains("version") || !config.at("version").is_number_integer())
    throw UserError::InFile(where, "version", "required integer field missing");
  version_ = config.at("version").get<int>();
  output_type_ = RequiredString(config, "output_type", where);
  if (output_type_ == "multiple_choice") {
    request_type_ = RequestType::kLoglikelihood;
  } else if (output_type_ == "generate_until") {
    request_type_ = RequestType::kGenerateUntil;
  } else {
    throw UserError::InFile(where, "output_type",
                            "'" + output_type_ + "' is not supported (multiple_choice, generate_until)");
  }
  num_fewshot_ = config.value("num_fewshot", 0);
  test_split_ = RequiredString(config, "test_split", where);
  if (config.contains("fewshot_split") && !config.at("fewshot_split").is_null())
    fewshot_split_ = config.at("fewshot_split").get<std::string>();
  sampler_ = config.contains("fewshot_config") ? config.at("fewshot_config").value("sampler", "random") : "random";
  if (sampler_ != "random" && sampler_ != "first_n")
    throw UserError::InFile(where, "fewshot_config.sampler", "'" + sampler_ + "' is not supported (random, first_n)");
  fewshot_seed_ = config.value("fewshot_random_seed", 1234);
  target_delimiter_ = OptionalString(config, "target_delimiter", " ", where);
  fewshot_delimiter_ = OptionalString(config, "fewshot_delimiter", "\n\n", where);
  if (config.contains("description") && !config.at("description").get<std::string>().empty())
    description_.emplace(config.at("description").get<std::string>(), where + ": description");

  if (config.contains("doc_to_choice")) {
    const auto& choices = config.at("doc_to_choice");
    if (choices.is_array()) {
      for (const auto& choice : choices) choice_list_.emplace_back(choice.get<std::string>(), where + ": doc_to_choice");
    } else if (choices.is_string()) {
      choice_field_.emplace(choices.get<std::string>(), where + ": doc_to_choice");
    } else {
      throw UserError::InFile(where, "doc_to_choice", "expected a list or a template string");
    }
  } else if (output_type_ == "multiple_choice") {
    throw UserError::InFile(where, "doc_to_choice", "required for multiple_choice tasks");
  }

  // Our extension for targets that differ in few-shot examples (lm-eval writes
  // them as Jinja conditionals on `is_fewshot` / `few_shot`).
  if (config.contains("doc_to_target_fewshot"))
    doc_to_target_fewshot_.emplace(RequiredString(config, "doc_to_target_fewshot", where), where + ": doc_to_target_fewshot");
  // Code tasks: the program to execute, the model's output as `completion`.
  if (config.contains("program"))
    program_.emplace(RequiredString(config, "program", where), where + ": program");
  // Its reference solution, run once per problem to calibrate time limits.
  if (config.contains("reference_program"))
    reference_program_.emplace(RequiredString(config, "reference_program", where), where + ": reference_program");
  if (config.contains("repeats")) {
    if (!config.at("repeats").is_number_integer() || config.at("repeats").get<int>() < 1)
      throw UserError::InFile(where, "repeats", "must be a whole number >= 1");
    repeats_ = config.at("repeats").get<int>();
    if (output_type_ != "generate_until" && repeats_ > 1)
      throw UserError::InFile(where, "repeats", "only generate_until tasks sample more than once");
  }

  // Our extension for lm-eval's process_results_mc2: per-choice truth labels.
  if (config.contains("doc_to_labels"))
    doc_to_labels_.emplace(RequiredString(config, "doc_to_labels", where), where + ": doc_to_labels");

  if (config.contains("generation_kwargs")) {
    const auto& kwargs = config.at("generation_kwargs");
    until_ = kwargs.value("until", std::vector<std::string>{});
    if (kwargs.contains("max_gen_toks")) max_gen_toks_ = kwargs.at("max_gen_toks").get<int>();
  }

  // Filters: lm-eval's default for tasks without a filter_list is "none" = take_first.
  if (config.contains("filter_list")) {
    for (const auto& entry : config.at("filter_list")) filters_.push_back(scorers.BuildPipeline(entry, where));
  } else {
    filters_.push_back(scorers.BuildPipeline({{"name", "none"}, {"filter", {{{"function", "take_first"}}}}}, where));
  }
  if (!config.contains("metric_list") || !config.at("metric_list").is_array())
    throw UserError::InFile(where, "metric_list", "required list missing");
  for (const auto& entry : config.at("metric_list")) {
    MetricEntry metric;
    metric.reported.metric = RequiredString(entry, "metric", where + ": metric_list");
    metric.reported.aggregation = entry.value("aggregation", "mean");
    metric.reported.higher_is_better = entry.value("higher_is_better", true);
    if (metric.reported.aggregation != "mean")
      throw UserError::InFile(where, "metric_list", "aggregation '" + metric.reported.aggregation + "' is not supported");
    if (entry.value("function", std::string()) == "pass_at_k" && entry.value("k", 1) > repeats_)
      throw UserError::InFile(where, "metric_list", metric.reported.metric + " needs repeats >= k (repeats is " +
                                                        std::to_string(repeats_) + ")");
    if (request_type_ == RequestType::kLoglikelihood)
      metric.choice = scorers.BuildChoiceMetric(entry, where);
    else
      metric.text = scorers.BuildTextMetric(entry, where);
    metrics_.push_back(std::move(metric));
  }
}

std::optional<ChoiceRanking> ConfigTask::Ranking() const {
  ChoiceRanking ranking;
  for (const auto& metric : metrics_) {
    if (!metric.choice) return std::nullopt;
    switch (metric.choice->reads()) {
      case ChoiceMetric::Reads::kValues:
        return std::nullopt;
      case ChoiceMetric::Reads::kFirstPlace:
        ranking.by_loglikelihood = true;
        break;
      case ChoiceMetric::Reads::kFirstPlacePerCodePoint:
        ranking.by_normalized = true;
        break;
    }
  }
  if (!ranking.by_loglikelihood && !ranking.by_normalized) return std::nullopt;
  return ranking;
}

std::vector<ReportedMetric> ConfigTask::reported_metrics() const {
  std::vector<ReportedMetric> reported;
  for (const auto& filter : filters_) {
    for (const auto& metric : metrics_) {
      ReportedMetric r = metric.reported;
      r.filter = filter->name();
      reported.push_back(r);
    }
  }
  return reported;
}

std::vector<DataFileStatus> ConfigTask::DataFiles(const std::filesystem::path& data_dir) const {
  const auto& dataset = config_.at("dataset");
  std::vector<std::string> splits = {test_split_};
  if (fewshot_split_ && *fewshot_split_ != test_split_) splits.push_back(*fewshot_split_);
  std::vector<DataFileStatus> statuses;
  for (const auto& split : splits) {
    if (!dataset.contains("splits") || !dataset.at("splits").contains(split))
      throw UserError::InFile(origin_, "dataset.splits." + split, "no file listed for this split");
    DataFileStatus status;
    status.split = split;
    for (const auto& candidate : dataset.at("splits").at(split)) {
      const std::filesystem::path path =
          data_dir / PromptTemplate(candidate.get<std::string>(), origin_ + ": dataset.splits").Render({}, vars_);
      if (status.path.empty()) status.path = path;
      status.candidates.push_back(path);
      std::error_code ec;
      if (!status.found && std::filesystem::is_regular_file(SplitArchiveMember(path).archive, ec)) {
        status.path = path;
        status.found = true;
      }
    }
    statuses.push_back(status);
  }
  return statuses;
}

std::vector<Document> ConfigTask::LoadSplit(const std::string& split, const std::filesystem::path& data_dir,
                                            DocumentOrigins* origins) const {
  for (const auto& status : DataFiles(data_dir)) {
    if (status.split != split) continue;
    if (!status.found)
      throw UserError::InFile(status.path.string(), "",
                              "data file for task " + name_ + " (split '" + split +
                                  "') not found; `llada-eval data fetch --tasks " + name_ + "` downloads it");
    // A split may name its own loader (BBH's few-shot prompts are text files).
    const auto& dataset = config_.at("dataset");
    std::string loader = dataset.value("loader", "jsonl");
    if (dataset.contains("split_loaders") && dataset.at("split_loaders").contains(split))
      loader = PromptTemplate(dataset.at("split_loaders").at(split).get<std::string>(), origin_ + ": split_loaders")
                   .Render({}, vars_);
    const std::string password = config_.at("dataset").value("archive_password", "");
    std::vector<Document> docs =
        loaders_.Get(loader)(ReadInputFile(status.path, password), status.path.string());
    // Where each document came from (its record in the file), for messages.
    std::vector<size_t> records(docs.size());
    for (size_t i = 0; i < docs.size(); ++i) records[i] = i + 1;
    // dataset.where: keep the documents whose fields equal the (templated)
    // values -- one MATH subject out of the whole test file.
    if (dataset.contains("where")) {
      std::vector<std::pair<std::string, std::string>> wanted;  // field -> rendered value, once per load
      for (auto it = dataset.at("where").begin(); it != dataset.at("where").end(); ++it)
        wanted.emplace_back(it.key(), PromptTemplate(it.value().get<std::string>(), origin_ + ": dataset.where")
                                          .Render({}, vars_));
      std::vector<Document> kept;
      std::vector<size_t> kept_records;
      for (size_t i = 0; i < docs.size(); ++i) {
        bool keep = true;
        for (const auto& [field, value] : wanted)
          keep = keep && docs[i].contains(field) && PyStr(docs[i].at(field)) == value;
        if (!keep) continue;
        kept.push_back(std::move(docs[i]));
        kept_records.push_back(records[i]);
      }
      docs = std::move(kept);
      records = std::move(kept_records);
    }
    // dataset.split_rows: a split that is a row range of one file, [begin, end)
    // in file order (MBPP's test split is task_ids 11-510 of mbpp.jsonl).
    if (dataset.contains("split_rows") && dataset.at("split_rows").contains(split)) {
      const auto rows = dataset.at("split_rows").at(split).get<std::vector<size_t>>();
      if (rows.size() != 2 || rows[0] > rows[1] || rows[1] > docs.size())
        throw UserError::InFile(status.path.string(), "dataset.split_rows." + split,
                                "expected [begin, end] within the file's " + std::to_string(docs.size()) + " rows");
      docs = std::vector<Document>(docs.begin() + static_cast<long>(rows[0]), docs.begin() + static_cast<long>(rows[1]));
      records = std::vector<size_t>(records.begin() + static_cast<long>(rows[0]), records.begin() + static_cast<long>(rows[1]));
    }
    if (docs.empty()) throw UserError::InFile(status.path.string(), "", "no documents in file");
    if (origins) *origins = {status.path.string(), std::move(records)};
    return docs;
  }
  throw InternalError("split " + split + " not listed for " + name_);
}

void ConfigTask::Load(const std::filesystem::path& data_dir) {
  data_dir_ = data_dir;
  DocumentOrigins origins;
  eval_docs_ = LoadSplit(test_split_, data_dir, &origins);
  // Every document must render (a missing field is a broken data file): say
  // which record of which file now, not after the model has answered them all.
  for (size_t i = 0; i < eval_docs_.size(); ++i) {
    try {
      QuestionText(eval_docs_[i]);
      TargetText(eval_docs_[i]);
      if (request_type_ == RequestType::kLoglikelihood) Choices(eval_docs_[i]);
    } catch (const UserError& e) {
      throw UserError(origins.file + ": record " + std::to_string(origins.records.at(i)) + ": " + e.what());
    } catch (const SampleError&) {
      // A document-level failure the run records against its sample.
    }
  }
  fewshot_docs_.reset();
  draws_.clear();
  rng_.reset();
}

const std::vector<Document>& ConfigTask::FewshotDocs() {
  if (!fewshot_docs_ && config_.contains("fewshot_config") && config_.at("fewshot_config").contains("samples")) {
    // lm-eval's fewshot_config.samples: a fixed list of examples in the config.
    fewshot_docs_ = config_.at("fewshot_config").at("samples").get<std::vector<Document>>();
  }
  if (!fewshot_docs_) {
    if (!fewshot_split_) throw UserError::InFile(origin_, "fewshot_split", "task " + name_ + " has no few-shot split");
    fewshot_docs_ = *fewshot_split_ == test_split_ ? eval_docs_ : LoadSplit(*fewshot_split_, data_dir_);
  }
  return *fewshot_docs_;
}

std::string ConfigTask::RenderText(const PromptTemplate& tmpl, const Document& doc) const {
  return tmpl.Render(doc, vars_);
}

std::vector<std::string> ConfigTask::Choices(const Document& doc) const {
  std::vector<std::string> choices;
  if (choice_field_) {
    nlohmann::json value = choice_field_->Evaluate(doc, vars_);
    if (!value.is_array()) throw UserError::InFile(origin_, "doc_to_choice", "did not produce a list");
    for (const auto& v : value) choices.push_back(PyStr(v));
  } else {
    for (const auto& tmpl : choice_list_) choices.push_back(tmpl.Render(doc, vars_));
  }
  return choices;
}

std::optional<int> ConfigTask::MultipleInputGold(const Document& doc) const {
  if (request_type_ != RequestType::kLoglikelihood) return std::nullopt;
  const nlohmann::json value = doc_to_text_.Evaluate(doc, vars_);
  if (!value.is_number_integer()) return std::nullopt;
  return value.get<int>();
}

int ConfigTask::TargetIndex(const Document& doc) const {
  // lm-eval's multiple-input tasks (WinoGrande): doc_to_text gives the gold index.
  if (auto gold = MultipleInputGold(doc)) {
    if (*gold < 0 || static_cast<size_t>(*gold) >= Choices(doc).size())
      throw SampleError("gold index " + std::to_string(*gold) + " out of range");
    return *gold;
  }
  // lm-eval: a rendered target that is all digits is an index into the choices;
  // otherwise it is looked up among them.
  const std::string target = PyStr(doc_to_target_.Evaluate(doc, vars_));
  const auto choices = Choices(doc);
  if (IsAsciiDigits(target)) {
    int index = std::stoi(target);
    if (index < 0 || static_cast<size_t>(index) >= choices.size())
      throw SampleError("target index " + target + " out of range for " + std::to_string(choices.size()) + " choices");
    return index;
  }
  for (size_t i = 0; i < choices.size(); ++i)
    if (choices[i] == target) return static_cast<int>(i);
  throw SampleError("target '" + target + "' is not one of the choices");
}

std::string ConfigTask::ShotTarget(const Document& example) const {
  // lm-eval's "{% if is_fewshot is defined %}...{% else %}...{% endif %}" targets.
  if (doc_to_target_fewshot_) return doc_to_target_fewshot_->Render(example, vars_);
  return TargetText(example);
}

std::string ConfigTask::TargetText(const Document& doc) const {
  if (choice_list_.empty() && !choice_field_) return PyStr(doc_to_target_.Evaluate(doc, vars_));
  if (MultipleInputGold(doc)) return PyStr(doc_to_target_.Evaluate(doc, vars_));
  return Choices(doc).at(static_cast<size_t>(TargetIndex(doc)));
}

std::string ConfigTask::QuestionText(const Document& doc) const {
  // In a multiple-input example the text is the correct choice (lm-eval's sampler).
  if (MultipleInputGold(doc)) return Choices(doc).at(static_cast<size_t>(TargetIndex(doc)));
  return RenderText(doc_to_text_, doc);
}

void ConfigTask::SetFewshotSeed(uint64_t seed) {
  fewshot_seed_ = seed;
  rng_.reset();  // the draws start again from the new seed
  draws_.clear();
}

std::vector<size_t> ConfigTask::FewshotIndices(size_t doc_index, int num_fewshot, int draws_per_doc) {
  if (num_fewshot <= 0) return {};
  const auto& pool = FewshotDocs();
  const Document& doc = eval_docs_.at(doc_index);
  // lm-eval draws one extra when the few-shot and test splits coincide, so the
  // document itself can be dropped.
  const uint64_t n = static_cast<uint64_t>(num_fewshot) + (fewshot_split_ && *fewshot_split_ == test_split_ ? 1 : 0);
  if (n > pool.size())
    throw UserError(name_ + ": " + std::to_string(num_fewshot) + " few-shot examples requested but " +
                    (fewshot_split_ ? "the '" + *fewshot_split_ + "' split" : std::string("its fixed sample list")) +
                    " has only " + std::to_string(pool.size()));
  std::vector<uint64_t> drawn;
  if (sampler_ == "first_n") {
    for (uint64_t i = 0; i < n; ++i) drawn.push_back(i);
  } else {
    if (!rng_ || rng_draw_size_ != static_cast<int>(n)) {
      rng_ = std::make_unique<PyRandom>(fewshot_seed_);
      rng_draw_size_ = static_cast<int>(n);
      draws_.clear();
    }
    const size_t call = (doc_index + 1) * static_cast<size_t>(draws_per_doc) - 1;
    while (draws_.size() <= call) draws_.push_back(rng_->SampleIndices(pool.size(), n));
    drawn = draws_[call];
  }
  std::vector<size_t> selected;
  for (uint64_t index : drawn) {
    if (pool[index] == doc) continue;
    if (selected.size() < static_cast<size_t>(num_fewshot)) selected.push_back(index);
  }
  return selected;
}

std::string ConfigTask::FewshotText(const std::vector<size_t>& shots) {
  std::string text;
  for (size_t shot : shots) {
    const Document& example = FewshotDocs()[shot];
    text += QuestionText(example);
    const std::string target = ShotTarget(example);
    if (!target.empty()) text += target_delimiter_ + target + fewshot_delimiter_;
  }
  return text;
}

// lm-eval's ConfigurableTask.fewshot_context (v0.4.8), for string prompts.
std::string ConfigTask::BuildContext(size_t doc_index, const PromptOptions& options, const std::string& question) {
  const Document& doc = eval_docs_[doc_index];
  const std::string description = description_ ? description_->Render(doc, vars_) : std::string();
  std::string system_prompt = description;
  if (options.system_instruction)
    system_prompt = description.empty() ? *options.system_instruction
                                        : *options.system_instruction + fewshot_delimiter_ + description;
  if (!options.chat_template) {
    // Plain text: the random sampler's draws are consumed one per document.
    return system_prompt + FewshotText(FewshotIndices(doc_index, options.num_fewshot)) + question;
  }
  std::vector<ChatMessage> messages;
  // A template without a system role: lm-eval renders again without the
  // system turn (description and system instruction are lost, as there).
  if (!system_prompt.empty() && options.chat_template->has_system_role()) messages.push_back({"system", system_prompt});
  if (options.num_fewshot > 0) {
    if (options.fewshot_as_multiturn) {
      for (size_t shot : FewshotIndices(doc_index, options.num_fewshot)) {
        const Document& example = FewshotDocs()[shot];
        messages.push_back({"user", QuestionText(example)});
        messages.push_back({"assistant", ShotTarget(example)});
      }
    } else {
      messages.push_back({"user", FewshotText(FewshotIndices(doc_index, options.num_fewshot, /*draws_per_doc=*/2))});
    }
  }
  // append_target_question: a new user turn unless the last one is a user turn.
  if (!options.fewshot_as_multiturn && !messages.empty() && messages.back().role == "user")
    messages.back().content += question;
  else
    messages.push_back({"user", question});
  return options.chat_template->Render(messages, /*add_generation_prompt=*/true);
}

std::vector<Request> ConfigTask::BuildRequests(size_t doc_index, const PromptOptions& options) {
  if (doc_index >= eval_docs_.size()) throw InternalError("document index out of range in " + name_);
  const Document& doc = eval_docs_[doc_index];
  std::vector<Request> requests;
  if (request_type_ == RequestType::kLoglikelihood) {
    // Under a chat template lm-eval drops the target delimiter: the answer
    // follows the assistant header directly.
    const std::string delimiter = options.chat_template ? "" : target_delimiter_;
    const auto choices = Choices(doc);
    // Multiple input (WinoGrande): one context per choice, one shared
    // continuation. FewshotIndices is a function of the document index, so
    // every choice's context holds the same examples.
    const bool multiple_input = MultipleInputGold(doc).has_value();
    const std::string shared_context = multiple_input ? "" : BuildContext(doc_index, options, RenderText(doc_to_text_, doc));
    const std::optional<ChoiceRanking> ranking = Ranking();
    for (size_t i = 0; i < choices.size(); ++i) {
      Request request;
      request.type = RequestType::kLoglikelihood;
      request.origin = {name_, static_cast<int64_t>(doc_index), static_cast<int>(i)};
      if (ranking) {
        request.ranking = ranking;
        request.ranking->normalizer = static_cast<double>(CodePointLength(choices[i]));
      }
      if (multiple_input) {
        request.context = BuildContext(doc_index, options, choices[i]);
        request.continuation = delimiter + PyStr(doc_to_target_.Evaluate(doc, vars_));
      } else {
        request.context = shared_context;
        request.continuation = delimiter + choices[i];
      }
      requests.push_back(std::move(request));
    }
  } else {
    Request request;
    request.type = RequestType::kGenerateUntil;
    request.context = BuildContext(doc_index, options, RenderText(doc_to_text_, doc));
    request.until = until_;
    request.max_gen_toks = max_gen_toks_;
    for (int sample = 0; sample < repeats_; ++sample) {
      request.origin = {name_, static_cast<int64_t>(doc_index), sample};
      request.sample_index = sample;
      requests.push_back(request);
    }
  }
  return requests;
}

DocumentScore ConfigTask::Score(size_t doc_index, const std::vector<Response>& responses,
                                const ScoringContext& context) const {
  const Document& doc = eval_docs_.at(doc_index);
  DocumentScore score;
  if (request_type_ == RequestType::kLoglikelihood) {
    ChoiceOutcome outcome;
    outcome.choices = Choices(doc);
    outcome.gold = TargetIndex(doc);
    if (doc_to_labels_) {
      const nlohmann::json labels = doc_to_labels_->Evaluate(doc, vars_);
      if (!labels.is_array()) throw SampleError("doc_to_labels did not produce a list");
      for (const auto& label : labels) outcome.labels.push_back(label.get<int>());
    }
    if (responses.size() != outcome.choices.size())
      throw InternalError(name_ + ": expected one response per choice");
    for (const auto& response : responses) {
      outcome.loglikelihoods.push_back(response.loglikelihood);
      outcome.is_greedy.push_back(response.is_greedy);
    }
    score.target = outcome.choices[static_cast<size_t>(outcome.gold)];
    for (const auto& filter : filters_) {
      FilterOutcome result;
      result.filter = filter->name();
      result.answer = outcome.choices[ArgMax(outcome.loglikelihoods)];
      for (const auto& metric : metrics_) result.metrics[metric.reported.metric] = metric.choice->Compute(outcome);
      score.outcomes.push_back(std::move(result));
    }
  } else {
    score.target = TargetText(doc);
    std::vector<std::string> texts;
    for (const auto& response : responses) texts.push_back(response.text);
    // Code tasks: every sample becomes a program (filtered on its own), and
    // the metrics see them all (pass@k), with the reference solution.
    const std::string reference = reference_program_ ? RenderText(*reference_program_, doc) : score.target;
    for (const auto& filter : filters_) {
      FilterOutcome result;
      result.filter = filter->name();
      std::vector<std::string> programs;
      if (program_) {
        for (const auto& text : texts) {
          Document with_completion = doc;
          with_completion["completion"] = filter->Run({text});
          programs.push_back(program_->Render(with_completion, vars_));
        }
        result.answer = programs.at(0);
      } else {
        result.answer = filter->Run(texts);
        programs = {result.answer};
      }
      for (const auto& metric : metrics_) {
        nlohmann::json details;
        try {
          result.metrics[metric.reported.metric] = metric.text->ComputeOverSamples(programs, reference, context, &details);
        } catch (const UnscoredError& e) {
          score.error = e.what();
          score.unscored = true;
        } catch (const SampleError& e) {
          score.error = e.what();
        }
        if (!details.is_null()) result.details[metric.reported.metric] = std::move(details);
      }
      score.outcomes.push_back(std::move(result));
    }
  }
  return score;
}

nlohmann::json ConfigTask::Describe() const {
  nlohmann::json described = config_;
  described["task"] = name_;
  if (!vars_.empty()) described["task_vars"] = vars_;
  return described;
}

nlohmann::json ConfigTask::FewshotInfo() const {
  nlohmann::json info = {{"sampler", sampler_},
                         {"split", fewshot_split_ ? nlohmann::json(*fewshot_split_) : nlohmann::json(nullptr)},
                         {"seed", fewshot_seed_}};
  if (config_.contains("fewshot_config") && config_.at("fewshot_config").contains("samples")) info["split"] = "samples";
  // Where the upstream few-shot split is missing here and another stands in.
  if (config_.contains("fewshot_fallback")) info["fallback"] = config_.at("fewshot_fallback");
  return info;
}

}  // namespace llada
