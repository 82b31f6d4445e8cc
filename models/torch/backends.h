// Registers the LibTorch backends with the model registry: LLaDAModelLM and
// the ARM baselines (LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM).
// A plain header: callers need no torch include.
#pragma once

namespace llada {

class ModelRegistry;

void RegisterTorchBackends(ModelRegistry& registry);

}  // namespace llada
