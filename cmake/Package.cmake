# The Debian package (`make package`: scripts/package): the binary, the web
# UI, systemd units for serve and worker@, settings in /etc/tenantatlas, a
# man page and the Debian documentation files. CPack's DEB generator builds
# it; dpkg-shlibdeps computes the library dependencies.
set(TA_PKG ${PROJECT_SOURCE_DIR}/packaging)

install(TARGETS tenantatlas RUNTIME DESTINATION bin)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/web/dist/ DESTINATION share/tenantatlas/web)
install(FILES ${TA_PKG}/tenantatlas-serve.service ${TA_PKG}/tenantatlas-worker@.service
        DESTINATION lib/systemd/system)
install(FILES ${TA_PKG}/tenantatlas.env DESTINATION /etc/tenantatlas)
install(FILES ${TA_PKG}/copyright DESTINATION share/doc/tenantatlas)
install(FILES ${TA_PKG}/lintian-overrides DESTINATION share/lintian/overrides
        RENAME tenantatlas)

# Debian wants the man page and the changelog compressed, reproducibly (-n).
set(TA_GZ ${CMAKE_CURRENT_BINARY_DIR}/package)
add_custom_command(
  OUTPUT ${TA_GZ}/tenantatlas.1.gz ${TA_GZ}/changelog.gz
  COMMAND ${CMAKE_COMMAND} -E make_directory ${TA_GZ}
  COMMAND sh -c "gzip -9n -c \"$1\" > \"$2\"" gz ${TA_PKG}/tenantatlas.1 ${TA_GZ}/tenantatlas.1.gz
  COMMAND sh -c "gzip -9n -c \"$1\" > \"$2\"" gz ${TA_PKG}/changelog ${TA_GZ}/changelog.gz
  DEPENDS ${TA_PKG}/tenantatlas.1 ${TA_PKG}/changelog
  VERBATIM)
add_custom_target(package_docs ALL DEPENDS ${TA_GZ}/tenantatlas.1.gz ${TA_GZ}/changelog.gz)
install(FILES ${TA_GZ}/tenantatlas.1.gz DESTINATION share/man/man1)
install(FILES ${TA_GZ}/changelog.gz DESTINATION share/doc/tenantatlas)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME tenantatlas)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "Backup and restore of Microsoft Intune configuration for MSPs")
set(CPACK_PACKAGE_DESCRIPTION
    "TenantAtlas syncs the policy inventory of many Microsoft Intune tenants
through Microsoft Graph, captures versioned snapshots, groups them into backup
sets and restores them, each as an idempotent background run with per-item
outcomes and a hash-chained audit trail. This package runs it as systemd
services (an API server with a web UI, and workers) on SQLite or PostgreSQL.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "TenantAtlas Maintainers <maintainers@tenantatlas.invalid>")
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${TA_PKG}/debian/postinst ${TA_PKG}/debian/prerm ${TA_PKG}/debian/postrm
    ${TA_PKG}/debian/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_OUTPUT_FILE_PREFIX ${CMAKE_BINARY_DIR}/dist)
include(CPack)
