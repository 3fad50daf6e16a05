# Installation of what is not a target, and the Debian packages: `packaging/quickstart.sh package`
# (or `cpack -G DEB` in a build folder where the encoder weights have been converted) writes three,
# one per install component, so that a server installs no Qt:
#   captioner          the command line and the service (components "captioner")
#   captioner-desktop  the Qt desktop app; depends on captioner ("desktop")
#   captioner-encoder  the pretrained encoder weights, architecture-independent ("encoder")

# The converted encoder weights: without them the package could train on nothing but .npy
# features and caption nothing. quickstart.sh fetches and converts them into the build folder.
set(CAPTIONER_ENCODER_FILE "${CMAKE_BINARY_DIR}/share/captioner/inception_v3_nsfwjs.pt")
install(CODE "
  if(NOT EXISTS \"${CAPTIONER_ENCODER_FILE}\")
    message(FATAL_ERROR \"${CAPTIONER_ENCODER_FILE} is missing: packaging/quickstart.sh package fetches and converts it\")
  endif()")
install(FILES "${CAPTIONER_ENCODER_FILE}" DESTINATION share/captioner COMPONENT encoder)
# Each package carries the copyright file, as Debian policy asks.
install(FILES "${CMAKE_CURRENT_LIST_DIR}/copyright" DESTINATION share/doc/captioner COMPONENT captioner)
install(FILES "${CMAKE_CURRENT_LIST_DIR}/copyright" DESTINATION share/doc/captioner-desktop COMPONENT desktop)
install(FILES "${CMAKE_CURRENT_LIST_DIR}/copyright" DESTINATION share/doc/captioner-encoder COMPONENT encoder)
# The caption service's systemd unit (disabled until enabled) and its settings.
install(FILES "${CMAKE_CURRENT_LIST_DIR}/systemd/captioner.service" DESTINATION lib/systemd/system COMPONENT captioner)
install(FILES "${CMAKE_CURRENT_LIST_DIR}/systemd/captioner.default" DESTINATION share/doc/captioner COMPONENT captioner)

# A man page generated from the program's own --help (help2man), when help2man is installed.
find_program(HELP2MAN help2man)
if(HELP2MAN)
  set(_man "${CMAKE_BINARY_DIR}/captioner.1.gz")
  add_custom_command(OUTPUT "${_man}"
    COMMAND "${CMAKE_CURRENT_LIST_DIR}/manpage.sh" "$<TARGET_FILE:captioner>" "${_man}"
    DEPENDS captioner "${CMAKE_CURRENT_LIST_DIR}/manpage.sh"
    COMMENT "Writing the man page from captioner --help")
  add_custom_target(manpage ALL DEPENDS "${_man}")
  install(FILES "${_man}" DESTINATION share/man/man1 COMPONENT captioner)
else()
  message(STATUS "Captioner: help2man not found; no man page (the package build installs it)")
endif()

set(CAPTIONER_MAINTAINER "Captioner maintainers <maintainers@captioner.dev>"
    CACHE STRING "The Maintainer field of the Debian package")
set(CPACK_PACKAGE_NAME "captioner")
set(CPACK_PACKAGE_VENDOR "Captioner")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "image captioning studio: train captioning models and caption images")
set(CPACK_COMPONENT_CAPTIONER_DESCRIPTION "image captioning studio: train captioning models and caption images
Captioner trains image-captioning models (an LSTM decoder or a soft-attention decoder over a
pretrained Inception-v3) on COCO, Karpathy-split or built-in synthetic data, and captions images
greedily, by sampling or by beam search, with each word's attention map. This package holds the
command line (training, feature extraction, captioning, COCO-style evaluation) and the caption
service (OpenAI- and Hugging Face-compatible HTTP, with a systemd unit); it needs no Qt. The
desktop app is in captioner-desktop.")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${CAPTIONER_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION "science")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # <package>_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL captioner encoder)
if(CAPTIONER_WITH_QT)
  list(APPEND CPACK_COMPONENTS_ALL desktop)
endif()
set(CPACK_DEBIAN_CAPTIONER_PACKAGE_NAME "captioner")
set(CPACK_DEBIAN_DESKTOP_PACKAGE_NAME "captioner-desktop")
set(CPACK_DEBIAN_ENCODER_PACKAGE_NAME "captioner-encoder")
set(CPACK_DEBIAN_ENCODER_PACKAGE_ARCHITECTURE "all")
set(CPACK_DEBIAN_DESKTOP_PACKAGE_SECTION "graphics")
set(CPACK_COMPONENT_DESKTOP_DESCRIPTION "image captioning studio: the desktop app
The Qt desktop app of Captioner: train captioning models with live loss curves, compare and
evaluate runs, and caption images with each word's attention map. The command line and the
caption service are in the captioner package.")
set(CPACK_COMPONENT_ENCODER_DESCRIPTION "image captioning studio: the pretrained encoder weights
Inception-v3 weights (nsfwjs's, MIT), converted for Captioner's encoder: the image features that
training and captioning start from.")
# Libraries found by dpkg-shlibdeps (LibTorch, oneDNN, OpenCV; Qt for the desktop app), plus what
# is loaded at run time rather than linked: an optimised BLAS for LibTorch (the default
# alternative is the slow reference BLAS) and Qt's platform plugins for the desktop app.
set(_version "${PROJECT_VERSION}")
set(CPACK_DEBIAN_CAPTIONER_PACKAGE_DEPENDS "captioner-encoder (= ${_version}), libopenblas0-openmp | libopenblas0-pthread")
set(CPACK_DEBIAN_DESKTOP_PACKAGE_DEPENDS "captioner (= ${_version}), qt6-qpa-plugins")
# Debian 13's Qt (6.8) ships the SVG icon engine in its own package; Debian 12's (6.4) in libqt6svg6.
if(CAPTIONER_WITH_QT AND Qt6_VERSION VERSION_GREATER_EQUAL 6.8)
  string(APPEND CPACK_DEBIAN_DESKTOP_PACKAGE_DEPENDS ", qt6-svg-plugins")
endif()
set(CPACK_GENERATOR "DEB")
include(CPack)
