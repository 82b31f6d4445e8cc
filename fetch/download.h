// HTTP(S) downloads with libcurl: redirects, resuming a partial file with a
// Range request, retries with backoff on transient failures. Proxies come from
// the usual environment variables (http_proxy, https_proxy, no_proxy), as
// libcurl reads them.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <ostream>
#include <string>

namespace llada {

struct DownloadOptions {
  int retries = 3;                   // further tries after a transient failure
  double retry_delay_seconds = 1.0;  // before the first retry; doubles after each
  double connect_timeout_seconds = 30;
  double stall_timeout_seconds = 60;  // no byte for this long: a transient failure
  std::ostream* log = nullptr;        // one line per retry
};

struct DownloadResult {
  int64_t bytes_received = 0;
  int attempts = 0;
  int64_t resumed_from = 0;  // bytes the first request asked the server to skip (0: from the start)
};

// One connection reused across downloads (GitHub and the hub serve many small
// files from one host).
class Downloader {
 public:
  explicit Downloader(DownloadOptions options);
  ~Downloader();
  Downloader(const Downloader&) = delete;
  Downloader& operator=(const Downloader&) = delete;

  // Downloads `url` into `part`, continuing from the bytes already in it (a
  // Range request; a server that ignores it starts the file over). `bearer`
  // is sent as "Authorization: Bearer ..." to the URL's own host only.
  // `on_bytes` sees every chunk's size as it arrives. Throws UserError naming
  // the URL and what failed (the HTTP status, or libcurl's reason) once the
  // retries are spent, or at once on a failure that retrying cannot mend
  // (404, 401, 403).
  DownloadResult Fetch(const std::string& url, const std::filesystem::path& part, const std::string& bearer,
                       const std::function<void(int64_t)>& on_bytes);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  DownloadOptions options_;
};

}  // namespace llada
