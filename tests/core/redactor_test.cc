#include "core/redactor.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <thread>
#include <vector>

namespace ta {
namespace {

constexpr const char* kJwt =
    "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJhdWQiOiJodHRwczovL2dyYXBoIn0.c2lnbmF0dXJlLWJ5dGVz";

std::string R(std::string_view in) {
  Redactor r;
  return r.Redact(in);
}

TEST(Redactor, BearerTokenAnywhere) {
  EXPECT_EQ(R("retrying with Bearer abc.DEF-123_x~y+z/== now"),
            "retrying with Bearer [REDACTED] now");
}

TEST(Redactor, AuthorizationHeaderValue) {
  EXPECT_EQ(R("Authorization: Basic dXNlcjpwYXNz\r\nHost: graph"),
            "Authorization: [REDACTED]\r\nHost: graph");
  EXPECT_EQ(R(R"({"authorization":"Token t0p-s3cret","x":1})"),
            R"({"authorization":"[REDACTED]","x":1})");
  EXPECT_EQ(R("Proxy-Authorization: Negotiate YIIabc"), "Proxy-Authorization: [REDACTED]");
  EXPECT_EQ(R("Cookie: ta_session=abcdef; csrf=123"), "Cookie: [REDACTED]");
}

TEST(Redactor, JwtShapedStrings) {
  const std::string out = R(std::string("token was ") + kJwt + ".");
  EXPECT_EQ(out.find("eyJ"), std::string::npos) << out;
  EXPECT_EQ(out.rfind("token was [REDACTED]", 0), 0u) << out;
}

TEST(Redactor, NamedValuesInFormEncoding) {
  EXPECT_EQ(R("grant_type=client_credentials&client_id=abc&client_secret=S3cr3t~val.ue&scope=x"),
            "grant_type=client_credentials&client_id=abc&client_secret=[REDACTED]&scope=x");
  EXPECT_EQ(R("password=hunter2&assertion=a.b.c&refresh_token=rt1"),
            "password=[REDACTED]&assertion=[REDACTED]&refresh_token=[REDACTED]");
}

TEST(Redactor, NamedValuesInQueryStrings) {
  EXPECT_EQ(R("GET https://login/cb?code=0.AAA-bbb&state=42"),
            "GET https://login/cb?code=[REDACTED]&state=42");
  EXPECT_EQ(R("https://x.blob.core/c/f?sv=2021&sig=abc%2Bdef%3D&se=2030"),
            "https://x.blob.core/c/f?sv=2021&sig=[REDACTED]&se=2030");
  EXPECT_EQ(R("/cb?access_token=at.1"), "/cb?access_token=[REDACTED]");
}

TEST(Redactor, NamedValuesInJson) {
  EXPECT_EQ(R(R"({"access_token": "eyX.y.z", "expires_in": 3599})"),
            R"({"access_token": "[REDACTED]", "expires_in": 3599})");
  EXPECT_EQ(R(R"({"client_secret":"a\"b","password":12345,"code":"c"})"),
            R"({"client_secret":"[REDACTED]","password":[REDACTED],"code":"[REDACTED]"})");
}

TEST(Redactor, NamedValuesInJsonEmbeddedInAString) {
  EXPECT_EQ(R(R"(body="{\"client_secret\":\"s3cr3t\",\"a\":1}")"),
            R"(body="{\"client_secret\":\"[REDACTED]\",\"a\":1}")");
}

TEST(Redactor, DoesNotTouchLookalikeKeys) {
  EXPECT_EQ(R("zipcode=12345&barcode=9&passwordless=true"),
            "zipcode=12345&barcode=9&passwordless=true");
  EXPECT_EQ(R("HTTP status code 503, retry in 2s"), "HTTP status code 503, retry in 2s");
}

TEST(Redactor, RegisteredSecretInAllSpellings) {
  Redactor r;
  const std::string secret = "Q~8x/9\"pl+=ab";
  r.RegisterSecret(secret);
  EXPECT_EQ(r.Redact("raw " + secret + " end"), "raw [REDACTED] end");
  EXPECT_EQ(r.Redact(R"(json "Q~8x\/9\"pl+=ab")"), R"(json "[REDACTED]")");
  EXPECT_EQ(r.Redact("form Q~8x%2F9%22pl%2B%3Dab&"), "form [REDACTED]&");
}

TEST(Redactor, LongerSecretWinsOverItsPrefix) {
  Redactor r;
  r.RegisterSecret("abcdefgh");
  r.RegisterSecret("abcdefgh-tail-1234");
  EXPECT_EQ(r.Redact("x abcdefgh-tail-1234 y abcdefgh"), "x [REDACTED] y [REDACTED]");
}

TEST(Redactor, EmptySecretIsIgnored) {
  Redactor r;
  r.RegisterSecret("");
  EXPECT_EQ(r.Redact("nothing to hide"), "nothing to hide");
}

TEST(Redactor, SurvivesInvalidUtf8AroundASecret) {
  Redactor r;
  r.RegisterSecret("s3cr3t-value");
  EXPECT_EQ(r.Redact("\xFF\xC3s3cr3t-value\xC3"), "\xFF\xC3[REDACTED]\xC3");
  EXPECT_EQ(r.Redact("\xFFpassword=x\xC3y"), "\xFFpassword=[REDACTED]");
}

TEST(Redactor, ConcurrentRegisterAndRedact) {
  Redactor r;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&r, t] {
      for (int i = 0; i < 50; ++i) {
        const std::string s = "secret-" + std::to_string(t) + "-" + std::to_string(i) + "-xyz";
        r.RegisterSecret(s);
        EXPECT_EQ(r.Redact("[" + s + "]"), "[[REDACTED]]");
      }
    });
  }
  for (auto& th : threads) th.join();
}

// Fuzz-style: random text with secrets planted in every supported form must not
// keep a single planted secret.
TEST(Redactor, FuzzPlantedSecretsNeverSurvive) {
  std::mt19937_64 rng(20261127);
  const std::string alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  const std::string noise_chars = alnum + " \t\n=&?:;,.{}[]\"'/\\-_~+%#<>\xC3\xA9\xFF";
  auto pick = [&](const std::string& from, size_t n) {
    std::string s;
    for (size_t i = 0; i < n; ++i) s += from[rng() % from.size()];
    return s;
  };
  auto secret_value = [&] { return "S" + pick(alnum + "-._~", 24 + rng() % 24); };
  auto jwt_segment = [&] { return pick(alnum + "-_", 24 + rng() % 24); };  // base64url
  const std::vector<std::string> keys = {"client_secret", "access_token", "refresh_token",
                                         "password",      "assertion",    "code",
                                         "sig",           "id_token"};
  int planted = 0;
  size_t secrets_checked = 0;
  for (int round = 0; round < 500; ++round) {
    Redactor r;
    const std::string registered = secret_value();
    r.RegisterSecret(registered);
    std::vector<std::string> secrets = {registered};
    std::string text;
    for (int part = 0; part < 8; ++part) {
      text += pick(noise_chars, rng() % 40);
      const std::string s = secret_value();
      const std::string& key = keys[rng() % keys.size()];
      switch (rng() % 8) {
        case 0:
          text += " Bearer " + s;
          break;
        case 1:
          text += "\nAuthorization: Bearer " + s + "\n";
          break;
        case 2:
          text += "&" + key + "=" + s + "&";
          break;
        case 3:
          text += "?" + key + "=" + s;
          break;
        case 4:
          text += "{\"" + key + "\": \"" + s + "\"}";
          break;
        case 5:
          text += "\\\"" + key + "\\\":\\\"" + s + "\\\"";
          break;
        case 6: {
          const std::string jwt = "eyJ" + jwt_segment() + "." + jwt_segment() + "." + jwt_segment();
          text += " " + jwt + " ";
          secrets.push_back(jwt.substr(jwt.find('.')));  // payload and signature
          break;
        }
        case 7:
          text += " " + registered + " ";
          break;
      }
      secrets.push_back(s);
      ++planted;
    }
    const std::string out = r.Redact(text);
    secrets_checked += secrets.size();
    for (const auto& s : secrets) {
      ASSERT_EQ(out.find(s), std::string::npos) << "secret " << s << " survived in:\n" << out;
    }
  }
  EXPECT_EQ(planted, 4000);
  EXPECT_GE(secrets_checked, 4500u);  // 500 rounds x (1 registered + 8 planted), plus JWTs
}

}  // namespace
}  // namespace ta
