// Chat templates against the Jinja templates they reproduce, and lm-eval's
// chat-mode prompt assembly (--apply_chat_template, --fewshot_as_multiturn).
#include "tasks/chat_template.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/errors.h"
#include "core/file_io.h"
#include "scorers/registry.h"
#include "tasks/config_task.h"
#include "tasks/registry.h"
#include "tests/test_util.h"

namespace llada {
namespace {

const std::vector<ChatMessage> kConversation = {
    {"system", "Be brief. "}, {"user", " 2+2? "}, {"assistant", "4"}, {"user", "3+3?"}};

TEST(ChatTemplateTest, LladaTrimsAndAlwaysAddsTheAssistantHeader) {
  const auto tmpl = ChatTemplateByName("llada");
  EXPECT_EQ(tmpl->Render({{"user", " What is 1+1?\n"}}, false),
            "<|startoftext|><|start_header_id|>user<|end_header_id|>\n\nWhat is 1+1?<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

TEST(ChatTemplateTest, Llama3AddsTheAssistantHeaderOnlyWhenAsked) {
  const auto tmpl = ChatTemplateByName("llama3");
  const std::string body =
      "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
      "<|start_header_id|>user<|end_header_id|>\n\n2+2?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n4"
      "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n3+3?<|eot_id|>";
  EXPECT_EQ(tmpl->Render(kConversation, false), body);
  EXPECT_EQ(tmpl->Render(kConversation, true), body + "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

TEST(ChatTemplateTest, ChatMl) {
  EXPECT_EQ(ChatTemplateByName("chatml")->Render(kConversation, true),
            "<|im_start|>system\nBe brief. <|im_end|>\n<|im_start|>user\n 2+2? <|im_end|>\n"
            "<|im_start|>assistant\n4<|im_end|>\n<|im_start|>user\n3+3?<|im_end|>\n<|im_start|>assistant\n");
}

TEST(ChatTemplateTest, Llama2AndMistralInstFormats) {
  EXPECT_EQ(ChatTemplateByName("llama2")->Render(kConversation, true),
            "<s>[INST] <<SYS>>\nBe brief. \n<</SYS>>\n\n 2+2? [/INST] 4 </s><s>[INST] 3+3? [/INST]");
  EXPECT_EQ(ChatTemplateByName("mistral")->Render(kConversation, true),
            "<s>[INST] Be brief. \n\n 2+2?  [/INST]4</s>[INST] 3+3? [/INST]");
  EXPECT_THROW(ChatTemplateByName("llama2")->Render({{"assistant", "x"}}, true), UserError);
  EXPECT_THROW(ChatTemplateByName("mistral")->Render({{"user", "a"}, {"user", "b"}}, true), UserError);
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
    const auto config = nlohmann::json::parse(ReadInputFile(testing::SharedDir() / "tokenizers" / dir / "tokenizer_config.json"));
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

TEST_F(ChatPromptTest, RandomSamplerDrawsTwicePerDocumentInSingleTurnChatMode) {
  LLADA_REQUIRE_SHARED();
  // lm-eval's get_chat_context samples once, then get_context samples again:
  // document 0 gets the second rnd.sample() of Random(1234), which in plain
  // mode is document 1's draw (golden/lmeval: [7462, 6610, 4769, 286, 5501]).
  auto task = Load("gsm8k", testing::SharedDir() / "data");
  auto* config_task = dynamic_cast<ConfigTask*>(task.get());
  ASSERT_NE(config_task, nullptr);
  EXPECT_EQ(config_task->FewshotIndices(0, 5, 2), (std::vector<size_t>{7462, 6610, 4769, 286, 5501}));
  const auto tmpl = ChatTemplateByName("chatml");
  PromptOptions single_turn{5, tmpl.get(), std::nullopt, false};
  PromptOptions multi_turn{5, tmpl.get(), std::nullopt, true};
  const std::string single = task->BuildRequests(0, single_turn)[0].context;
  const std::string multi = task->BuildRequests(0, multi_turn)[0].context;
  EXPECT_EQ(single.find("<|im_start|>assistant\n"), single.rfind("<|im_start|>assistant\n"));  // one turn
  size_t assistant_turns = 0;
  for (size_t pos = multi.find("<|im_start|>assistant\n"); pos != std::string::npos;
       pos = multi.find("<|im_start|>assistant\n", pos + 1))
    ++assistant_turns;
  EXPECT_EQ(assistant_turns, 6u);  // five examples plus the generation prompt
  EXPECT_NE(single, multi);
}

}  // namespace
}  // namespace llada
