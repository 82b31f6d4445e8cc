// Chat templates of the model families people evaluate, written out in C++
// (no general Jinja engine): each reproduces its tokenizer_config.json
// template's output for plain conversations (system/user/assistant turns).
//
//   llada    LLaDA-8B-Instruct: contents trimmed, BOS on the first turn, the
//            assistant header appended whether or not a generation prompt is
//            asked. Early Llama-3 tokenizer_config.json files carry the same
//            template text (with their own BOS), so they are detected as it too.
//   llama3   Llama-3-Instruct: as llada, the assistant header only when asked
//   chatml   ChatML (Qwen2, Qwen2.5, Qwen3 without tools or reasoning traces)
//   llama2   Llama-2-chat: [INST] with <<SYS>> in the first user turn
//   mistral  Mistral-Instruct: [INST] turns, BOS once; a system message is
//            prepended to the first user turn
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace llada {

struct ChatMessage {
  std::string role;  // "system", "user", "assistant"
  std::string content;
};

class ChatTemplate {
 public:
  virtual ~ChatTemplate() = default;
  virtual const char* name() const = 0;
  // Throws UserError when the conversation breaks the template's rules
  // (e.g. roles that do not alternate in the [INST] formats).
  virtual std::string Render(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const = 0;
};

std::vector<std::string> KnownChatTemplates();

// Throws UserError listing the known names. `bos_token` overrides the
// family's usual BOS (a detected template uses its tokenizer's).
std::unique_ptr<ChatTemplate> ChatTemplateByName(const std::string& name, const std::string& bos_token = "");

// Recognises a tokenizer_config.json "chat_template" string; nullopt if none fits.
std::optional<std::string> DetectChatTemplate(const std::string& jinja_source);

}  // namespace llada
