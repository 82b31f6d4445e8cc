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
//   mistral  Mistral-7B-Instruct v0.1/v0.2: [INST] turns, BOS once, no system
//            role (the prompt builders then leave system turns out, as
//            lm-eval's HFLM does when the template raises on them)
//
// tests/data/text_path.json holds the real templates' renderings (jinja2 via
// transformers) that tests/chat_template_test.cc compares against.
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
  // False when the template rejects a system turn. lm-eval's
  // HFLM.apply_chat_template catches the TemplateError and renders again
  // without system turns; ConfigTask leaves them out the same way.
  virtual bool has_system_role() const { return true; }
};

std::vector<std::string> KnownChatTemplates();

// Throws UserError listing the known names. `bos_token` overrides the
// family's usual BOS (a detected template uses its tokenizer's).
std::unique_ptr<ChatTemplate> ChatTemplateByName(const std::string& name, const std::string& bos_token = "");

// Recognises a tokenizer_config.json "chat_template" string; nullopt if none fits.
std::optional<std::string> DetectChatTemplate(const std::string& jinja_source);

}  // namespace llada
