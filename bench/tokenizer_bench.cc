// Tokenizer throughput: MB/s of input text encoded, single-threaded.
//
//   tokenizer_bench <tokenizer dir or json> <text file> [<text file> ...]
//
// Each non-empty line of each file is one document (GSM8K JSONL and MMLU CSV
// lines are realistic prompt-sized inputs). Reports a cold pass (fresh
// tokenizer, empty pre-token cache) and a warm pass over the same text.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "core/file_io.h"
#include "models/tokenizer/tokenizer.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s TOKENIZER TEXT_FILE...\n", argv[0]);
    return 2;
  }
  std::vector<std::string> documents;
  size_t bytes = 0;
  for (int i = 2; i < argc; ++i) {
    const std::string text = llada::ReadInputFile(argv[i]);
    size_t pos = 0;
    while (pos < text.size()) {
      size_t end = text.find('\n', pos);
      if (end == std::string::npos) end = text.size();
      if (end > pos) {
        documents.push_back(text.substr(pos, end - pos));
        bytes += end - pos;
      }
      pos = end + 1;
    }
  }
  const auto load_start = std::chrono::steady_clock::now();
  const auto tokenizer = llada::Tokenizer::Load(argv[1]);
  const double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start).count();
  for (const char* pass : {"cold", "warm"}) {
    size_t tokens = 0;
    const auto start = std::chrono::steady_clock::now();
    for (const auto& document : documents) tokens += tokenizer->Encode(document, false).size();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("%s\t%s pass\t%zu docs\t%.2f MB\t%zu tokens\t%.3f s\t%.2f MB/s\t%.0f tokens/s\t(load %.2f s)\n",
                argv[1], pass, documents.size(), bytes / 1e6, tokens, seconds, bytes / 1e6 / seconds,
                tokens / seconds, load_s);
  }
  return 0;
}
