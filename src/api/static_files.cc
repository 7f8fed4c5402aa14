#include "api/static_files.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace ta::api {
namespace {

std::string_view TypeFor(const std::string& ext) {
  if (ext == ".html") return "text/html; charset=utf-8";
  if (ext == ".js" || ext == ".mjs") return "text/javascript; charset=utf-8";
  if (ext == ".css") return "text/css; charset=utf-8";
  if (ext == ".json" || ext == ".map") return "application/json";
  if (ext == ".svg") return "image/svg+xml";
  if (ext == ".png") return "image/png";
  if (ext == ".ico") return "image/x-icon";
  if (ext == ".woff2") return "font/woff2";
  if (ext == ".txt") return "text/plain; charset=utf-8";
  return "application/octet-stream";
}

std::optional<Response> File(const std::filesystem::path& path, bool immutable) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  Response r;
  r.status = 200;
  r.body = ss.str();
  r.content_type = std::string(TypeFor(path.extension().string()));
  r.headers.emplace_back("Cache-Control",
                         immutable ? "public, max-age=31536000, immutable" : "no-cache");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  return r;
}

}  // namespace

std::optional<Response> ServeStatic(const std::string& root, const Request& req) {
  if (root.empty() || req.method != "GET" || req.path.rfind("/api/", 0) == 0) return std::nullopt;
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path base = fs::weakly_canonical(root, ec);
  if (ec) return std::nullopt;
  const std::string rel = req.path == "/" ? "index.html" : req.path.substr(1);
  const fs::path wanted = fs::weakly_canonical(base / rel, ec);
  // Only files inside the root: "..", symlinks out and absolute tricks fail here.
  const auto [b, w] = std::mismatch(base.begin(), base.end(), wanted.begin(), wanted.end());
  if (!ec && b == base.end() && fs::is_regular_file(wanted, ec))
    return File(wanted, req.path.rfind("/assets/", 0) == 0);
  if (fs::path(rel).has_extension()) return std::nullopt;  // a missing asset is a 404
  return File(base / "index.html", false);
}

}  // namespace ta::api
