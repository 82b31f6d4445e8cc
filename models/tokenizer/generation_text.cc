#include "models/tokenizer/generation_text.h"

namespace llada {

std::string CutAtStops(std::string text, const std::vector<std::string>& until) {
  for (const auto& stop : until) {
    if (stop.empty()) continue;
    const size_t at = text.find(stop);
    if (at != std::string::npos) text.resize(at);
  }
  return text;
}

std::string LladaResponseText(const Tokenizer& tokenizer, const std::vector<int32_t>& generated,
                              const std::vector<std::string>& until) {
  const std::string text = CutAtStops(tokenizer.Decode(generated, /*skip_special_tokens=*/false), until);
  return tokenizer.Decode(tokenizer.Encode(text, /*add_special_tokens=*/true), /*skip_special_tokens=*/true);
}

std::string HflmResponseText(const Tokenizer& tokenizer, const std::vector<int32_t>& generated,
                             const std::vector<std::string>& until) {
  return CutAtStops(tokenizer.Decode(generated, /*skip_special_tokens=*/true), until);
}

}  // namespace llada
