# Every third-party dependency is a Debian 12 package; scripts/bootstrap installs them.
# docs/ARCHITECTURE.md says why each one was chosen.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(nlohmann_json 3.11 REQUIRED)
find_package(tl-expected REQUIRED)
find_package(CLI11 REQUIRED)
pkg_check_modules(SODIUM REQUIRED IMPORTED_TARGET libsodium)
pkg_check_modules(RE2 REQUIRED IMPORTED_TARGET re2)
if(TA_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
if(TA_BUILD_BENCH)
  find_package(benchmark REQUIRED)
endif()
find_package(SQLite3 REQUIRED)
find_package(PostgreSQL REQUIRED)
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
find_package(CURL REQUIRED)
# Certificate credentials: RS256 client assertions, key pairs and X.509 (libssl-dev).
find_package(OpenSSL 3 REQUIRED COMPONENTS Crypto)
# Time zones for schedules: cctz (Debian libcctz-dev) reads the system's tz
# database (tzdata). It ships no CMake or pkg-config file.
find_path(CCTZ_INCLUDE_DIR cctz/time_zone.h REQUIRED)
find_library(CCTZ_LIBRARY cctz REQUIRED)
add_library(cctz::cctz UNKNOWN IMPORTED)
set_target_properties(cctz::cctz PROPERTIES IMPORTED_LOCATION "${CCTZ_LIBRARY}"
  INTERFACE_INCLUDE_DIRECTORIES "${CCTZ_INCLUDE_DIR}")
