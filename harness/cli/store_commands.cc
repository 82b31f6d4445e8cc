// What the commands that read the store back share.
#include "harness/cli/store_commands.h"

#include <iostream>

#include "core/errors.h"
#include "core/file_io.h"
#include "harness/analysis.h"
#include "harness/cli/command.h"
#include "harness/cli/flags.h"

namespace llada {

void AddDbFlag(CLI::App* cmd, std::string* db) { cmd->add_option("--db", *db, "Result store")->capture_default_str(); }

std::unique_ptr<Store> OpenExistingStore(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    throw UserError::InFile(path, "--db", "no result store here (a run writes <output>/llada-eval.db)");
  return Store::Open(path);
}

void WriteReport(const TaskRegistry& registry, const std::string& db_path, const std::string& out,
                 const std::string& reported_file, size_t samples_per_cell) {
  auto store = OpenExistingStore(db_path);
  const HtmlReportInput input = GatherReport(*store, registry, reported_file, samples_per_cell);
  WriteFileAtomically(out, RenderHtmlReport(input));
  std::cerr << "llada-eval: report of " << input.runs.size() << " runs written to " << out << "\n";
}

std::string DefaultReportedFile() { return (DefaultConfigDir() / "reported" / "llada_paper.json").string(); }

}  // namespace llada
