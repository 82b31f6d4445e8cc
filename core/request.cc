#include "core/request.h"

#include "core/errors.h"

namespace llada {

const char* RequestTypeName(RequestType type) {
  switch (type) {
    case RequestType::kLoglikelihood:
      return "loglikelihood";
    case RequestType::kGenerateUntil:
      return "generate_until";
  }
  throw InternalError("unknown RequestType");
}

RequestType ParseRequestType(const std::string& name) {
  if (name == "loglikelihood") return RequestType::kLoglikelihood;
  if (name == "generate_until") return RequestType::kGenerateUntil;
  throw UserError("unknown request type '" + name +
                  "' (expected loglikelihood or generate_until)");
}

}  // namespace llada
