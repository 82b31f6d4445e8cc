// Build provenance recorded with every run.
#pragma once

namespace llada {

extern const char* const kHarnessVersion;  // project version from CMakeLists.txt
extern const char* const kGitSha;          // `git rev-parse` at configure time

}  // namespace llada
