# Writes a C++ source defining captioner::web_assets() with the bytes of the given (UTF-8 text) files, so the
# web page ships inside the binary.
#   cmake -DOUT=<file.cpp> -DASSETS="<url path>|<content type>|<file>;..." -P embed_files.cmake
cmake_minimum_required(VERSION 3.24)
set(body "")
set(list "")
set(index 0)
foreach(asset IN LISTS ASSETS)
  string(REPLACE "|" ";" fields "${asset}")
  list(GET fields 0 url)
  list(GET fields 1 type)
  list(GET fields 2 file)
  file(READ "${file}" hex HEX)
  string(LENGTH "${hex}" digits)
  math(EXPR size "${digits} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "'\\\\x\\1'," bytes "${hex}")
  string(APPEND body "const char kAsset${index}[] = {${bytes}};\n")
  string(APPEND list "      {\"${url}\", \"${type}; charset=utf-8\", std::string(kAsset${index}, ${size})},\n")
  math(EXPR index "${index} + 1")
endforeach()
file(WRITE "${OUT}.tmp" "// Generated from resources/web by core/serve/embed_files.cmake; do not edit.
#include \"core/serve/web_assets.h\"

namespace captioner {
namespace {
${body}}  // namespace

const std::vector<WebAsset>& web_assets() {
  static const std::vector<WebAsset> assets = {
${list}  };
  return assets;
}

}  // namespace captioner
")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.tmp")
