// The keys a task config file (configs/tasks/*.json) may hold, and their JSON
// types: every key llada-eval reads, and the lm-eval keys it copies without
// reading (documentation). A key outside the schema is a typo (a misspelt
// `fewshot_spilt` would otherwise be ignored and the default used) and is
// refused naming the file and the key's path. Generation settings the
// backends do not honour (sampling) are refused rather than ignored.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace llada {

// Throws UserError::InFile(origin, "<key path>", why) on the first problem.
void CheckTaskConfigFile(const nlohmann::json& config, const std::string& origin);

}  // namespace llada
