// What the commands that read the store back (runs, compare, report, study)
// share.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "store/store.h"
#include "tasks/registry.h"

namespace llada {

constexpr const char* kDefaultStorePath = "llada-eval-out/llada-eval.db";

void AddDbFlag(CLI::App* cmd, std::string* db);

// Opens a store that must exist: the read-only commands never create one.
std::unique_ptr<Store> OpenExistingStore(const std::string& path);

// Writes the HTML report of the store at `db_path` to `out`.
void WriteReport(const TaskRegistry& registry, const std::string& db_path, const std::string& out,
                 const std::string& reported_file, size_t samples_per_cell);

std::string DefaultReportedFile();  // configs/reported/llada_paper.json

}  // namespace llada
