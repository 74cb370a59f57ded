# Finds the ONNX Runtime C API header (onnxruntime_c_api.h, ORT_API_VERSION >= 21) that
# fastfer::Session and fastfer::Pipeline are compiled against. ONNX Runtime itself is never linked:
# the session dlopen()s the library of the installed onnxruntime wheel at run time, so the header
# is all the build needs, and any C API version >= 21 works with any newer runtime.
#
# Where it looks, first hit wins:
#   1. FASTFER_ORT_INCLUDE_DIR (CMake variable, else environment variable): used as given and
#      nothing else is tried, so a wrong folder is reported rather than silently replaced;
#   2. third_party/onnxruntime/include (tools/fetch_onnxruntime_headers.sh) and this build
#      folder's earlier fetch;
#   3. the system: <prefix>/include[/onnxruntime] of CMake's search prefixes and $CONDA_PREFIX
#      (Debian 13 / Ubuntu's libonnxruntime-dev, a conda or hand-made install);
#   4. Debian's libonnxruntime-dev (trixie, 1.21) with apt-get download + dpkg -x into this build
#      folder (tools/fetch_onnxruntime_headers.sh --dest): nothing is installed system-wide;
#   5. the same .deb downloaded from a pinned URL and checked against its sha256 (for machines
#      without apt or with other sources), unpacked by CMake itself.
# Steps 4 and 5 need the network. FASTFER_ORT_FETCH (CMake variable, else environment variable):
# ON (the default) tries both, "apt" or "download" only that one, OFF neither (stay offline).
#
# fastfer_find_onnxruntime_header() sets, in the caller's scope:
#   FASTFER_ORT_HEADER_DIR   the folder holding onnxruntime_c_api.h, or "" when none was had
#   FASTFER_ORT_HEADER_NOTE  one line: where the header came from, or everything that was tried

set(FASTFER_ORT_MIN_API_VERSION 21)

# The pinned download: Debian trixie's libonnxruntime-dev 1.21.0+dfsg-1 (amd64; the headers in it
# are the same on every architecture). The sha256 is the one in trixie's signed package index.
set(FASTFER_ORT_DEB_URL
    "https://deb.debian.org/debian/pool/main/o/onnxruntime/libonnxruntime-dev_1.21.0+dfsg-1_amd64.deb"
    CACHE STRING "Pinned download of a .deb holding usr/include/onnxruntime/onnxruntime_c_api.h")
set(FASTFER_ORT_DEB_SHA256 "14f7d959d5deacbcf1504830d4189f91fc67382b399ed9ae9d3aa9c4050ced08"
    CACHE STRING "sha256 of FASTFER_ORT_DEB_URL")
mark_as_advanced(FASTFER_ORT_DEB_URL FASTFER_ORT_DEB_SHA256)

# Sets <out> to the header's ORT_API_VERSION when <dir>/onnxruntime_c_api.h exists, else "".
function(_fastfer_ort_api_version dir out)
  set(version "")
  if(EXISTS "${dir}/onnxruntime_c_api.h")
    file(STRINGS "${dir}/onnxruntime_c_api.h" line REGEX "^#define ORT_API_VERSION [0-9]+" LIMIT_COUNT 1)
    string(REGEX REPLACE "^#define ORT_API_VERSION ([0-9]+).*" "\\1" version "${line}")
    if(version STREQUAL "")
      set(version "?")  # present but without a version line: reported as too old
    endif()
  endif()
  set(${out} "${version}" PARENT_SCOPE)
endfunction()

# Sets <ok> TRUE when <dir> holds a usable header; else FALSE and appends why to the list <why>.
function(_fastfer_ort_check dir label out_ok out_why)
  _fastfer_ort_api_version("${dir}" version)
  if(version STREQUAL "")
    set(${out_ok} FALSE PARENT_SCOPE)
    set(${out_why} "${${out_why}};${label}: no onnxruntime_c_api.h in ${dir}" PARENT_SCOPE)
  elseif(NOT version MATCHES "^[0-9]+$" OR version LESS FASTFER_ORT_MIN_API_VERSION)
    set(${out_ok} FALSE PARENT_SCOPE)
    set(${out_why} "${${out_why}};${label}: ${dir}/onnxruntime_c_api.h has ORT_API_VERSION ${version}, fastfer needs >= ${FASTFER_ORT_MIN_API_VERSION}" PARENT_SCOPE)
  else()
    set(${out_ok} TRUE PARENT_SCOPE)
  endif()
endfunction()

# Step 5: download the pinned .deb and unpack its C API header into <dest>/include.
function(_fastfer_ort_download dest out_ok out_why)
  set(${out_ok} FALSE PARENT_SCOPE)
  set(deb "${dest}/download/libonnxruntime-dev.deb")
  # The hash is checked here rather than by EXPECTED_HASH, which makes a mismatch a fatal error.
  file(DOWNLOAD "${FASTFER_ORT_DEB_URL}" "${deb}" TIMEOUT 120 INACTIVITY_TIMEOUT 30 STATUS status)
  list(GET status 0 code)
  if(NOT code EQUAL 0)
    list(GET status 1 text)
    file(REMOVE "${deb}")
    set(${out_why} "${${out_why}};download of ${FASTFER_ORT_DEB_URL}: ${text}" PARENT_SCOPE)
    return()
  endif()
  file(SHA256 "${deb}" got)
  string(TOLOWER "${FASTFER_ORT_DEB_SHA256}" want)
  if(NOT got STREQUAL want)
    file(REMOVE "${deb}")
    set(${out_why} "${${out_why}};download of ${FASTFER_ORT_DEB_URL}: sha256 ${got}, expected ${want}" PARENT_SCOPE)
    return()
  endif()
  # A .deb is an ar archive holding data.tar.*; CMake's archive support reads both.
  set(unpack "${dest}/download/unpacked")
  file(REMOVE_RECURSE "${unpack}")
  file(MAKE_DIRECTORY "${unpack}")
  execute_process(COMMAND "${CMAKE_COMMAND}" -E tar xf "${deb}" WORKING_DIRECTORY "${unpack}"
                  RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
  file(GLOB data "${unpack}/data.tar.*")
  if(NOT rc EQUAL 0 OR NOT data)
    set(${out_why} "${${out_why}};download of ${FASTFER_ORT_DEB_URL}: cannot unpack it (${err})" PARENT_SCOPE)
    return()
  endif()
  execute_process(COMMAND "${CMAKE_COMMAND}" -E tar xf "${data}" WORKING_DIRECTORY "${unpack}"
                  RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
  set(src "${unpack}/usr/include/onnxruntime")
  if(NOT rc EQUAL 0 OR NOT EXISTS "${src}/onnxruntime_c_api.h")
    set(${out_why} "${${out_why}};download of ${FASTFER_ORT_DEB_URL}: no usr/include/onnxruntime/onnxruntime_c_api.h in it" PARENT_SCOPE)
    return()
  endif()
  file(MAKE_DIRECTORY "${dest}/include")
  foreach(name onnxruntime_c_api.h onnxruntime_float16.h)
    if(EXISTS "${src}/${name}")
      file(COPY "${src}/${name}" DESTINATION "${dest}/include")
    endif()
  endforeach()
  # ONNX Runtime's licence (MIT) as Debian records it, next to the header, as the script does.
  set(copyright "${unpack}/usr/share/doc/libonnxruntime-dev/copyright")
  if(EXISTS "${copyright}")
    configure_file("${copyright}" "${dest}/COPYRIGHT.debian" COPYONLY)
  endif()
  get_filename_component(deb_name "${FASTFER_ORT_DEB_URL}" NAME)
  file(WRITE "${dest}/SOURCE" "${deb_name}\n")
  file(REMOVE_RECURSE "${dest}/download")
  set(${out_ok} TRUE PARENT_SCOPE)
endfunction()

function(fastfer_find_onnxruntime_header)
  set(root "${CMAKE_CURRENT_FUNCTION_LIST_DIR}/..")
  get_filename_component(root "${root}" ABSOLUTE)
  set(fetched "${CMAKE_CURRENT_BINARY_DIR}/onnxruntime-header")  # steps 4 and 5 put it here
  set(why "")
  set(found "")
  set(from "")

  # 1. Given explicitly: that folder and nothing else.
  set(given "${FASTFER_ORT_INCLUDE_DIR}")
  set(given_by "FASTFER_ORT_INCLUDE_DIR")
  if(given STREQUAL "" AND NOT "$ENV{FASTFER_ORT_INCLUDE_DIR}" STREQUAL "")
    set(given "$ENV{FASTFER_ORT_INCLUDE_DIR}")
    set(given_by "environment variable FASTFER_ORT_INCLUDE_DIR")
  endif()
  if(given STREQUAL "${root}/third_party/onnxruntime/include")
    set(given "")  # the cache value of older builds, which had this default: searched in step 2
  endif()
  if(NOT given STREQUAL "")
    get_filename_component(given "${given}" ABSOLUTE)
    _fastfer_ort_check("${given}" "${given_by}" ok why)
    if(ok)
      set(found "${given}")
      set(from "${given_by}")
    endif()
  else()
    # 2. Fetched before: into the source tree by the script, or into this build folder.
    foreach(dir "${root}/third_party/onnxruntime/include" "${fetched}/include")
      _fastfer_ort_api_version("${dir}" version)
      if(NOT found AND NOT version STREQUAL "")
        _fastfer_ort_check("${dir}" "fetched earlier" ok why)
        if(ok)
          set(found "${dir}")
          set(from "an earlier fetch")
          if(EXISTS "${dir}/../SOURCE")
            file(STRINGS "${dir}/../SOURCE" source LIMIT_COUNT 1)
            set(from "${source}, fetched earlier")
          endif()
        endif()
      endif()
    endforeach()

    # 3. The system. Searched afresh at every configure (no stale cache entry).
    if(NOT found)
      unset(_FASTFER_ORT_SYSTEM_DIR CACHE)
      find_path(_FASTFER_ORT_SYSTEM_DIR onnxruntime_c_api.h
                HINTS "$ENV{CONDA_PREFIX}/include"
                PATH_SUFFIXES onnxruntime onnxruntime/core/session)
      if(_FASTFER_ORT_SYSTEM_DIR)
        _fastfer_ort_check("${_FASTFER_ORT_SYSTEM_DIR}" "system" ok why)
        if(ok)
          set(found "${_FASTFER_ORT_SYSTEM_DIR}")
          set(from "the system")
        endif()
      else()
        list(APPEND why "system: no onnxruntime_c_api.h in the include folders")
      endif()
      unset(_FASTFER_ORT_SYSTEM_DIR CACHE)
    endif()

    set(fetch ON)
    if(DEFINED FASTFER_ORT_FETCH AND NOT FASTFER_ORT_FETCH STREQUAL "")
      set(fetch "${FASTFER_ORT_FETCH}")
    elseif(NOT "$ENV{FASTFER_ORT_FETCH}" STREQUAL "")
      set(fetch "$ENV{FASTFER_ORT_FETCH}")
    endif()
    string(TOLOWER "${fetch}" fetch)
    set(apt OFF)
    set(download OFF)
    if(fetch STREQUAL "apt")
      set(apt ON)
    elseif(fetch STREQUAL "download")
      set(download ON)
    elseif(fetch)
      set(apt ON)
      set(download ON)
    endif()
    if(NOT found AND NOT apt AND NOT download)
      list(APPEND why "fetching switched off (FASTFER_ORT_FETCH=${fetch})")
    endif()

    # 4. Debian's package, with apt-get download + dpkg -x (the script), into this build folder.
    if(NOT found AND apt)
      find_program(_FASTFER_BASH bash)
      find_program(_FASTFER_APT_GET apt-get)
      find_program(_FASTFER_DPKG dpkg)
      if(_FASTFER_BASH AND _FASTFER_APT_GET AND _FASTFER_DPKG)
        message(STATUS "fastfer: fetching the ONNX Runtime C API header with apt-get download (Debian's libonnxruntime-dev)")
        execute_process(COMMAND "${_FASTFER_BASH}" "${root}/tools/fetch_onnxruntime_headers.sh" --force --dest "${fetched}"
                        TIMEOUT 300 RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
        _fastfer_ort_api_version("${fetched}/include" version)
        if(NOT version STREQUAL "")
          _fastfer_ort_check("${fetched}/include" "Debian package" ok why)
          if(ok)
            set(found "${fetched}/include")
            file(STRINGS "${fetched}/SOURCE" source LIMIT_COUNT 1)
            set(from "Debian's ${source}, fetched with apt-get")
          endif()
        else()
          # The script's own last line says why (no network, no such package, ...).
          string(STRIP "${err}${out}" said)
          string(REGEX REPLACE ".*\n" "" said "${said}")
          string(REPLACE "fetch_onnxruntime_headers: " "" said "${said}")
          string(REPLACE "; fastfer will build without the native ONNX Runtime session." "" said "${said}")
          if(said STREQUAL "")
            set(said "exit status ${rc}")
          endif()
          list(APPEND why "apt-get: ${said}")
        endif()
      else()
        list(APPEND why "apt-get: no bash, apt-get and dpkg here")
      endif()
      foreach(var _FASTFER_BASH _FASTFER_APT_GET _FASTFER_DPKG)
        unset(${var} CACHE)
      endforeach()
    endif()

    # 5. The pinned download, checked against its sha256.
    if(NOT found AND download)
      message(STATUS "fastfer: downloading the ONNX Runtime C API header from ${FASTFER_ORT_DEB_URL}")
      _fastfer_ort_download("${fetched}" ok why)
      if(ok)
        _fastfer_ort_check("${fetched}/include" "download" ok why)
        if(ok)
          set(found "${fetched}/include")
          set(from "${FASTFER_ORT_DEB_URL} (sha256 checked)")
        endif()
      endif()
    endif()
  endif()

  if(found)
    _fastfer_ort_api_version("${found}" version)
    set(note "ONNX Runtime C API header ${found}/onnxruntime_c_api.h (ORT_API_VERSION ${version}, from ${from})")
  else()
    list(FILTER why EXCLUDE REGEX "^$")
    string(REPLACE ";" "; " tried "${why}")
    set(note "no ONNX Runtime C API header (${tried})")
  endif()
  set(FASTFER_ORT_HEADER_DIR "${found}" PARENT_SCOPE)
  set(FASTFER_ORT_HEADER_NOTE "${note}" PARENT_SCOPE)
endfunction()
