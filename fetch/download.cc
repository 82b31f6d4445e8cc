#include "fetch/download.h"

#include <curl/curl.h>

#include <chrono>
#include <cstdio>
#include <mutex>
#include <thread>

#include "core/errors.h"
#include "core/file_io.h"

namespace llada {
namespace {

void GlobalInitOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string StatusText(long status) {
  switch (status) {
    case 401:
      return "401 Unauthorized (a gated file: set HF_TOKEN to a token that may read it)";
    case 403:
      return "403 Forbidden (a gated file: set HF_TOKEN to a token that may read it)";
    case 404:
      return "404 Not Found";
    case 408:
      return "408 Request Timeout";
    case 429:
      return "429 Too Many Requests";
    case 500:
      return "500 Internal Server Error";
    case 502:
      return "502 Bad Gateway";
    case 503:
      return "503 Service Unavailable";
    case 504:
      return "504 Gateway Timeout";
    default:
      return std::to_string(status);
  }
}

bool IsTransientStatus(long status) { return status == 408 || status == 429 || status >= 500; }

bool IsTransientCurlError(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return true;
    default:
      return false;
  }
}

// Where the bytes of one request go: appended to the part file.
struct Sink {
  std::FILE* file = nullptr;
  int64_t offset = 0;  // bytes asked to be skipped
  bool write_failed = false;
  int64_t received = 0;
  const std::function<void(int64_t)>* on_bytes = nullptr;
};

size_t WriteChunk(char* data, size_t size, size_t count, void* user) {
  auto* sink = static_cast<Sink*>(user);
  const size_t bytes = size * count;
  if (std::fwrite(data, 1, bytes, sink->file) != bytes) {
    sink->write_failed = true;
    return 0;
  }
  sink->received += static_cast<int64_t>(bytes);
  if (*sink->on_bytes) (*sink->on_bytes)(static_cast<int64_t>(bytes));
  return bytes;
}

}  // namespace

struct Downloader::Impl {
  CURL* curl = nullptr;
};

Downloader::Downloader(DownloadOptions options) : impl_(std::make_unique<Impl>()), options_(options) {
  GlobalInitOnce();
  impl_->curl = curl_easy_init();
  if (!impl_->curl) throw InternalError("curl_easy_init failed");
}

Downloader::~Downloader() { curl_easy_cleanup(impl_->curl); }

DownloadResult Downloader::Fetch(const std::string& url, const std::filesystem::path& part, const std::string& bearer,
                                 const std::function<void(int64_t)>& on_bytes) {
  CURL* curl = impl_->curl;
  DownloadResult result;
  double delay = options_.retry_delay_seconds;
  for (int attempt = 0;; ++attempt) {
    result.attempts = attempt + 1;
    std::FILE* file = std::fopen(part.c_str(), "ab");
    if (!file) throw UserError::InFile(part.string(), "", "cannot write the download");
    Sink sink;
    sink.file = file;
    sink.offset = FileSizeOrZero(part);
    sink.on_bytes = &on_bytes;
    if (attempt == 0) result.resumed_from = sink.offset;

    char error_buffer[CURL_ERROR_SIZE] = {0};
    curl_slist* headers = nullptr;
    if (!bearer.empty()) headers = curl_slist_append(headers, ("Authorization: Bearer " + bearer).c_str());
    curl_easy_reset(curl);
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(curl, CURLOPT_FAILONERROR, 1L);  // an error page is never written into the file
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "llada-eval (data fetch)");
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout_seconds * 1000));
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, static_cast<long>(options_.stall_timeout_seconds));
    curl_easy_setopt(curl, CURLOPT_RESUME_FROM_LARGE, static_cast<curl_off_t>(sink.offset));
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, WriteChunk);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    const CURLcode code = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(headers);
    const bool closed = std::fclose(file) == 0;
    result.bytes_received += sink.received;

    if (sink.write_failed || !closed)
      throw UserError::InFile(part.string(), "", "cannot write the download (disk full?)");
    // A Range request past the end: the part file already holds every byte
    // (the checksum decides whether they are the right ones).
    if (code == CURLE_HTTP_RETURNED_ERROR && status == 416 && sink.offset > 0) return result;
    if (code == CURLE_OK) return result;
    // The server ignores Range (libcurl refuses its whole-file answer): start the file over.
    if (code == CURLE_RANGE_ERROR && sink.offset > 0) {
      if (options_.log)
        *options_.log << "data fetch: " << url << ": the server cannot resume; downloading it from the start\n";
      std::filesystem::resize_file(part, 0);
      --attempt;
      continue;
    }

    std::string reason;
    bool transient;
    if (code == CURLE_HTTP_RETURNED_ERROR) {
      reason = "HTTP " + StatusText(status);
      transient = IsTransientStatus(status);
    } else {
      reason = curl_easy_strerror(code);
      if (error_buffer[0]) reason += std::string(" (") + error_buffer + ")";
      transient = IsTransientCurlError(code);
    }
    if (!transient || attempt >= options_.retries) {
      const std::string tries = attempt > 0 ? " after " + std::to_string(attempt + 1) + " attempts" : "";
      throw UserError("GET " + url + ": " + reason + tries);
    }
    if (options_.log)
      *options_.log << "data fetch: " << url << ": " << reason << "; retrying in " << delay << " s ("
                    << FileSizeOrZero(part) << " bytes kept)\n";
    std::this_thread::sleep_for(std::chrono::duration<double>(delay));
    delay *= 2;
  }
}

}  // namespace llada
