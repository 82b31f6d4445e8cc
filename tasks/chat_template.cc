#include "tasks/chat_template.h"

#include "core/errors.h"
#include "core/text.h"

namespace llada {
namespace {

// <|start_header_id|>role<|end_header_id|>\n\n content|trim <|eot_id|>, BOS first.
class HeaderTemplate : public ChatTemplate {
 public:
  HeaderTemplate(const char* name, std::string bos, bool always_add_assistant_header)
      : name_(name), bos_(std::move(bos)), always_header_(always_add_assistant_header) {}
  const char* name() const override { return name_; }
  std::string Render(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const override {
    std::string out;
    for (size_t i = 0; i < messages.size(); ++i) {
      if (i == 0) out += bos_;
      out += "<|start_header_id|>" + messages[i].role + "<|end_header_id|>\n\n" + PyStrip(messages[i].content) +
             "<|eot_id|>";
    }
    if (always_header_ || add_generation_prompt) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
    return out;
  }

 private:
  const char* name_;
  std::string bos_;
  bool always_header_;
};

class ChatMlTemplate : public ChatTemplate {
 public:
  const char* name() const override { return "chatml"; }
  std::string Render(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const override {
    std::string out;
    for (const auto& message : messages) out += "<|im_start|>" + message.role + "\n" + message.content + "<|im_end|>\n";
    if (add_generation_prompt) out += "<|im_start|>assistant\n";
    return out;
  }
};

// Splits off a leading system message (where the template has one); the rest
// must alternate user/assistant.
std::vector<ChatMessage> AlternatingTurns(const std::vector<ChatMessage>& messages, std::string* system,
                                          const ChatTemplate& chat_template) {
  std::vector<ChatMessage> turns(messages.begin(), messages.end());
  if (chat_template.has_system_role() && !turns.empty() && turns.front().role == "system") {
    *system = turns.front().content;
    turns.erase(turns.begin());
  }
  for (size_t i = 0; i < turns.size(); ++i) {
    if ((turns[i].role == "user") != (i % 2 == 0))
      throw UserError(std::string("chat template ") + chat_template.name() +
                      ": conversation roles must alternate user/assistant/user/assistant/...");
  }
  return turns;
}

class Llama2Template : public ChatTemplate {
 public:
  const char* name() const override { return "llama2"; }
  std::string Render(const std::vector<ChatMessage>& messages, bool) const override {
    std::string system;
    const auto turns = AlternatingTurns(messages, &system, *this);
    std::string out;
    for (size_t i = 0; i < turns.size(); ++i) {
      std::string content = turns[i].content;
      if (i == 0 && !system.empty()) content = "<<SYS>>\n" + system + "\n<</SYS>>\n\n" + content;
      if (turns[i].role == "user")
        out += "<s>[INST] " + PyStrip(content) + " [/INST]";
      else
        out += " " + PyStrip(content) + " </s>";
    }
    return out;
  }
};

// Mistral-7B-Instruct v0.1/v0.2's published template: no system role (it
// raises, as roles must alternate from a user turn), contents as they are.
class MistralTemplate : public ChatTemplate {
 public:
  const char* name() const override { return "mistral"; }
  bool has_system_role() const override { return false; }
  std::string Render(const std::vector<ChatMessage>& messages, bool) const override {
    std::string unused;
    const auto turns = AlternatingTurns(messages, &unused, *this);
    std::string out = "<s>";
    for (const auto& turn : turns) out += turn.role == "user" ? "[INST] " + turn.content + " [/INST]" : turn.content + "</s>";
    return out;
  }
};

}  // namespace

std::vector<std::string> KnownChatTemplates() { return {"chatml", "llada", "llama2", "llama3", "mistral"}; }

std::unique_ptr<ChatTemplate> ChatTemplateByName(const std::string& name, const std::string& bos_token) {
  if (name == "llada")
    return std::make_unique<HeaderTemplate>("llada", bos_token.empty() ? "<|startoftext|>" : bos_token, true);
  if (name == "llama3")
    return std::make_unique<HeaderTemplate>("llama3", bos_token.empty() ? "<|begin_of_text|>" : bos_token, false);
  if (name == "chatml") return std::make_unique<ChatMlTemplate>();
  if (name == "llama2") return std::make_unique<Llama2Template>();
  if (name == "mistral") return std::make_unique<MistralTemplate>();
  throw UserError("--chat-template: unknown template '" + name + "' (known: " + Join(KnownChatTemplates(), ", ") + ")");
}

std::optional<std::string> DetectChatTemplate(const std::string& source) {
  auto has = [&](const char* needle) { return source.find(needle) != std::string::npos; };
  if (has("<|start_header_id|>") && has("<|eot_id|>")) return has("add_generation_prompt") ? "llama3" : "llada";
  if (has("<|im_start|>")) return "chatml";
  if (has("<<SYS>>")) return "llama2";
  if (has("[INST]")) return "mistral";
  return std::nullopt;
}

}  // namespace llada
