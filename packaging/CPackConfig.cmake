# Packaging: `cpack -G DEB` in the build folder makes a Debian package of the installed targets.
set(CPACK_PACKAGE_NAME "captioner")
set(CPACK_PACKAGE_VENDOR "Captioner")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "Captioner developers")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_GENERATOR "DEB;TGZ")
include(CPack)
