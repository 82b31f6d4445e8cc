// The LibTorch backends, linked into the program (tests, benches). llada-eval
// itself loads the same object from llada-eval-torch.so (module.cc) on a
// background thread: models/torch_backend.h.
#pragma once

#include "models/torch_backend.h"

namespace llada {

const TorchBackend& LinkedTorchBackend();

}  // namespace llada
