// `llada-eval tokenize`: encode stdin lines (or decode id arrays) with a tokenizer.json.
#include <iostream>

#include "core/errors.h"
#include "harness/cli/command.h"
#include "models/tokenizer/tokenizer.h"

namespace llada {
namespace {

class TokenizeCommand : public Command {
 public:
  CLI::App* Add(CLI::App& app) override {
    auto* tokenize = app.add_subcommand("tokenize", "Encode stdin lines (or decode id arrays) with a tokenizer.json");
    tokenize->add_option("--tokenizer", path_, "A tokenizer.json, or a directory holding one")->required();
    tokenize->add_flag("--jsonl", jsonl_, "Each input line is a JSON string (texts may hold newlines)");
    tokenize->add_flag("--add-special-tokens", add_special_, "Apply the post-processor (e.g. add BOS)");
    tokenize->add_flag("--decode", decode_, "Read JSON id arrays and print {\"text\": ...}");
    tokenize->add_flag("--skip-special-tokens", skip_special_, "With --decode: drop special tokens");
    return tokenize;
  }

  // One JSON object per input line: {"ids": [...]} or, with --decode, {"text": ...}.
  int Run(CommandContext&) override {
    const auto tokenizer = Tokenizer::Load(path_);
    std::string line;
    for (size_t number = 1; std::getline(std::cin, line); ++number) {
      const std::string where = "stdin line " + std::to_string(number);
      if (decode_) {
        const nlohmann::json ids = nlohmann::json::parse(line, nullptr, false);
        if (ids.is_discarded() || !ids.is_array()) throw UserError(where + ": expected a JSON array of token ids");
        std::cout << nlohmann::json({{"text", tokenizer->Decode(ids.get<std::vector<int32_t>>(), skip_special_)}})
                         .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
                  << "\n";
        continue;
      }
      std::string text = line;
      if (jsonl_) {
        const nlohmann::json value = nlohmann::json::parse(line, nullptr, false);
        if (value.is_discarded() || !value.is_string()) throw UserError(where + ": expected a JSON string");
        text = value.get<std::string>();
      }
      std::cout << nlohmann::json({{"ids", tokenizer->Encode(text, add_special_)}}).dump() << "\n";
    }
    return kExitOk;
  }

 private:
  std::string path_;
  bool jsonl_ = false, add_special_ = false, decode_ = false, skip_special_ = false;
};

}  // namespace

std::unique_ptr<Command> MakeTokenizeCommand() { return std::make_unique<TokenizeCommand>(); }

}  // namespace llada
