// Chat templates against the Jinja templates they reproduce, and lm-eval's
// chat-mode prompt assembly (--apply_chat_template, --fewshot_as_multiturn).
#include "tasks/chat_template.h"

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>

#include "core/errors.h"
#include "core/file_io.h"
#include "core/text.h"
#include "scorers/registry.h"
#include "tasks/config_task.h"
#include "tasks/registry.h"
#include "tests/test_util.h"

namespace llada {
namespace {

// Each template against the real one's rendering (jinja2 through transformers
// v4.39.0's apply_chat_template, tests/reference/text_path.py) of the
// chat_template in a real tokenizer_config.json: LLaDA's and Qwen3's from
// ../shared, Llama-2-chat's and Mistral-7B-Instruct's as published. Where the
// real template raises, ours throws UserError.
TEST(ChatTemplateTest, RendersAsTheRealTemplates) {
  const auto reference =
      nlohmann::json::parse(ReadInputFile(testing::SourceDir() / "tests" / "data" / "text_path.json"));
  std::map<std::string, size_t> checked;
  for (const auto& record : reference.at("chat")) {
    const std::string name = record.at("template");
    std::vector<ChatMessage> messages;
    for (const auto& message : record.at("messages")) messages.push_back({message.at("role"), message.at("content")});
    const bool add_generation_prompt = record.at("add_generation_prompt");
    const std::string where = name + " (" + record.at("source").get<std::string>() + ") on " +
                              record.at("messages").dump() + (add_generation_prompt ? " + generation prompt" : "");
    const auto chat_template = ChatTemplateByName(name);
    if (record.contains("error")) {
      const std::string message = testing::UserErrorOf([&] { chat_template->Render(messages, add_generation_prompt); });
      EXPECT_NE(message.find("roles must alternate"), std::string::npos) << where << ": " << message;
    } else {
      EXPECT_EQ(chat_template->Render(messages, add_generation_prompt), record.at("text").get<std::string>()) << where;
    }
    ++checked[name];
  }
  EXPECT_EQ(checked, (std::map<std::string, size_t>{{"chatml", 8}, {"llada", 8}, {"llama2", 8}, {"mistral", 8}}));
}

// Llama-3-Instruct's template is LLaDA's with the assistant header only on
// request (no Llama-3-Instruct tokenizer_config.json in ../shared: the
// "llama3" one there carries LLaDA's template).
TEST(ChatTemplateTest, Llama3AddsTheAssistantHeaderOnlyWhenAsked) {
  const std::vector<ChatMessage> conversation = {
      {"system", "Be brief. "}, {"user", " 2+2? "}, {"assistant", "4"}, {"user", "3+3?"}};
  const auto llama3 = ChatTemplateByName("llama3"), llada = ChatTemplateByName("llada", "<|begin_of_text|>");
  EXPECT_EQ(llama3->Render(conversation, true), llada->Render(conversation, true));
  const std::string header = "<|start_header_id|>assistant<|end_header_id|>\n\n";
  EXPECT_EQ(llama3->Render(conversation, false) + header, llama3->Render(conversation, true));
}

TEST(ChatTemplateTest, OnlyMistralHasNoSystemRole) {
  for (const auto& name : KnownChatTemplates())
    EXPECT_EQ(ChatTemplateByName(name)->has_system_role(), name != "mistral") << name;
}

TEST(ChatTemplateTest, UnknownNameListsTheKnownOnes) {
  try {
    ChatTemplateByName("vicuna");
    FAIL() << "expected UserError";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("chatml, llada, llama2, llama3, mistral"), std::string::npos) << e.what();
  }
}

TEST(ChatTemplateTest, DetectsTheTemplatesOfRealTokenizerConfigs) {
  LLADA_REQUIRE_SHARED();
  auto detect = [](const std::string& dir) {
    const auto config =
        nlohmann::json::parse(ReadInputFile(testing::SharedDir() / "tokenizers" / dir / "tokenizer_config.json"));
    return DetectChatTemplate(config.value("chat_template", std::string()));
  };
  EXPECT_EQ(detect("llada-8b-base-partial"), "llada");
  EXPECT_EQ(detect("llama3"), "llada");  // this early Llama-3 revision carries LLaDA's exact template
  EXPECT_EQ(detect("qwen3"), "chatml");
  EXPECT_EQ(detect("llama2"), std::nullopt);  // its tokenizer_config.json has no chat_template
  EXPECT_EQ(DetectChatTemplate("{{ bos_token }}{% for m in messages %}[INST] {{ m['content'] }} [/INST]{% endfor %}"),
            "mistral");
}

class ChatPromptTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RegisterBuiltinLoaders(loaders_);
    RegisterBuiltinTasks(registry_, testing::SourceDir() / "configs", loaders_, BuiltinScorers());
  }
  std::unique_ptr<Task> Load(const std::string& name, const std::filesystem::path& data) {
    auto task = registry_.CreateTask(name);
    task->Load(data);
    return task;
  }
  LoaderRegistry loaders_;
  TaskRegistry registry_;
};

TEST_F(ChatPromptTest, MultipleChoiceDescriptionBecomesSystemAndDelimiterIsDropped) {
  auto task = Load("mmlu_astronomy", testing::SourceDir() / "samples" / "data");
  const auto tmpl = ChatTemplateByName("chatml");
  PromptOptions options;
  options.num_fewshot = 1;
  options.chat_template = tmpl.get();
  const auto requests = task->BuildRequests(0, options);
  ASSERT_EQ(requests.size(), 4u);
  EXPECT_EQ(requests[0].context,
            "<|im_start|>system\nThe following are multiple choice questions (with answers) about astronomy.\n\n"
            "<|im_end|>\n<|im_start|>user\nWhich planet in the Solar System has the shortest orbital period?\n"
            "A. Mercury\nB. Venus\nC. Earth\nD. Mars\nAnswer: A\n\nWhich gas makes up most of Jupiter's atmosphere "
            "by volume?\nA. Oxygen\nB. Hydrogen\nC. Nitrogen\nD. Carbon dioxide\nAnswer:<|im_end|>\n"
            "<|im_start|>assistant\n");
  EXPECT_EQ(requests[1].continuation, "B");
  // A system instruction goes before the description, joined by the few-shot delimiter.
  options.system_instruction = "Answer with a letter.";
  options.chat_template = nullptr;
  EXPECT_EQ(task->BuildRequests(0, options)[0].context.rfind("Answer with a letter.\n\nThe following are", 0), 0u);
}

// lm-eval's get_chat_context samples once, then get_context samples again:
// in single-turn chat mode document 0 shows the examples of the second
// rnd.sample() of Random(1234) -- in plain mode document 1's draw -- while
// multi-turn mode and plain text show the first (golden/lmeval/fewshot_draws.json).
TEST_F(ChatPromptTest, RandomSamplerDrawsTwicePerDocumentInSingleTurnChatMode) {
  LLADA_REQUIRE_SHARED();
  const auto draws =
      nlohmann::json::parse(ReadInputFile(testing::SharedDir() / "golden" / "lmeval" / "fewshot_draws.json"))
          .at("tasks")
          .at("gsm8k/gsm8k")
          .at("selected");
  std::vector<std::string> train_questions;
  for (const auto& line : Split(ReadInputFile(testing::SharedDir() / "data" / "gsm8k" / "train.jsonl.gz"), '\n'))
    if (!line.empty()) train_questions.push_back(nlohmann::json::parse(line).at("question"));
  // The examples of `draw`, each as lm-eval renders a shot ("Question: ...\nAnswer: ..."),
  // must appear in `prompt` in that order.
  auto expect_shots = [&](const std::string& prompt, const nlohmann::json& draw, const std::string& mode) {
    size_t at = 0;
    for (size_t index : draw.get<std::vector<size_t>>()) {
      const size_t found = prompt.find("Question: " + train_questions.at(index) + "\nAnswer:", at);
      ASSERT_NE(found, std::string::npos) << mode << ": train example " << index << " missing or out of order";
      at = found + 1;
    }
  };
  auto task = Load("gsm8k", testing::SharedDir() / "data");
  const auto tmpl = ChatTemplateByName("chatml");
  const std::string plain = task->BuildRequests(0, PromptOptions{5, nullptr, std::nullopt, false})[0].context;
  const std::string single = task->BuildRequests(0, PromptOptions{5, tmpl.get(), std::nullopt, false})[0].context;
  const std::string multi = task->BuildRequests(0, PromptOptions{5, tmpl.get(), std::nullopt, true})[0].context;
  expect_shots(plain, draws.at(0), "plain");
  expect_shots(single, draws.at(1), "single-turn chat");
  expect_shots(multi, draws.at(0), "multi-turn chat");
  EXPECT_EQ(testing::CountOccurrences(single, "<|im_start|>assistant\n"), 1);  // one turn
  EXPECT_EQ(testing::CountOccurrences(multi, "<|im_start|>assistant\n"), 6);   // five examples + the generation prompt
}

// A template without a system role (Mistral-Instruct): the description and the
// system instruction are left out, as lm-eval's HFLM renders again without
// the system turn when the template raises on it.
TEST_F(ChatPromptTest, TemplatesWithoutASystemRoleLeaveTheSystemTurnOut) {
  auto task = Load("mmlu_astronomy", testing::SourceDir() / "samples" / "data");
  const auto mistral = ChatTemplateByName("mistral");
  PromptOptions options{0, mistral.get(), std::string("Answer with a letter."), false};
  EXPECT_EQ(task->BuildRequests(0, options)[0].context,
            "<s>[INST] Which gas makes up most of Jupiter's atmosphere by volume?\nA. Oxygen\nB. Hydrogen\n"
            "C. Nitrogen\nD. Carbon dioxide\nAnswer: [/INST]");
}

}  // namespace
}  // namespace llada
