// lm-evaluation-harness's _encode_pair (lm_eval/api/model.py, copied by
// LLaDA's eval_llada.py): how a loglikelihood request's (context,
// continuation) strings become token ids.
//
//   1. The context's trailing whitespace moves to the front of the continuation.
//   2. whole = enc(context + continuation); context_ids = enc(context);
//      continuation_ids = whole[len(context_ids):].
//
// Known edge case (lm-eval issues #1053, #1297): when a token spans the join,
// whole[len(context_ids):] can come out empty. lm-eval then asserts; our rule
// is to encode the continuation on its own (no special tokens) and to flag the
// pair so the caller logs it. `boundary_merged` also flags the milder case
// where whole's prefix differs from context_ids (lm-eval's result is kept).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/tokenizer/tokenizer.h"

namespace llada {

struct EncodedPair {
  std::vector<int32_t> context;
  std::vector<int32_t> continuation;
  bool boundary_merged = false;      // enc(context) is not a prefix of enc(context + continuation)
  bool continuation_fallback = false;  // whole[len(context):] was empty: continuation encoded alone
};

EncodedPair EncodePair(const Tokenizer& tokenizer, const std::string& context, const std::string& continuation,
                       bool add_special_tokens);

}  // namespace llada
