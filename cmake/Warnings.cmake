# Our own code builds with strict warnings as errors. Third-party headers come in as
# SYSTEM includes (imported targets), so their warnings do not fail our build.
add_library(ta_warnings INTERFACE)
target_compile_options(ta_warnings INTERFACE -Wall -Wextra -Wpedantic -Werror)

# ta_library(<name> SOURCES ... DEPS ...): one CMake library per layer.
function(ta_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(${name} PUBLIC ${ARG_DEPS} PRIVATE ta_warnings ${ARG_PRIVATE_DEPS})
endfunction()
