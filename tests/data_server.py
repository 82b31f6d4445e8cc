#!/usr/bin/env python3
"""A loopback HTTP server for the `data fetch` tests: serves a directory with
Range support and a few injected faults, and logs every request.

  data_server.py --root DIR --port-file FILE --log FILE
      [--cut-once PATH]      first GET of PATH: send half the body, then drop the connection
      [--fail-once PATH]     first GET of PATH: 503
      [--token PATH=TOKEN]   PATH needs "Authorization: Bearer TOKEN" (else 401)
      [--ignore-range PATH]  answer Range requests for PATH with the whole file (200)

It binds port 0 and writes the port it got to --port-file. Log lines:
"GET <path> <status> range=<Range header or ->".
"""
import argparse
import http.server
import os
import socketserver
import sys


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", required=True)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--cut-once", action="append", default=[])
    parser.add_argument("--fail-once", action="append", default=[])
    parser.add_argument("--token", action="append", default=[])
    parser.add_argument("--ignore-range", action="append", default=[])
    args = parser.parse_args()
    tokens = dict(item.split("=", 1) for item in args.token)
    cut_pending = set(args.cut_once)
    fail_pending = set(args.fail_once)
    log = open(args.log, "a", buffering=1)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *unused):
            pass

        def record(self, status):
            log.write("GET %s %d range=%s\n" % (self.path, status, self.headers.get("Range") or "-"))

        def reply(self, status):
            self.record(status)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self):
            path = self.path.split("?", 1)[0]
            if path in fail_pending:
                fail_pending.discard(path)
                return self.reply(503)
            if path in tokens and self.headers.get("Authorization") != "Bearer " + tokens[path]:
                return self.reply(401)
            local = os.path.realpath(os.path.join(args.root, path.lstrip("/")))
            if not local.startswith(os.path.realpath(args.root) + os.sep) or not os.path.isfile(local):
                return self.reply(404)
            data = open(local, "rb").read()
            start = 0
            header = self.headers.get("Range")
            if header and path not in args.ignore_range and header.startswith("bytes="):
                start = int(header[len("bytes="):].split("-", 1)[0])
                if start >= len(data):
                    self.record(416)
                    self.send_response(416)
                    self.send_header("Content-Range", "bytes */%d" % len(data))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                status = 206
            else:
                status = 200
            body = data[start:]
            self.record(status)
            self.send_response(status)
            if status == 206:
                self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if path in cut_pending:
                cut_pending.discard(path)
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)
                return
            self.wfile.write(body)

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True
        allow_reuse_address = True

    server = Server(("127.0.0.1", 0), Handler)
    with open(args.port_file + ".tmp", "w") as out:
        out.write(str(server.server_address[1]))
    os.rename(args.port_file + ".tmp", args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
