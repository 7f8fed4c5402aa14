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
find_package(SQLite3 REQUIRED)
find_package(PostgreSQL REQUIRED)
