#include "models/tokenizer/encode_pair.h"

#include <algorithm>

#include "core/text.h"

namespace llada {

EncodedPair EncodePair(const Tokenizer& tokenizer, const std::string& context, const std::string& continuation,
                       bool add_special_tokens) {
  // Python's rstrip(): trailing Unicode whitespace, moved whole.
  const std::string stripped = PyRStrip(context);
  const std::string moved = context.substr(stripped.size());
  const std::string final_continuation = moved + continuation;

  EncodedPair pair;
  const std::vector<int32_t> whole = tokenizer.Encode(stripped + final_continuation, add_special_tokens);
  pair.context = tokenizer.Encode(stripped, add_special_tokens);
  const size_t split = std::min(pair.context.size(), whole.size());
  pair.boundary_merged = !std::equal(pair.context.begin(), pair.context.begin() + static_cast<long>(split), whole.begin()) ||
                         split < pair.context.size();
  pair.continuation.assign(whole.begin() + static_cast<long>(split), whole.end());
  if (pair.continuation.empty() && !final_continuation.empty()) {
    pair.continuation = tokenizer.Encode(final_continuation, /*add_special_tokens=*/false);
    pair.continuation_fallback = true;
  }
  return pair;
}

}  // namespace llada
