#include "api/http.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdlib>

#include <nlohmann/json.hpp>

namespace ta::api {

std::string Request::Cookie(std::string_view name) const {
  const std::string header = Header("cookie");
  size_t i = 0;
  while (i < header.size()) {
    while (i < header.size() && (header[i] == ' ' || header[i] == ';')) ++i;
    const size_t eq = header.find('=', i);
    const size_t end = std::min(header.find(';', i), header.size());
    if (eq != std::string::npos && eq < end && std::string_view(header).substr(i, eq - i) == name)
      return header.substr(eq + 1, end - eq - 1);
    i = end;
  }
  return "";
}

std::string Request::Header(std::string_view name) const {
  auto it = headers.find(std::string(name));
  return it == headers.end() ? "" : it->second;
}

std::optional<std::string> Request::QueryParam(std::string_view name) const {
  auto it = query.find(std::string(name));
  if (it == query.end()) return std::nullopt;
  return it->second;
}

Response Response::Json(int status, const nlohmann::json& body) {
  Response r;
  r.status = status;
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

Response Response::NoContent() {
  Response r;
  r.status = 204;
  r.content_type.clear();
  return r;
}

namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool IsIp(const std::string& s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

// `ip` matches `spec` (an exact address, or an IPv4 CIDR).
bool Matches(const std::string& ip, const std::string& spec) {
  const size_t slash = spec.find('/');
  if (slash == std::string::npos) return ip == spec;
  in_addr net{}, addr{};
  if (inet_pton(AF_INET, spec.substr(0, slash).c_str(), &net) != 1 ||
      inet_pton(AF_INET, ip.c_str(), &addr) != 1)
    return false;
  const int bits = std::atoi(spec.c_str() + slash + 1);
  const uint32_t mask = bits == 0 ? 0 : ~uint32_t{0} << (32 - bits);
  return (ntohl(net.s_addr) & mask) == (ntohl(addr.s_addr) & mask);
}

bool Trusted(const std::string& ip, const std::vector<std::string>& trusted) {
  return std::any_of(trusted.begin(), trusted.end(),
                     [&](const std::string& spec) { return Matches(ip, spec); });
}

}  // namespace

bool ValidProxySpec(std::string_view spec) {
  const std::string s(Trim(spec));
  const size_t slash = s.find('/');
  if (slash == std::string::npos) return IsIp(s);
  in_addr net{};
  const std::string bits = s.substr(slash + 1);
  if (inet_pton(AF_INET, s.substr(0, slash).c_str(), &net) != 1 || bits.empty() ||
      bits.size() > 2 || bits.find_first_not_of("0123456789") != std::string::npos)
    return false;
  return std::atoi(bits.c_str()) <= 32;
}

std::string ClientAddress(const std::string& peer, std::string_view forwarded_for,
                          const std::vector<std::string>& trusted) {
  if (trusted.empty() || !Trusted(peer, trusted)) return peer;
  std::string client = peer;
  while (!forwarded_for.empty()) {
    const size_t comma = forwarded_for.rfind(',');
    const std::string hop(
        Trim(comma == std::string_view::npos ? forwarded_for : forwarded_for.substr(comma + 1)));
    forwarded_for =
        comma == std::string_view::npos ? std::string_view{} : forwarded_for.substr(0, comma);
    if (!IsIp(hop)) break;
    client = hop;
    if (!Trusted(hop, trusted)) break;
  }
  return client;
}

}  // namespace ta::api
