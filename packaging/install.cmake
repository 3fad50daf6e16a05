# Installation of what is not a target, by component; each component is one Debian package
# (debian/rules installs them one by one), so that a server installs no Qt:
#   captioner          the command line and the service
#   desktop            the Qt desktop app (captioner-desktop; depends on captioner)
#   encoder            the pretrained encoder weights (captioner-encoder, architecture-independent)

# The converted encoder weights: without them the package could train on nothing but .npy
# features and caption nothing. quickstart.sh fetches and converts them into the build folder.
set(CAPTIONER_ENCODER_FILE "${CMAKE_BINARY_DIR}/share/captioner/inception_v3_nsfwjs.pt")
install(CODE "
  if(NOT EXISTS \"${CAPTIONER_ENCODER_FILE}\")
    message(FATAL_ERROR \"${CAPTIONER_ENCODER_FILE} is missing: packaging/quickstart.sh package fetches and converts it\")
  endif()" COMPONENT encoder)
install(FILES "${CAPTIONER_ENCODER_FILE}" DESTINATION share/captioner COMPONENT encoder)
# Man pages generated from the programs' own --help (help2man), when help2man is installed.
find_program(HELP2MAN help2man)
if(HELP2MAN)
  set(_man "${CMAKE_BINARY_DIR}/captioner.1.gz")
  add_custom_command(OUTPUT "${_man}"
    COMMAND "${CMAKE_CURRENT_LIST_DIR}/manpage.sh" "$<TARGET_FILE:captioner>" "${_man}"
            "train image-captioning models and caption images"
    DEPENDS captioner "${CMAKE_CURRENT_LIST_DIR}/manpage.sh"
    COMMENT "Writing the man page from captioner --help")
  set(_pages "${_man}")
  install(FILES "${_man}" DESTINATION share/man/man1 COMPONENT captioner)
  if(CAPTIONER_WITH_QT)
    set(_desktop_man "${CMAKE_BINARY_DIR}/captioner-desktop.1.gz")
    add_custom_command(OUTPUT "${_desktop_man}"
      COMMAND "${CMAKE_CURRENT_LIST_DIR}/manpage.sh" "$<TARGET_FILE:captioner-desktop>" "${_desktop_man}"
              "desktop app for training image-captioning models and captioning images"
      DEPENDS captioner-desktop "${CMAKE_CURRENT_LIST_DIR}/manpage.sh"
      COMMENT "Writing the man page from captioner-desktop --help")
    list(APPEND _pages "${_desktop_man}")
    install(FILES "${_desktop_man}" DESTINATION share/man/man1 COMPONENT desktop)
  endif()
  add_custom_target(manpage ALL DEPENDS ${_pages})
else()
  message(STATUS "Captioner: help2man not found; no man page (the package build installs it)")
endif()

