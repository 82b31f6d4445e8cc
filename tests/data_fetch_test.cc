// `llada-eval data fetch` / `data status` against a real HTTP server on
// loopback (tests/data_server.py) serving a mirror of ../shared/data under the
// manifest's URL paths, and the manifest itself against ../shared/data.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "core/file_io.h"
#include "core/hashing.h"
#include "fetch/fetcher.h"
#include "fetch/manifest.h"
#include "scorers/registry.h"
#include "tasks/registry.h"
#include "tests/test_util.h"

namespace llada {
namespace {

namespace fs = std::filesystem;
using testing::CliResult;
using testing::Describe;
using testing::ReadFile;
using testing::ReadLines;
using testing::RunCli;
using testing::SharedDir;
using testing::SourceDir;
using testing::TempDir;
using testing::WriteFile;

// The bytes ../shared/data holds for a manifest destination (gzipped there
// when the upstream file is plain); nullopt when it holds other bytes.
std::optional<std::string> SharedCopy(const std::string& dest, const std::string& sha256) {
  const fs::path plain = SharedDir() / "data" / dest, gzipped = SharedDir() / "data" / (dest + ".gz");
  std::string bytes;
  if (fs::is_regular_file(plain))
    bytes = ReadFile(plain);
  else if (fs::is_regular_file(gzipped))
    bytes = ReadInputFile(gzipped);  // inflated
  else
    return std::nullopt;
  if (Sha256Hex(bytes) != sha256) return std::nullopt;
  return bytes;
}

// tests/data_server.py in a child process, killed when the test ends.
class DataServer {
 public:
  DataServer(const fs::path& root, const fs::path& work, const std::vector<std::string>& faults) {
    log_ = work / "server.log";
    const fs::path port_file = work / "server.port";
    std::vector<std::string> args = {"python3",         (SourceDir() / "tests/data_server.py").string(),
                                     "--root",          root.string(),
                                     "--port-file",     port_file.string(),
                                     "--log",           log_.string()};
    args.insert(args.end(), faults.begin(), faults.end());
    pid_ = fork();
    if (pid_ == 0) {
      std::vector<char*> argv;
      for (auto& arg : args) argv.push_back(arg.data());
      argv.push_back(nullptr);
      execvp("python3", argv.data());
      _exit(127);
    }
    for (int i = 0; i < 200 && !fs::exists(port_file); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (fs::exists(port_file)) port_ = std::stoi(ReadFile(port_file));
  }
  ~DataServer() { Stop(); }
  void Stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }
  std::vector<std::string> Log() const { return fs::exists(log_) ? ReadLines(log_) : std::vector<std::string>{}; }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  fs::path log_;
};

class DataFetchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RegisterBuiltinLoaders(loaders_);
    RegisterBuiltinTasks(registry_, SourceDir() / "configs", loaders_, BuiltinScorers());
    manifest_ = LoadManifest(SourceDir() / "configs/data_manifest.json");
  }

  std::vector<const ManifestFile*> FilesFor(const std::vector<std::string>& names, const Manifest& manifest) {
    return FilesForTasks(manifest, registry_, registry_.Resolve(names).leaf_tasks, "/data");
  }

  // Lays out ../shared/data's copies of the tasks' files under their URL paths.
  void BuildMirror(const std::vector<std::string>& names, const fs::path& root) {
    for (const ManifestFile* file : FilesFor(names, manifest_)) {
      auto bytes = SharedCopy(file->dest, file->sha256);
      ASSERT_TRUE(bytes) << file->dest << ": ../shared/data holds other bytes";
      const fs::path out = root / UrlPath(file->url).substr(1);
      fs::create_directories(out.parent_path());
      WriteFile(out, *bytes);
    }
  }

  std::string MirrorPath(const std::string& dest) {
    for (const auto& file : manifest_.files)
      if (file.dest == dest) return UrlPath(file.url);
    ADD_FAILURE() << dest << " not in the manifest";
    return "";
  }

  // Every loopback request bypasses any proxy the CI machine sets.
  std::map<std::string, std::string> env_ = {{"no_proxy", "127.0.0.1"}, {"NO_PROXY", "127.0.0.1"}, {"HF_TOKEN", ""}};
  LoaderRegistry loaders_;
  TaskRegistry registry_;
  Manifest manifest_;
};

TEST_F(DataFetchTest, EveryTaskHasItsFilesInTheManifest) {
  for (const auto& name : registry_.TaskNames())
    EXPECT_NO_THROW(FilesFor({name}, manifest_)) << name;
  for (const auto& file : manifest_.files) {
    for (const auto& task : file.tasks) EXPECT_NO_THROW(registry_.Resolve({task})) << file.dest << ": " << task;
    EXPECT_TRUE(file.url.rfind("https://", 0) == 0) << file.url;
    // Pinned: the revision is part of a GitHub or hub URL.
    if (file.url.find("raw.githubusercontent.com") != std::string::npos ||
        file.url.find("huggingface.co") != std::string::npos) {
      EXPECT_NE(file.url.find("/" + file.revision + "/"), std::string::npos) << file.url;
    }
  }
}

TEST_F(DataFetchTest, VerifiedChecksumsAreThoseOfSharedData) {
  LLADA_REQUIRE_SHARED();
  size_t verified = 0, members = 0;
  for (const auto& file : manifest_.files) {
    if (file.verified) {
      ++verified;
      auto bytes = SharedCopy(file.dest, file.sha256);
      ASSERT_TRUE(bytes) << file.dest << " is marked verified, but ../shared/data holds other bytes";
      EXPECT_EQ(static_cast<int64_t>(bytes->size()), file.size.value_or(-1)) << file.dest;
    }
    // Members pinned one by one: where ../shared/data has the file, it has these bytes.
    for (const auto& rule : file.unpack)
      if (!rule.sha256.empty() && fs::exists(SharedDir() / "data" / rule.dest)) {
        ++members;
        EXPECT_EQ(Sha256File(SharedDir() / "data" / rule.dest), rule.sha256) << rule.dest;
      }
  }
  EXPECT_GE(verified, 190u);  // all but the upstream archives and files ../shared holds in another form
  EXPECT_GE(members, 5u);
}

TEST_F(DataFetchTest, FreshFetchInterruptedAndResumedThenNothingToDo) {
  LLADA_REQUIRE_SHARED();
  TempDir work;
  const std::vector<std::string> tasks = {"gsm8k", "bbh", "truthfulqa_mc1"};
  BuildMirror(tasks, work.path() / "mirror");
  const std::string train = MirrorPath("gsm8k/train.jsonl");
  const std::string bbh_file = MirrorPath("bbh/bbh/web_of_lies.json");
  const std::string ignored_range = MirrorPath("bbh/cot-prompts/navigate.txt");
  DataServer server(work.path() / "mirror", work.path(),
                    {"--cut-once", train, "--fail-once", bbh_file, "--ignore-range", ignored_range});
  ASSERT_GT(server.port(), 0);
  const fs::path data = work.path() / "data";
  // A part file left by an earlier fetch: resumed from its end with a Range request...
  const std::string test_jsonl = ReadFile(SharedDir() / "data/gsm8k/test.jsonl");
  fs::create_directories(data / "gsm8k");
  WriteFile(data / "gsm8k/test.jsonl.part", test_jsonl.substr(0, 1000));
  // ...and one whose server ignores Range: started over.
  fs::create_directories(data / "bbh/cot-prompts");
  WriteFile(data / "bbh/cot-prompts/navigate.txt.part", "not the start of the file");

  const CliResult fetched = RunCli({"data", "fetch", "--tasks", "gsm8k,bbh,truthfulqa_mc1", "--data-dir",
                                    data.string(), "--mirror", server.url(), "--retry-delay", "0.2"},
                                   env_);
  ASSERT_EQ(fetched.exit_code, 0) << Describe(fetched);
  EXPECT_NE(fetched.out.find("57 downloaded"), std::string::npos) << fetched.out;  // 2 + 27*2 + 1
  EXPECT_NE(fetched.err.find("retrying"), std::string::npos) << fetched.err;
  for (const ManifestFile* file : FilesFor(tasks, manifest_))
    EXPECT_EQ(Sha256File(data / file->dest), file->sha256) << file->dest;
  for (const auto& entry : fs::recursive_directory_iterator(data))
    EXPECT_NE(entry.path().extension(), ".part") << entry.path();

  const std::vector<std::string> log = server.Log();
  auto requests_of = [&](const std::string& path) {
    std::vector<std::string> lines;
    for (const auto& line : log)
      if (line.rfind("GET " + path + " ", 0) == 0) lines.push_back(line.substr(line.find(' ', 4) + 1));
    return lines;
  };
  // Cut midway, then resumed where the bytes stopped (train.jsonl is 4,166,206 bytes).
  EXPECT_EQ(requests_of(train), (std::vector<std::string>{"200 range=-", "206 range=bytes=2083103-"}));
  EXPECT_EQ(requests_of(MirrorPath("gsm8k/test.jsonl")), (std::vector<std::string>{"206 range=bytes=1000-"}));
  EXPECT_EQ(requests_of(bbh_file), (std::vector<std::string>{"503 range=-", "200 range=-"}));
  // libcurl drops a whole-file answer to a Range request; the file is then fetched from the start.
  EXPECT_EQ(requests_of(ignored_range), (std::vector<std::string>{"200 range=bytes=25-", "200 range=-"}));

  // The loaders read what was fetched.
  const CliResult requests = RunCli(
      {"requests", "--tasks", "gsm8k,bbh_cot_fewshot_web_of_lies,truthfulqa_mc1", "--limit", "2", "--data-dir", data.string()});
  ASSERT_EQ(requests.exit_code, 0) << Describe(requests);
  EXPECT_NE(requests.out.find("\"task\":\"bbh_cot_fewshot_web_of_lies\""), std::string::npos);

  const CliResult status =
      RunCli({"data", "status", "--tasks", "gsm8k,bbh,truthfulqa_mc1", "--data-dir", data.string()});
  EXPECT_EQ(status.exit_code, 0) << Describe(status);
  EXPECT_NE(status.out.find("All 57 files present"), std::string::npos) << status.out;

  // A second fetch downloads nothing.
  const size_t requests_before = server.Log().size();
  const CliResult again = RunCli({"data", "fetch", "--tasks", "gsm8k,bbh,truthfulqa_mc1", "--data-dir", data.string(),
                                  "--mirror", server.url()},
                                 env_);
  ASSERT_EQ(again.exit_code, 0) << Describe(again);
  EXPECT_NE(again.out.find("0 downloaded (0 B), 57 already present"), std::string::npos) << again.out;
  EXPECT_EQ(server.Log().size(), requests_before);
}

TEST_F(DataFetchTest, MismatchNotFoundAndServerDownAreClearErrors) {
  LLADA_REQUIRE_SHARED();
  TempDir work;
  BuildMirror({"gsm8k"}, work.path() / "mirror");
  // The server's test.jsonl is not the pinned one.
  const fs::path served = work.path() / "mirror" / MirrorPath("gsm8k/test.jsonl").substr(1);
  std::string bytes = ReadFile(served);
  bytes[100] ^= 1;
  WriteFile(served, bytes);
  DataServer server(work.path() / "mirror", work.path(), {});
  ASSERT_GT(server.port(), 0);
  const fs::path data = work.path() / "data";

  const CliResult mismatch =
      RunCli({"data", "fetch", "--tasks", "gsm8k", "--data-dir", data.string(), "--mirror", server.url()}, env_);
  EXPECT_EQ(mismatch.exit_code, 2) << Describe(mismatch);
  EXPECT_NE(mismatch.err.find("FAILED gsm8k/test.jsonl: checksum mismatch: " + server.url() +
                              MirrorPath("gsm8k/test.jsonl")),
            std::string::npos)
      << mismatch.err;
  EXPECT_NE(mismatch.err.find("3730d312f6e3440559ace48831e51066acaca737f6eabec99bccb9e4b3c39d14"), std::string::npos);
  EXPECT_FALSE(fs::exists(data / "gsm8k/test.jsonl"));
  EXPECT_FALSE(fs::exists(data / "gsm8k/test.jsonl.part"));
  EXPECT_TRUE(fs::exists(data / "gsm8k/train.jsonl"));  // the other file was fetched

  // `data status` and `run` name what is missing and the command that fetches it.
  const CliResult status = RunCli({"data", "status", "--tasks", "gsm8k", "--data-dir", data.string()});
  EXPECT_EQ(status.exit_code, 1) << Describe(status);
  EXPECT_NE(status.out.find("gsm8k/test.jsonl: missing"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("llada-eval data fetch --tasks gsm8k --data-dir " + data.string()), std::string::npos);
  const CliResult run = RunCli({"requests", "--tasks", "gsm8k", "--data-dir", data.string()});
  EXPECT_EQ(run.exit_code, 2) << Describe(run);
  EXPECT_NE(run.err.find("download them with `llada-eval data fetch --tasks gsm8k --data-dir " + data.string()),
            std::string::npos)
      << run.err;

  // Not on the server: 404, the URL named, no retry.
  const CliResult not_found =
      RunCli({"data", "fetch", "--tasks", "humaneval", "--data-dir", data.string(), "--mirror", server.url()}, env_);
  EXPECT_EQ(not_found.exit_code, 2) << Describe(not_found);
  EXPECT_NE(not_found.err.find("GET " + server.url() + MirrorPath("humaneval/HumanEval.jsonl.gz") +
                               ": HTTP 404 Not Found"),
            std::string::npos)
      << not_found.err;
  EXPECT_EQ(not_found.err.find("retrying"), std::string::npos);

  // Nothing listens: the URL named, exit 2 once the retries are spent.
  const std::string down = "http://127.0.0.1:" + std::to_string(server.port());
  server.Stop();
  const CliResult refused = RunCli({"data", "fetch", "--tasks", "gsm8k", "--data-dir", data.string(), "--mirror", down,
                                    "--retries", "1", "--retry-delay", "0.1"},
                                   env_);
  EXPECT_EQ(refused.exit_code, 2) << Describe(refused);
  EXPECT_NE(refused.err.find("GET " + down + MirrorPath("gsm8k/test.jsonl") + ": Couldn't connect to server"),
            std::string::npos)
      << refused.err;
  EXPECT_NE(refused.err.find("after 2 attempts"), std::string::npos) << refused.err;
}

// Archives: a tar unpacked by folder rules, a zip by member rules behind a
// token, and an archive whose member would escape the data directory.
TEST_F(DataFetchTest, ArchivesUnpackIntoTheLoadersLayout) {
  LLADA_REQUIRE_SHARED();
  TempDir work;
  const fs::path mirror = work.path() / "mirror";
  fs::create_directories(mirror);
  const fs::path mmlu = SharedDir() / "data/mmlu";
  const fs::path wino = SharedDir() / "data/winogrande";
  const std::string script =
      "import sys, tarfile, zipfile\n"
      "import os\n"
      "m, w, out = sys.argv[1], sys.argv[2], sys.argv[3]\n"
      "os.makedirs(out + '/mmlu')\n"
      "os.makedirs(out + '/datasets/test/wg/resolve/abc')\n"
      "with tarfile.open(out + '/mmlu/data.tar', 'w') as t:\n"
      "    for split in ['dev', 'val', 'test']:\n"
      "        t.add(f'{m}/{split}/abstract_algebra_{split}.csv', f'data/{split}/abstract_algebra_{split}.csv')\n"
      "    t.add(f'{m}/dev/anatomy_dev.csv', 'data/auxiliary_train/anatomy_dev.csv')\n"
      "with zipfile.ZipFile(out + '/datasets/test/wg/resolve/abc/wg.zip', 'w') as z:\n"
      "    z.write(f'{w}/winogrande_dev_llmfoundry.jsonl', 'wg/winogrande_dev_llmfoundry.jsonl')\n"
      "    z.write(f'{w}/dev-labels.lst', 'wg/dev-labels.lst')\n"
      "with tarfile.open(out + '/evil.tar', 'w') as t:\n"
      "    t.add(f'{m}/dev/anatomy_dev.csv', 'data/dev/../../../escaped.csv')\n";
  WriteFile(work.path() / "make.py", script);
  ASSERT_EQ(std::system(("python3 " + (work.path() / "make.py").string() + " " + mmlu.string() + " " + wino.string() +
                         " " + mirror.string())
                            .c_str()),
            0);
  const std::string labels_sha = Sha256File(wino / "dev-labels.lst");
  const nlohmann::json manifest = {
      {"files",
       {{{"url", "https://example.org/mmlu/data.tar"},
         {"revision", "test"},
         {"size", fs::file_size(mirror / "mmlu/data.tar")},
         {"sha256", Sha256File(mirror / "mmlu/data.tar")},
         {"license", "MIT"},
         {"dest", "mmlu/data.tar"},
         {"tasks", {"mmlu"}},
         {"unpack",
          {{{"member", "data/dev/"}, {"dest", "mmlu/dev/"}},
           {{"member", "data/val/"}, {"dest", "mmlu/val/"}},
           {{"member", "data/test/"}, {"dest", "mmlu/test/"}}}}},
        {{"url", "https://huggingface.co/datasets/test/wg/resolve/abc/wg.zip"},
         {"revision", "abc"},
         {"size", nullptr},
         {"sha256", Sha256File(mirror / "datasets/test/wg/resolve/abc/wg.zip")},
         {"license", "Apache-2.0"},
         {"dest", "winogrande/wg.zip"},
         {"tasks", {"winogrande"}},
         {"unpack",
          {{{"member", "wg/winogrande_dev_llmfoundry.jsonl"},
            {"dest", "winogrande/winogrande_dev_llmfoundry.jsonl"},
            {"sha256", Sha256File(wino / "winogrande_dev_llmfoundry.jsonl")}},
           {{"member", "wg/dev-labels.lst"}, {"dest", "winogrande/dev-labels.lst"}, {"sha256", labels_sha}}}}}}}};
  WriteFile(work.path() / "manifest.json", manifest.dump(1));
  DataServer server(mirror, work.path(), {"--token", "/datasets/test/wg/resolve/abc/wg.zip=secret"});
  ASSERT_GT(server.port(), 0);
  const fs::path data = work.path() / "data";
  const std::vector<std::string> fetch = {"data",       "fetch",    "--tasks",
                                          "mmlu_abstract_algebra,winogrande", "--data-dir", data.string(),
                                          "--manifest", (work.path() / "manifest.json").string(),
                                          "--mirror",   server.url()};

  // The hub answers 401 without the token: the error says to set HF_TOKEN.
  const CliResult no_token = RunCli(fetch, env_);
  EXPECT_EQ(no_token.exit_code, 2) << Describe(no_token);
  EXPECT_NE(no_token.err.find("401 Unauthorized (a gated file: set HF_TOKEN"), std::string::npos) << no_token.err;
  auto with_token = env_;
  with_token["HF_TOKEN"] = "secret";
  const CliResult fetched = RunCli(fetch, with_token);
  ASSERT_EQ(fetched.exit_code, 0) << Describe(fetched);
  for (const std::string split : {"dev", "val", "test"})
    EXPECT_EQ(ReadFile(data / "mmlu" / split / ("abstract_algebra_" + split + ".csv")),
              ReadFile(mmlu / split / ("abstract_algebra_" + split + ".csv")));
  EXPECT_FALSE(fs::exists(data / "mmlu/auxiliary_train"));
  EXPECT_FALSE(fs::exists(data / "mmlu/dev/anatomy_dev.csv"));
  EXPECT_EQ(Sha256File(data / "winogrande/dev-labels.lst"), labels_sha);
  const CliResult requests = RunCli({"requests", "--tasks", "mmlu_abstract_algebra,winogrande", "--limit", "1",
                                     "--shots", "0", "--data-dir", data.string()});
  ASSERT_EQ(requests.exit_code, 0) << Describe(requests);

  // An unpacked file removed: status names it; fetch unpacks it again without a download.
  fs::remove(data / "mmlu/val/abstract_algebra_val.csv");
  const std::vector<std::string> status = {"data",       "status", "--data-dir", data.string(),
                                           "--manifest", (work.path() / "manifest.json").string()};
  const CliResult missing = RunCli(status);
  EXPECT_EQ(missing.exit_code, 1) << Describe(missing);
  EXPECT_NE(missing.out.find("mmlu/data.tar: missing (1 of 3 unpacked files missing (first: "
                             "mmlu/val/abstract_algebra_val.csv))"),
            std::string::npos)
      << missing.out;
  const size_t before = server.Log().size();
  const CliResult unpacked = RunCli(fetch, with_token);
  ASSERT_EQ(unpacked.exit_code, 0) << Describe(unpacked);
  EXPECT_NE(unpacked.out.find("0 downloaded (0 B), 1 already present, 1 unpacked again"), std::string::npos)
      << unpacked.out;
  EXPECT_EQ(server.Log().size(), before);
  EXPECT_EQ(RunCli(status).exit_code, 0);

  // A member that would land outside the data directory is refused.
  nlohmann::json evil = manifest;
  evil["files"][0]["sha256"] = Sha256File(mirror / "evil.tar");
  evil["files"][0]["size"] = fs::file_size(mirror / "evil.tar");
  evil["files"][0]["url"] = "https://example.org/evil.tar";
  WriteFile(work.path() / "evil.json", evil.dump());
  const fs::path evil_data = work.path() / "evil-data" / "inner";
  const CliResult refused = RunCli({"data", "fetch", "--tasks", "mmlu_abstract_algebra", "--data-dir",
                                    evil_data.string(), "--manifest", (work.path() / "evil.json").string(),
                                    "--mirror", server.url()},
                                   env_);
  EXPECT_EQ(refused.exit_code, 2) << Describe(refused);
  EXPECT_NE(refused.err.find("would be written outside the data directory"), std::string::npos) << refused.err;
  EXPECT_FALSE(fs::exists(work.path() / "escaped.csv"));
  EXPECT_FALSE(fs::exists(work.path() / "evil-data/escaped.csv"));
}

TEST_F(DataFetchTest, MalformedManifestsAreRefusedNamingTheField) {
  TempDir work;
  auto error_of = [&](const std::string& text) {
    WriteFile(work.path() / "m.json", text);
    return testing::UserErrorOf([&] { LoadManifest(work.path() / "m.json"); });
  };
  EXPECT_NE(error_of("{\"files\": [{\"url\": \"https://x/a\"}]}").find("files[0].revision: missing"), std::string::npos);
  const std::string base =
      "{\"url\": \"https://x/a\", \"revision\": \"r\", \"size\": 1, \"license\": \"MIT\", \"tasks\": [\"gsm8k\"], ";
  EXPECT_NE(error_of("{\"files\": [" + base + "\"sha256\": \"abc\", \"dest\": \"a\"}]}").find("files[0].sha256"),
            std::string::npos);
  EXPECT_NE(error_of("{\"files\": [" + base + "\"sha256\": \"" + std::string(64, 'a') + "\", \"dest\": \"../a\"}]}")
                .find("files[0].dest: must be a relative path"),
            std::string::npos);
  EXPECT_NE(error_of("[1]").find("m.json: files: missing"), std::string::npos);
}

}  // namespace
}  // namespace llada
