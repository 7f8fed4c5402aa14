// SecretBox: seal/open round trips, a key ring during a rotation (the first
// key seals, any key opens), key ids, and certificate helpers (RS256, X.509).
#include "core/secret_box.h"

#include <gtest/gtest.h>

#include "core/base64.h"
#include "core/certificate.h"

namespace ta {
namespace {

TEST(SecretBox, ARingSealsWithTheFirstKeyAndOpensWithAny) {
  const std::string a = SecretBox::GenerateKeyBase64(), b = SecretBox::GenerateKeyBase64();
  const SecretBox old_box = *SecretBox::FromBase64Key(a);
  const SecretBox new_box = *SecretBox::FromBase64Key(b);
  const SecretBox ring = *SecretBox::FromBase64Key(b + ", " + a);
  const std::string under_old = old_box.Seal("s3cret");
  EXPECT_EQ(*ring.Open(under_old), "s3cret");
  EXPECT_FALSE(ring.SealedByFirstKey(under_old));
  const std::string under_ring = ring.Seal("s3cret");
  EXPECT_TRUE(ring.SealedByFirstKey(under_ring));
  EXPECT_EQ(*new_box.Open(under_ring), "s3cret");
  EXPECT_FALSE(old_box.Open(under_ring).has_value()) << "the ring seals with its first key";
  EXPECT_EQ(ring.KeyId(), new_box.KeyId());
  EXPECT_NE(old_box.KeyId(), new_box.KeyId());
  EXPECT_EQ(ring.KeyId().size(), 16u);
  EXPECT_EQ(old_box.WithFirstKey(new_box).KeyId(), new_box.KeyId());
  EXPECT_EQ(*old_box.WithFirstKey(new_box).Open(under_old), "s3cret");
  // A bad key in the ring names the setting; a value under no key of the ring fails.
  auto bad = SecretBox::FromBase64Key(b + ",not-a-key");
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message().find("TA_MASTER_KEY"), std::string::npos);
  const SecretBox other = *SecretBox::FromBase64Key(SecretBox::GenerateKeyBase64());
  EXPECT_FALSE(ring.Open(other.Seal("x")).has_value());
}

TEST(Certificate, AGeneratedCertificateSignsAndVerifies) {
  auto made = GenerateCertificate("TenantAtlas Contoso", 30, 1'800'000'000'000);
  ASSERT_TRUE(made.has_value()) << made.error().ToString();
  auto info = ReadCertificate(made->certificate_pem);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->not_before_ms, 1'800'000'000'000);
  EXPECT_EQ(info->not_after_ms, 1'800'000'000'000 + 30LL * 86'400'000);
  EXPECT_EQ(info->thumbprint.size(), 40u);
  EXPECT_EQ(Base64Decode(info->thumbprint_sha256, true)->size(), 32u);
  EXPECT_TRUE(KeyMatchesCertificate(made->private_key_pem, made->certificate_pem));
  auto sig = SignRs256(made->private_key_pem, "header.claims");
  ASSERT_TRUE(sig.has_value());
  EXPECT_TRUE(VerifyRs256(made->certificate_pem, "header.claims", *sig));
  EXPECT_FALSE(VerifyRs256(made->certificate_pem, "header.claimz", *sig));
  auto other = GenerateCertificate("other", 30, 1'800'000'000'000);
  EXPECT_FALSE(VerifyRs256(other->certificate_pem, "header.claims", *sig));
  EXPECT_FALSE(KeyMatchesCertificate(other->private_key_pem, made->certificate_pem));
  EXPECT_FALSE(ReadCertificate("-----BEGIN CERTIFICATE-----\nnope\n").has_value());
  EXPECT_FALSE(SignRs256("not a key", "x").has_value());
}

}  // namespace
}  // namespace ta
