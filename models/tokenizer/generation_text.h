// How a generate_until response's token ids become its text, as the two
// references do it. Plain C++ (no LibTorch), so that it is tested on its own
// against transformers (tests/data/text_path.json).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/tokenizer/tokenizer.h"

namespace llada {

// lm-eval's stop handling: for each non-empty `until` string in list order,
// keep what comes before its first occurrence (s = s.split(term)[0]). The order
// matters where stop strings overlap.
std::string CutAtStops(std::string text, const std::vector<std::string>& until);

// LLaDA's eval_llada.py: decode with special tokens, cut at the stops, encode
// the text again (a BOS included) and decode it without special tokens.
std::string LladaResponseText(const Tokenizer& tokenizer, const std::vector<int32_t>& generated,
                              const std::vector<std::string>& until);

// lm-eval's HFLM: decode without special tokens, then cut at the stops.
std::string HflmResponseText(const Tokenizer& tokenizer, const std::vector<int32_t>& generated,
                             const std::vector<std::string>& until);

}  // namespace llada
