// Typed errors shared by every stage.
//
// UserError      bad input the user can fix (a missing file, a malformed row, an
//                unknown task). The CLI prints its message on one line and exits 2.
// InternalError  a broken invariant, i.e. a bug in llada-eval. Exit 3.
// SampleError    one request or document failed; the harness records it against
//                that sample and carries on with the rest of the run.
// UnscoredError  a SampleError that is not the sample's fault (the sandbox
//                failed); the run finishes, then exits 4.
#pragma once

#include <stdexcept>
#include <string>

namespace llada {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class UserError : public Error {
 public:
  explicit UserError(const std::string& message) : Error(message) {}

  // "<file>: <field>: <message>", the shape every input error takes so the
  // culprit is always named first.
  static UserError InFile(const std::string& file, const std::string& field,
                          const std::string& message);
};

class InternalError : public Error {
 public:
  explicit InternalError(const std::string& message) : Error("internal error: " + message) {}
};

class SampleError : public Error {
 public:
  explicit SampleError(const std::string& message) : Error(message) {}
};

// A document that could not be scored for a reason outside it (the code
// sandbox failed on its program). Recorded like a SampleError, but the run
// then ends with exit status 4: rerunning the same command scores it.
class UnscoredError : public SampleError {
 public:
  explicit UnscoredError(const std::string& message) : SampleError(message) {}
};

}  // namespace llada
