#pragma once

// X.509 certificates and RS256 signatures (OpenSSL's libcrypto): what an app
// that authenticates with a certificate needs. TenantAtlas makes the key pair
// itself; the private key is sealed (SecretBox) and leaves the process only as
// signatures.

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"

namespace ta {

struct GeneratedCertificate {
  std::string private_key_pem;  // PKCS#8; seal it, never log it
  std::string certificate_pem;  // public: uploaded to the app registration in Entra
};

// An RSA 2048 key and a self-signed certificate for `common_name`, valid
// from `now_ms` for `days` days.
Result<GeneratedCertificate> GenerateCertificate(const std::string& common_name, int days,
                                                 int64_t now_ms);

struct CertificateInfo {
  std::string thumbprint;         // SHA-1 of the DER, upper-case hex: what Entra lists
  std::string thumbprint_sha256;  // SHA-256 of the DER, base64url: a JWT's x5t#S256
  int64_t not_before_ms = 0, not_after_ms = 0;
};
// InvalidArgument when `pem` is not a certificate.
Result<CertificateInfo> ReadCertificate(std::string_view pem);

// The RS256 (RSASSA-PKCS1-v1_5, SHA-256) signature of `data`, base64url.
Result<std::string> SignRs256(std::string_view private_key_pem, std::string_view data);
// Whether `signature_b64url` is `data` signed by the certificate's key.
bool VerifyRs256(std::string_view certificate_pem, std::string_view data,
                 std::string_view signature_b64url);
// Whether the private key is the one the certificate certifies.
bool KeyMatchesCertificate(std::string_view private_key_pem, std::string_view certificate_pem);

}  // namespace ta
