#include "core/errors.h"

namespace llada {

UserError UserError::InFile(const std::string& file, const std::string& field,
                            const std::string& message) {
  std::string text = file;
  if (!field.empty()) text += ": " + field;
  return UserError(text + ": " + message);
}

}  // namespace llada
