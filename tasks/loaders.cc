#include "tasks/loaders.h"

#include <cctype>

#include "core/errors.h"
#include "core/file_io.h"
#include "core/py_random.h"
#include "core/text.h"
#include "scorers/math_answer.h"
#include "tasks/template.h"

namespace llada {

void LoaderRegistry::Register(const std::string& name, DocumentLoader loader) {
  if (!loaders_.emplace(name, std::move(loader)).second)
    throw InternalError("loader registered twice: " + name);
}

const DocumentLoader& LoaderRegistry::Get(const std::string& name) const {
  auto it = loaders_.find(name);
  if (it == loaders_.end()) {
    std::vector<std::string> known;
    for (const auto& entry : loaders_) known.push_back(entry.first);
    throw UserError("unknown dataset loader '" + name + "' (known: " + Join(known, ", ") + ")");
  }
  return it->second;
}

std::vector<std::vector<std::string>> ParseCsv(const std::string& bytes, const std::string& file_name) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  bool in_quotes = false, field_started = false;
  size_t line = 1, quote_line = 0;
  size_t pos = 0;
  if (StartsWith(bytes, "\xEF\xBB\xBF")) pos = 3;  // UTF-8 byte order mark
  auto end_field = [&] {
    row.push_back(std::move(field));
    field.clear();
    field_started = false;
  };
  for (; pos < bytes.size(); ++pos) {
    char c = bytes[pos];
    if (in_quotes) {
      if (c == '"') {
        if (pos + 1 < bytes.size() && bytes[pos + 1] == '"') {
          field.push_back('"');
          ++pos;
        } else {
          in_quotes = false;
        }
      } else {
        if (c == '\n') ++line;
        field.push_back(c);
      }
      continue;
    }
    if (c == '"' && !field_started) {
      in_quotes = true;
      field_started = true;
      quote_line = line;
    } else if (c == ',') {
      end_field();
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && pos + 1 < bytes.size() && bytes[pos + 1] == '\n') ++pos;
      end_field();
      rows.push_back(std::move(row));
      row.clear();
      ++line;
    } else {
      field.push_back(c);
      field_started = true;
    }
  }
  if (in_quotes)
    throw UserError::InFile(file_name, "line " + std::to_string(quote_line), "unterminated quoted field");
  if (field_started || !row.empty()) {
    end_field();
    rows.push_back(std::move(row));
  }
  return rows;
}

namespace {

std::vector<Document> LoadJsonl(const std::string& bytes, const std::string& file_name) {
  std::vector<Document> docs;
  size_t line_number = 0, pos = 0;
  while (pos < bytes.size()) {
    size_t end = bytes.find('\n', pos);
    if (end == std::string::npos) end = bytes.size();
    ++line_number;
    std::string line = bytes.substr(pos, end - pos);
    pos = end + 1;
    if (PyStrip(line).empty()) continue;
    Document doc = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded() || !doc.is_object())
      throw UserError::InFile(file_name, "line " + std::to_string(line_number),
                              "not a JSON object");
    docs.push_back(std::move(doc));
  }
  return docs;
}

// Original MMLU CSV (no header): question, A, B, C, D, answer letter. Produces
// cais/mmlu's shape: {question, choices: [4], answer: 0..3}.
std::vector<Document> LoadMmluCsv(const std::string& bytes, const std::string& file_name) {
  std::vector<Document> docs;
  const auto rows = ParseCsv(bytes, file_name);
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& row = rows[i];
    const std::string where = "row " + std::to_string(i + 1);
    if (row.size() == 1 && row[0].empty()) continue;  // blank line
    if (row.size() != 6)
      throw UserError::InFile(file_name, where,
                              "expected 6 fields (question,A,B,C,D,answer), found " +
                                  std::to_string(row.size()));
    const std::string& letter = row[5];
    if (letter.size() != 1 || letter[0] < 'A' || letter[0] > 'D')
      throw UserError::InFile(file_name, where + ": answer",
                              "expected a letter A-D, found '" + letter + "'");
    docs.push_back({{"question", row[0]},
                    {"choices", {row[1], row[2], row[3], row[4]}},
                    {"answer", letter[0] - 'A'}});
  }
  return docs;
}

// AI2 ARC's original jsonl ({question: {stem, choices: [{text, label}]},
// answerKey}) into allenai/ai2_arc's shape: {id, question, choices: {text: [...],
// label: [...]}, answerKey}.
std::vector<Document> LoadArcJsonl(const std::string& bytes, const std::string& file_name) {
  std::vector<Document> docs;
  size_t row = 0;
  for (const Document& original : LoadJsonl(bytes, file_name)) {
    ++row;
    const std::string where = "line " + std::to_string(row);
    const auto* question = original.contains("question") ? &original.at("question") : nullptr;
    if (!question || !question->is_object() || !question->contains("stem") || !question->contains("choices") ||
        !original.contains("answerKey"))
      throw UserError::InFile(file_name, where, "expected question.stem, question.choices and answerKey");
    Document doc = {{"id", original.value("id", "")},
                    {"question", question->at("stem")},
                    {"choices", {{"text", nlohmann::json::array()}, {"label", nlohmann::json::array()}}},
                    {"answerKey", original.at("answerKey")}};
    for (const auto& choice : question->at("choices")) {
      if (!choice.contains("text") || !choice.contains("label"))
        throw UserError::InFile(file_name, where + ": question.choices", "each choice needs text and label");
      doc["choices"]["text"].push_back(choice.at("text"));
      doc["choices"]["label"].push_back(choice.at("label"));
    }
    docs.push_back(std::move(doc));
  }
  return docs;
}

// PIQA's original release: <split>.jsonl ({goal, sol1, sol2}) with the labels
// one per line in the sibling <split>-labels.lst. Produces ybisk/piqa's shape
// (label as an int).
std::vector<Document> LoadPiqaJsonl(const std::string& bytes, const std::string& file_name) {
  std::vector<Document> docs = LoadJsonl(bytes, file_name);
  std::string labels_name = file_name;
  const size_t dot = labels_name.rfind(".jsonl");
  if (dot == std::string::npos) throw UserError::InFile(file_name, "", "expected a .jsonl file beside its -labels.lst");
  labels_name = labels_name.substr(0, dot) + "-labels.lst";
  const auto lines = Split(ReadInputFile(labels_name), '\n');
  std::vector<int> labels;
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string label = PyStrip(lines[i]);
    if (label.empty()) continue;
    if (label != "0" && label != "1")
      throw UserError::InFile(labels_name, "line " + std::to_string(i + 1), "expected 0 or 1, found '" + label + "'");
    labels.push_back(label == "1");
  }
  if (labels.size() != docs.size())
    throw UserError::InFile(labels_name, "", std::to_string(labels.size()) + " labels for " +
                                                 std::to_string(docs.size()) + " documents in " + file_name);
  for (size_t i = 0; i < docs.size(); ++i) docs[i]["label"] = labels[i];
  return docs;
}

// TruthfulQA's mc_task.json: [{question, mc1_targets: {answer: 0|1, ...},
// mc2_targets: {...}}] with the answers as object keys, in file order. Produces
// truthful_qa/multiple_choice's shape: {question, mc1_targets: {choices: [...],
// labels: [...]}, mc2_targets: {...}}.
std::vector<Document> LoadTruthfulQaMcJson(const std::string& bytes, const std::string& file_name) {
  // ordered_json: the answers' order is the key order in the file.
  const auto parsed = nlohmann::ordered_json::parse(bytes, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_array()) throw UserError::InFile(file_name, "", "expected a JSON array");
  std::vector<Document> docs;
  for (size_t i = 0; i < parsed.size(); ++i) {
    const auto& item = parsed[i];
    const std::string where = "item " + std::to_string(i);
    if (!item.contains("question") || !item.contains("mc1_targets") || !item.contains("mc2_targets"))
      throw UserError::InFile(file_name, where, "expected question, mc1_targets and mc2_targets");
    Document doc = {{"question", item.at("question").get<std::string>()}};
    for (const char* field : {"mc1_targets", "mc2_targets"}) {
      Document targets = {{"choices", nlohmann::json::array()}, {"labels", nlohmann::json::array()}};
      for (auto it = item.at(field).begin(); it != item.at(field).end(); ++it) {
        targets["choices"].push_back(it.key());
        targets["labels"].push_back(it.value().get<int>());
      }
      doc[field] = std::move(targets);
    }
    docs.push_back(std::move(doc));
  }
  return docs;
}

// lm-eval's hellaswag utils.preprocess: strip, " [title]" -> ". ", drop every
// "[...]" tag (non-greedy, as re.sub("\\[.*?\\]", "")), collapse one level of
// double spaces.
std::string HellaswagPreprocess(const std::string& raw) {
  std::string text = ReplaceAll(PyStrip(raw), " [title]", ". ");
  std::string out;
  for (size_t pos = 0; pos < text.size();) {
    if (text[pos] == '[') {
      const size_t close = text.find_first_of("]\n", pos + 1);
      if (close != std::string::npos && text[close] == ']') {
        pos = close + 1;
        continue;
      }
    }
    out.push_back(text[pos++]);
  }
  return ReplaceAll(out, "  ", " ");
}

Document HellaswagDoc(const std::string& activity_label, const std::string& ctx_a, const std::string& ctx_b,
                      const std::vector<std::string>& endings, int label) {
  Document doc = {{"query", HellaswagPreprocess(activity_label + ": " + ctx_a + " " + PyCapitalize(ctx_b))},
                  {"choices", nlohmann::json::array()},
                  {"label", label}};
  for (const auto& ending : endings) doc["choices"].push_back(HellaswagPreprocess(ending));
  return doc;
}

// HellaSwag, as lm-eval's process_docs shapes it ({query, choices, label}),
// from either the original jsonl (activity_label, ctx_a, ctx_b, endings,
// label) or the derived 6-lines-per-item text of llama.cpp's
// hellaswag_val_full.txt ("label: ctx", gold, 4 endings). The text format has
// lost the ctx_a/ctx_b split that lm-eval capitalises at: it is rebuilt as
// "the fragment after the last '. ' when it starts in lower case" (exact on
// ActivityNet items; WikiHow items may differ in capitalisation).
std::vector<Document> LoadHellaswag(const std::string& bytes, const std::string& file_name) {
  const std::string head = PyStrip(bytes.substr(0, 64));
  std::vector<Document> docs;
  if (!head.empty() && head[0] == '{') {
    size_t row = 0;
    for (const Document& original : LoadJsonl(bytes, file_name)) {
      ++row;
      for (const char* field : {"activity_label", "ctx_a", "ctx_b", "endings", "label"})
        if (!original.contains(field))
          throw UserError::InFile(file_name, "line " + std::to_string(row) + ": " + field, "missing field");
      const auto& label = original.at("label");
      docs.push_back(HellaswagDoc(original.at("activity_label"), original.at("ctx_a"), original.at("ctx_b"),
                                  original.at("endings").get<std::vector<std::string>>(),
                                  label.is_string() ? std::stoi(label.get<std::string>()) : label.get<int>()));
    }
    return docs;
  }
  std::vector<std::string> lines = Split(bytes, '\n');
  while (!lines.empty() && lines.back().empty()) lines.pop_back();
  if (lines.size() % 6 != 0)
    throw UserError::InFile(file_name, "", "expected 6 lines per item, found " + std::to_string(lines.size()) + " lines");
  for (size_t i = 0; i < lines.size(); i += 6) {
    const std::string where = "line " + std::to_string(i + 1);
    const std::string& first = lines[i];
    const size_t colon = first.find(": ");
    if (colon == std::string::npos) throw UserError::InFile(file_name, where, "expected 'activity label: context'");
    if (!IsAsciiDigits(lines[i + 1]) || lines[i + 1].size() != 1 || lines[i + 1][0] > '3')
      throw UserError::InFile(file_name, "line " + std::to_string(i + 2), "expected the gold label 0-3");
    const std::string label = first.substr(0, colon), ctx = first.substr(colon + 2);
    std::string ctx_a = ctx, ctx_b;
    const size_t cut = ctx.rfind(". ");
    if (cut != std::string::npos && cut + 2 < ctx.size() && std::islower(static_cast<unsigned char>(ctx[cut + 2]))) {
      ctx_a = ctx.substr(0, cut + 1);
      ctx_b = ctx.substr(cut + 2);
    }
    docs.push_back(HellaswagDoc(label, ctx_a, ctx_b, {lines[i + 2], lines[i + 3], lines[i + 4], lines[i + 5]},
                                lines[i + 1][0] - '0'));
  }
  return docs;
}

// WinoGrande for lm-eval's partial scoring, {contexts: [2], continuation,
// gold}: from the original jsonl ({sentence, option1, option2, answer "1"|"2"},
// as lm-eval's partial_context/partial_target cut it at the "_"), or from
// llm-foundry's {context_options, continuation, gold}.
std::vector<Document> LoadWinogrande(const std::string& bytes, const std::string& file_name) {
  std::vector<Document> docs;
  size_t row = 0;
  for (const Document& original : LoadJsonl(bytes, file_name)) {
    const std::string where = "line " + std::to_string(++row);
    if (original.contains("context_options")) {
      if (!original.contains("continuation") || !original.contains("gold"))
        throw UserError::InFile(file_name, where, "expected context_options, continuation and gold");
      docs.push_back({{"contexts", original.at("context_options")},
                      {"continuation", original.at("continuation")},
                      {"gold", original.at("gold")}});
      continue;
    }
    for (const char* field : {"sentence", "option1", "option2", "answer"})
      if (!original.contains(field)) throw UserError::InFile(file_name, where + ": " + std::string(field), "missing field");
    const std::string sentence = original.at("sentence");
    const size_t blank = sentence.find('_');
    if (blank == std::string::npos) throw UserError::InFile(file_name, where + ": sentence", "no '_' blank");
    const std::string answer = PyStr(original.at("answer"));
    if (answer != "1" && answer != "2") throw UserError::InFile(file_name, where + ": answer", "expected \"1\" or \"2\"");
    const std::string prefix = sentence.substr(0, blank);
    docs.push_back({{"contexts", {prefix + original.at("option1").get<std::string>(),
                                  prefix + original.at("option2").get<std::string>()}},
                    {"continuation", PyStrip(sentence.substr(blank + 1))},
                    {"gold", answer == "1" ? 0 : 1}});
  }
  return docs;
}

// BIG-Bench Hard's task files: {"canary", "examples": [{input, target}]}.
std::vector<Document> LoadBbhJson(const std::string& bytes, const std::string& file_name) {
  const Document parsed = nlohmann::json::parse(bytes, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object() || !parsed.contains("examples") || !parsed.at("examples").is_array())
    throw UserError::InFile(file_name, "examples", "expected a JSON object with an \"examples\" list");
  std::vector<Document> docs;
  for (size_t i = 0; i < parsed.at("examples").size(); ++i) {
    const auto& example = parsed.at("examples")[i];
    if (!example.contains("input") || !example.contains("target"))
      throw UserError::InFile(file_name, "examples[" + std::to_string(i) + "]", "expected input and target");
    docs.push_back({{"input", example.at("input")}, {"target", example.at("target")}});
  }
  return docs;
}

// BIG-Bench Hard's cot-prompts/<task>.txt: a canary line, "-----", the task
// description, then "Q: <input>\nA: <answer>" examples separated by blank
// lines. Produces lm-eval's fewshot_config.samples ({input, target}). lm-eval's
// YAMLs take the whole answer as the target ("Let's think step by step.\n..."),
// except boolean_expressions.yaml, whose targets start after that lead line:
// `skip_lead` reproduces it.
std::vector<Document> ParseBbhCotPrompt(const std::string& bytes, const std::string& file_name, bool skip_lead) {
  const std::string separator = "-----\n", answer = "\nA: ", lead = "Let's think step by step.\n";
  const size_t start = bytes.find(separator);
  if (start == std::string::npos) throw UserError::InFile(file_name, "", "no '-----' line after the canary");
  const std::string body = PyRStrip(bytes.substr(start + separator.size()));
  std::vector<Document> docs;
  size_t pos = body.find("\n\nQ: ");
  while (pos != std::string::npos) {
    const size_t begin = pos + 5;  // after "\n\nQ: "
    const size_t next = body.find("\n\nQ: ", begin);
    const std::string example = body.substr(begin, next == std::string::npos ? std::string::npos : next - begin);
    const std::string where = "example " + std::to_string(docs.size() + 1);
    const size_t cut = example.find(answer);
    if (cut == std::string::npos) throw UserError::InFile(file_name, where, "no \"A: \" line");
    std::string target = example.substr(cut + answer.size());
    if (skip_lead) {
      if (!StartsWith(target, lead)) throw UserError::InFile(file_name, where, "the answer does not start with \"" + lead + "\"");
      target = target.substr(lead.size());
    }
    docs.push_back({{"input", example.substr(0, cut)}, {"target", target}});
    pos = next;
  }
  return docs;
}

// MATH's jsonl ({problem, level, type, solution}) through lm-eval's
// minerva_math process_docs: answer = normalize_final_answer(remove_boxed(
// last_boxed_only_string(solution))).
std::vector<Document> LoadMathJsonl(const std::string& bytes, const std::string& file_name) {
  std::vector<Document> docs = LoadJsonl(bytes, file_name);
  for (size_t i = 0; i < docs.size(); ++i) {
    if (!docs[i].contains("problem") || !docs[i].contains("solution"))
      throw UserError::InFile(file_name, "line " + std::to_string(i + 1), "expected problem and solution");
    const auto boxed = LastBoxedOnlyString(docs[i]["solution"].get<std::string>());
    if (!boxed) throw UserError::InFile(file_name, "line " + std::to_string(i + 1) + ": solution", "no \\boxed answer");
    docs[i]["answer"] = NormalizeFinalAnswer(RemoveBoxed(*boxed));
  }
  return docs;
}

// A JSON array of objects (the reversal-poem couplets).
std::vector<Document> LoadJsonArray(const std::string& bytes, const std::string& file_name) {
  const Document parsed = nlohmann::json::parse(bytes, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_array()) throw UserError::InFile(file_name, "", "expected a JSON array");
  std::vector<Document> docs;
  for (size_t i = 0; i < parsed.size(); ++i) {
    if (!parsed[i].is_object()) throw UserError::InFile(file_name, "[" + std::to_string(i) + "]", "expected an object");
    docs.push_back(parsed[i]);
  }
  return docs;
}

// CSV with a header row (CMMLU, C-Eval, GPQA): one document per row, keyed by
// the header's names; an unnamed column (CMMLU's row index) is dropped.
std::vector<Document> LoadCsvWithHeader(const std::string& bytes, const std::string& file_name) {
  const auto rows = ParseCsv(bytes, file_name);
  if (rows.empty()) throw UserError::InFile(file_name, "", "empty CSV: expected a header row");
  const auto& header = rows[0];
  std::vector<Document> docs;
  for (size_t i = 1; i < rows.size(); ++i) {
    const auto& row = rows[i];
    if (row.size() == 1 && row[0].empty()) continue;  // blank line
    if (row.size() != header.size())
      throw UserError::InFile(file_name, "row " + std::to_string(i + 1),
                              "expected " + std::to_string(header.size()) + " fields as in the header, found " +
                                  std::to_string(row.size()));
    Document doc = nlohmann::json::object();
    for (size_t c = 0; c < header.size(); ++c)
      if (!header[c].empty()) doc[header[c]] = row[c];
    docs.push_back(std::move(doc));
  }
  return docs;
}

// GPQA's CSV through lm-eval's gpqa utils.process_docs: the four answers
// (preprocessed as HellaSwag's) shuffled by one module-level
// random.Random(42), document after document in file order; the gold is the
// letter where the correct answer landed. The original columns stay.
std::vector<Document> LoadGpqaCsv(const std::string& bytes, const std::string& file_name) {
  std::vector<Document> docs = LoadCsvWithHeader(bytes, file_name);
  PyRandom rng(42);
  for (size_t i = 0; i < docs.size(); ++i) {
    Document& doc = docs[i];
    for (const char* field : {"Question", "Correct Answer", "Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3"})
      if (!doc.contains(field)) throw UserError::InFile(file_name, "row " + std::to_string(i + 2) + ": " + field, "missing column");
    const std::vector<std::string> answers = {
        HellaswagPreprocess(doc["Incorrect Answer 1"]), HellaswagPreprocess(doc["Incorrect Answer 2"]),
        HellaswagPreprocess(doc["Incorrect Answer 3"]), HellaswagPreprocess(doc["Correct Answer"])};
    std::vector<uint64_t> order = {0, 1, 2, 3};
    rng.Shuffle(order);
    size_t correct = 0;
    for (size_t slot = 0; slot < 4; ++slot) {
      doc["choice" + std::to_string(slot + 1)] = answers[order[slot]];
    }
    // choices.index(correct): the first slot holding the correct answer's text.
    for (size_t slot = 0; slot < 4; ++slot)
      if (answers[order[slot]] == answers[3]) {
        correct = slot;
        break;
      }
    doc["answer"] = std::string("(") + static_cast<char>('A' + correct) + ")";
  }
  return docs;
}

}  // namespace

void RegisterBuiltinLoaders(LoaderRegistry& registry) {
  registry.Register("jsonl", LoadJsonl);
  registry.Register("mmlu_csv", LoadMmluCsv);
  registry.Register("arc_jsonl", LoadArcJsonl);
  registry.Register("csv", LoadCsvWithHeader);
  registry.Register("hellaswag", LoadHellaswag);
  registry.Register("bbh_json", LoadBbhJson);
  registry.Register("bbh_cot_prompt", [](const std::string& bytes, const std::string& file_name) {
    return ParseBbhCotPrompt(bytes, file_name, /*skip_lead=*/false);
  });
  registry.Register("bbh_cot_prompt_after_lead", [](const std::string& bytes, const std::string& file_name) {
    return ParseBbhCotPrompt(bytes, file_name, /*skip_lead=*/true);
  });
  registry.Register("winogrande", LoadWinogrande);
  registry.Register("gpqa_csv", LoadGpqaCsv);
  registry.Register("math_jsonl", LoadMathJsonl);
  registry.Register("json_array", LoadJsonArray);
  registry.Register("piqa_jsonl", LoadPiqaJsonl);
  registry.Register("truthfulqa_mc_json", LoadTruthfulQaMcJson);
}

}  // namespace llada
