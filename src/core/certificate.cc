#include "core/certificate.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <memory>

#include "core/base64.h"

namespace ta {
namespace {

template <auto Free>
struct Deleter {
  template <typename T>
  void operator()(T* p) const {
    Free(p);
  }
};
using Bio = std::unique_ptr<BIO, Deleter<BIO_free_all>>;
using Key = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using Cert = std::unique_ptr<X509, Deleter<X509_free>>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX_free>>;
using KeyCtx = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX_free>>;

Bio ReadBio(std::string_view pem) {
  return Bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

std::string Drain(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(n));
}

Key ReadKey(std::string_view pem) {
  Bio bio = ReadBio(pem);
  return Key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr);
}

Cert ReadCert(std::string_view pem) {
  Bio bio = ReadBio(pem);
  return Cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
}

int64_t TimeMs(const ASN1_TIME* t) {
  struct tm tm {};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return static_cast<int64_t>(timegm(&tm)) * 1000;
}

}  // namespace

Result<GeneratedCertificate> GenerateCertificate(const std::string& common_name, int days,
                                                 int64_t now_ms) {
  Key key(EVP_RSA_gen(2048));
  Cert cert(X509_new());
  if (!key || !cert) return Unexpected(Status::Internal("certificate: key generation failed"));
  X509_set_version(cert.get(), 2);
  // A random 63-bit serial number.
  std::unique_ptr<BIGNUM, Deleter<BN_free>> bn(BN_new());
  BN_rand(bn.get(), 63, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY);
  BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get()));
  const time_t from = static_cast<time_t>(now_ms / 1000);
  ASN1_TIME_set(X509_getm_notBefore(cert.get()), from);
  ASN1_TIME_set(X509_getm_notAfter(cert.get()), from + static_cast<time_t>(days) * 86400);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                             0);
  X509_set_issuer_name(cert.get(), name);
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0)
    return Unexpected(Status::Internal("certificate: signing failed"));
  Bio key_out(BIO_new(BIO_s_mem())), cert_out(BIO_new(BIO_s_mem()));
  if (!PEM_write_bio_PrivateKey(key_out.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) ||
      !PEM_write_bio_X509(cert_out.get(), cert.get()))
    return Unexpected(Status::Internal("certificate: could not write PEM"));
  return GeneratedCertificate{Drain(key_out.get()), Drain(cert_out.get())};
}

Result<CertificateInfo> ReadCertificate(std::string_view pem) {
  Cert cert = ReadCert(pem);
  if (!cert)
    return Unexpected(Status::InvalidArgument(
        "certificate: not a PEM certificate (\"-----BEGIN CERTIFICATE-----\" ...)"));
  unsigned char sha1[20], sha256[32];
  unsigned int n = 0;
  X509_digest(cert.get(), EVP_sha1(), sha1, &n);
  X509_digest(cert.get(), EVP_sha256(), sha256, &n);
  CertificateInfo info;
  static const char* kHex = "0123456789ABCDEF";
  for (unsigned char b : sha1) {
    info.thumbprint.push_back(kHex[b >> 4]);
    info.thumbprint.push_back(kHex[b & 15]);
  }
  info.thumbprint_sha256 =
      Base64Encode(std::string_view(reinterpret_cast<const char*>(sha256), sizeof sha256), true);
  info.not_before_ms = TimeMs(X509_get0_notBefore(cert.get()));
  info.not_after_ms = TimeMs(X509_get0_notAfter(cert.get()));
  return info;
}

Result<std::string> SignRs256(std::string_view private_key_pem, std::string_view data) {
  Key key = ReadKey(private_key_pem);
  if (!key) return Unexpected(Status::InvalidArgument("private key: not a PEM private key"));
  MdCtx ctx(EVP_MD_CTX_new());
  size_t len = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(data.data()),
                     data.size()) != 1)
    return Unexpected(Status::Internal("RS256: signing failed"));
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1)
    return Unexpected(Status::Internal("RS256: signing failed"));
  sig.resize(len);
  return Base64Encode(sig, true);
}

bool VerifyRs256(std::string_view certificate_pem, std::string_view data,
                 std::string_view signature_b64url) {
  Cert cert = ReadCert(certificate_pem);
  auto sig = Base64Decode(signature_b64url, true);
  if (!cert || !sig) return false;
  Key key(X509_get_pubkey(cert.get()));
  MdCtx ctx(EVP_MD_CTX_new());
  return key && ctx &&
         EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) == 1 &&
         EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig->data()),
                          sig->size(), reinterpret_cast<const unsigned char*>(data.data()),
                          data.size()) == 1;
}

bool KeyMatchesCertificate(std::string_view private_key_pem, std::string_view certificate_pem) {
  Key key = ReadKey(private_key_pem);
  Cert cert = ReadCert(certificate_pem);
  return key && cert && X509_check_private_key(cert.get(), key.get()) == 1;
}

}  // namespace ta
