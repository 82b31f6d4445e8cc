// ReplayModel: answers requests from a JSONL file instead of a network.
//   generate_until: {"task", "doc_index", "request_index", "output"}
//   loglikelihood:  {"task", "doc_index", "request_index", "loglik", "greedy"}
// Users re-score saved generations with it; tests drive scorers without a model.
#pragma once

#include <map>
#include <tuple>

#include "models/model.h"

namespace llada {

class ReplayModel : public Model {
 public:
  // Reads and validates the whole file; throws UserError naming file, line
  // and field for a malformed record.
  explicit ReplayModel(const std::string& path);

  std::string Identity() const override { return "replay:" + sha256_; }
  nlohmann::json Describe() const override;
  ModelCapabilities Capabilities() const override;
  std::vector<Response> Loglikelihood(const std::vector<Request>& requests) override;
  std::vector<Response> GenerateUntil(const std::vector<Request>& requests) override;

 private:
  using Key = std::tuple<std::string, int64_t, int>;
  struct Record {
    nlohmann::json fields;
    size_t line = 0;
  };
  const Record& Find(const Request& request) const;
  std::string path_;
  std::string sha256_;
  std::map<Key, Record> records_;
};

}  // namespace llada
