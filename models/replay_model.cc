#include "models/replay_model.h"

#include "core/errors.h"
#include "core/file_io.h"
#include "core/hashing.h"
#include "core/text.h"

namespace llada {

ReplayModel::ReplayModel(const std::string& path) : path_(path) {
  const std::string bytes = ReadInputFile(path);
  sha256_ = Sha256Hex(bytes);
  size_t pos = 0, line_number = 0;
  while (pos < bytes.size()) {
    size_t end = bytes.find('\n', pos);
    if (end == std::string::npos) end = bytes.size();
    const std::string line = bytes.substr(pos, end - pos);
    pos = end + 1;
    ++line_number;
    if (PyStrip(line).empty()) continue;
    const std::string where = "line " + std::to_string(line_number);
    nlohmann::json record = nlohmann::json::parse(line, nullptr, false);
    if (record.is_discarded() || !record.is_object())
      throw UserError::InFile(path, where, "not a JSON object");
    if (!record.contains("task") || !record.at("task").is_string())
      throw UserError::InFile(path, where + ": task", "missing key");
    if (!record.contains("doc_index") || !record.at("doc_index").is_number_integer())
      throw UserError::InFile(path, where + ": doc_index", "missing key (an integer)");
    if (!record.contains("request_index") || !record.at("request_index").is_number_integer())
      throw UserError::InFile(path, where + ": request_index", "missing key (an integer)");
    if (!record.contains("output") && !record.contains("loglik"))
      throw UserError::InFile(path, where + ": output", "missing key (or \"loglik\" and \"greedy\")");
    Key key{record.at("task").get<std::string>(), record.at("doc_index").get<int64_t>(),
            record.at("request_index").get<int>()};
    if (records_.count(key))
      throw UserError::InFile(path, where, "duplicate record for task " + std::get<0>(key) + " doc " +
                                               std::to_string(std::get<1>(key)) + " request " +
                                               std::to_string(std::get<2>(key)));
    records_[key] = Record{std::move(record), line_number};
  }
}

nlohmann::json ReplayModel::Describe() const {
  return {{"backend", "replay"}, {"path", path_}, {"sha256", sha256_}, {"records", records_.size()}};
}

ModelCapabilities ReplayModel::Capabilities() const {
  ModelCapabilities capabilities;
  capabilities.keyed_by_origin = true;
  return capabilities;
}

const ReplayModel::Record& ReplayModel::Find(const Request& request) const {
  auto it = records_.find(Key{request.origin.task, request.origin.doc_index, request.origin.request_index});
  if (it == records_.end())
    throw UserError::InFile(path_, "", "no record for task " + request.origin.task + ", doc_index " +
                                           std::to_string(request.origin.doc_index) + ", request_index " +
                                           std::to_string(request.origin.request_index));
  return it->second;
}

std::vector<Response> ReplayModel::Loglikelihood(const std::vector<Request>& requests) {
  std::vector<Response> responses;
  for (const auto& request : requests) {
    const Record& record = Find(request);
    const std::string where = "line " + std::to_string(record.line);
    if (!record.fields.contains("loglik") || !record.fields.at("loglik").is_number())
      throw UserError::InFile(path_, where + ": loglik", "missing key (a number) for a loglikelihood request");
    if (!record.fields.contains("greedy") || !record.fields.at("greedy").is_boolean())
      throw UserError::InFile(path_, where + ": greedy", "missing key (true/false) for a loglikelihood request");
    Response response;
    response.loglikelihood = record.fields.at("loglik").get<double>();
    response.is_greedy = record.fields.at("greedy").get<bool>();
    responses.push_back(response);
  }
  return responses;
}

std::vector<Response> ReplayModel::GenerateUntil(const std::vector<Request>& requests) {
  std::vector<Response> responses;
  for (const auto& request : requests) {
    const Record& record = Find(request);
    if (!record.fields.contains("output") || !record.fields.at("output").is_string())
      throw UserError::InFile(path_, "line " + std::to_string(record.line) + ": output",
                              "missing key (a string) for a generate_until request");
    Response response;
    response.text = record.fields.at("output").get<std::string>();
    responses.push_back(response);
  }
  return responses;
}

}  // namespace llada
