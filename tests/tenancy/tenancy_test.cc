// The tenancy rules on both backends: each change writes its own audit entry
// in the same transaction (and none when it is refused), the last-owner rule
// holds for every caller, and a sealed secret never reaches the audit log.
#include <gtest/gtest.h>

#include "core/credentials.h"
#include "core/secret_box.h"
#include "store/accounts.h"
#include "store/audit_log.h"
#include "support/test_database.h"
#include "tenancy/tenancy.h"

namespace ta::tenancy {
namespace {

using ::ta::testing::TestBackend;

class TenancyTest : public ::testing::TestWithParam<TestBackend> {};

const Actor kCli{std::nullopt, "cli", 1000};

// The actions in a tenant's audit chain, oldest first, with their details.
std::vector<std::pair<std::string, std::string>> Trail(store::Database& db, int64_t tenant) {
  auto rows = store::ReadResult<std::vector<store::AuditLog::Row>>(
      db, [&](store::Tx& tx) { return store::AuditLog::List(tx, tenant, {}); });
  EXPECT_TRUE(rows.has_value());
  std::vector<std::pair<std::string, std::string>> out;
  if (rows)
    for (const auto& r : *rows) out.emplace_back(r.entry.action, r.entry.details);
  std::sort(out.begin(), out.end());
  return out;
}

bool Has(const std::vector<std::pair<std::string, std::string>>& trail, const std::string& action) {
  for (const auto& [a, _] : trail)
    if (a == action) return true;
  return false;
}

TEST_P(TenancyTest, EveryChangeAuditsItselfAndTheLastOwnerStays) {
  TA_OPEN_DB(t);
  store::Database& db = t->db();
  auto box = *SecretBox::FromBase64Key(SecretBox::GenerateKeyBase64());
  auto ids = store::WriteResult<std::pair<int64_t, int64_t>>(
      db, [&](store::Tx& tx) -> Result<std::pair<int64_t, int64_t>> {
        auto owner = CreateUser(tx, kCli, "owner@example.com", "Owner", "", false);
        if (!owner) return Unexpected(owner.error());
        auto tenant = CreateTenant(tx, kCli, "Contoso", *owner);
        if (!tenant) return Unexpected(tenant.error());
        TA_RETURN_IF_ERROR(SetCredentials(
            tx, kCli, *tenant, {"contoso.example", "app", "s3cret-Never-Logged"}, box));
        return std::make_pair(*owner, *tenant);
      });
  ASSERT_TRUE(ids.has_value()) << ids.error().ToString();
  const auto [owner, tenant] = *ids;

  auto trail = Trail(db, tenant);
  EXPECT_TRUE(Has(trail, "tenant.created"));
  EXPECT_TRUE(Has(trail, "member.set"));
  EXPECT_TRUE(Has(trail, "tenant.credentials_set"));
  for (const auto& [action, details] : trail) {
    EXPECT_EQ(details.find("s3cret"), std::string::npos) << action << ": " << details;
    EXPECT_NE(details.find("\"via\":\"cli\""), std::string::npos) << action << ": " << details;
  }
  EXPECT_TRUE(Has(Trail(db, 0), "user.created"));

  // The only owner can be neither demoted nor removed, and a refused change
  // leaves no audit entry.
  const size_t before = Trail(db, tenant).size();
  Status demote =
      db.Write([&](store::Tx& tx) { return SetMember(tx, kCli, tenant, owner, "operator"); });
  EXPECT_EQ(demote.code(), Status::Code::kConflict) << demote.ToString();
  Status remove = db.Write([&](store::Tx& tx) { return RemoveMember(tx, kCli, tenant, owner); });
  EXPECT_EQ(remove.code(), Status::Code::kConflict) << remove.ToString();
  EXPECT_EQ(Trail(db, tenant).size(), before);

  // With a second owner the first may go; a non-member is NotFound.
  auto second = store::WriteResult<int64_t>(db, [&](store::Tx& tx) -> Result<int64_t> {
    auto u = CreateUser(tx, kCli, "second@example.com", "Second", "", false);
    if (!u) return u;
    TA_RETURN_IF_ERROR(SetMember(tx, kCli, tenant, *u, "owner"));
    return u;
  });
  ASSERT_TRUE(second.has_value());
  EXPECT_TRUE(db.Write([&](store::Tx& tx) { return RemoveMember(tx, kCli, tenant, owner); }).ok());
  EXPECT_EQ(db.Write([&](store::Tx& tx) { return RemoveMember(tx, kCli, tenant, owner); }).code(),
            Status::Code::kNotFound);
  EXPECT_TRUE(Has(Trail(db, tenant), "member.removed"));
  EXPECT_EQ(db.Write([&](store::Tx& tx) { return SetMember(tx, kCli, tenant, *second, "admin"); })
                .code(),
            Status::Code::kInvalidArgument);

  // Tokens: only the owner revokes through the API; the CLI may revoke any.
  auto token = store::WriteResult<int64_t>(db, [&](store::Tx& tx) {
    return CreateToken(tx, kCli, *second, "ci", SecretHash("tat_x"), std::nullopt);
  });
  ASSERT_TRUE(token.has_value());
  const Actor other_user{owner, "api", 2000};
  EXPECT_EQ(db.Write([&](store::Tx& tx) { return RevokeToken(tx, other_user, *token, owner); })
                .code(),
            Status::Code::kPermissionDenied);
  EXPECT_TRUE(
      db.Write([&](store::Tx& tx) { return RevokeToken(tx, kCli, *token, std::nullopt); }).ok());
  auto global = Trail(db, 0);
  EXPECT_TRUE(Has(global, "token.created"));
  EXPECT_TRUE(Has(global, "token.revoked"));
  EXPECT_TRUE(store::AuditLog::Verify(db).value().empty());
}

TEST(Tenancy, CredentialsNameTheFieldAndTheFix) {
  EXPECT_NE(ValidateCredentials({"", "app", "s"}).message().find("entra_tenant_id: is required"),
            std::string::npos);
  EXPECT_NE(ValidateCredentials({"x", "app", ""}).message().find("client_secret: is required"),
            std::string::npos);
  EXPECT_NE(ValidateCredentials({"contoso/evil", "app", "s"}).message().find("a GUID"),
            std::string::npos);
  EXPECT_TRUE(ValidateCredentials({"contoso.onmicrosoft.com", "app", "s"}).ok());
  EXPECT_NE(ValidateCredentials({"contoso.onmicrosoft.us", "app", "s", std::nullopt, "gcchigh"})
                .message()
                .find("cloud: must be global, usgov, usgovdod or china"),
            std::string::npos);
  EXPECT_TRUE(ValidateCredentials({"contoso.onmicrosoft.us", "app", "s", std::nullopt, "usgov"}).ok());
  EXPECT_TRUE(ValidateDirectory("", "china", /*entra_required=*/false).ok());
  EXPECT_FALSE(ValidateDirectory("", "china").ok());
}

TEST(Tenancy, ExpiryPhrasesNameTheKindOfCredential) {
  const int64_t day = 86'400'000, now = 1'800'000'000'000;
  EXPECT_EQ(ExpiryPhrase(now + 10 * day + 1000, now),
            "the client secret expires on 2027-01-25 (in 10 days)");
  EXPECT_EQ(ExpiryPhrase(now - day, now, /*certificate=*/true),
            "the certificate expired on 2027-01-14");
  EXPECT_EQ(CredentialExpiry(now + 10 * day, now), "expiring");
  EXPECT_EQ(CredentialExpiry(std::nullopt, now), "unknown");
}

INSTANTIATE_TEST_SUITE_P(Backends, TenancyTest,
                         ::testing::Values(TestBackend::kSqlite, TestBackend::kPostgres),
                         ::ta::testing::BackendName);

}  // namespace
}  // namespace ta::tenancy
