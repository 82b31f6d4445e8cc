// llada-eval-torch.so's one exported function: the LibTorch backends for a
// program that loads them at run time (models/torch_backend.h).
#include "models/torch/backends.h"

extern "C" __attribute__((visibility("default"))) const llada::TorchBackend* llada_eval_torch_backend_v1() {
  return &llada::LinkedTorchBackend();
}
