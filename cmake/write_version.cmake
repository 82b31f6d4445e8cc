# Writes harness/version.cc with the git sha of the tree being built (with
# "-dirty" when tracked files differ from HEAD). Run at every build by the
# llada_version target; configure_file rewrites the file only when the text
# changes, so an unchanged sha recompiles nothing.
#   cmake -DSOURCE_DIR=... -DINPUT=version.cc.in -DOUTPUT=version.cc -DPROJECT_VERSION=... -P write_version.cmake
execute_process(COMMAND git rev-parse --short=12 HEAD
                WORKING_DIRECTORY ${SOURCE_DIR}
                OUTPUT_VARIABLE LLADA_EVAL_GIT_SHA OUTPUT_STRIP_TRAILING_WHITESPACE
                RESULT_VARIABLE sha_status ERROR_QUIET)
if(NOT sha_status EQUAL 0 OR NOT LLADA_EVAL_GIT_SHA)
  set(LLADA_EVAL_GIT_SHA "unknown")
else()
  execute_process(COMMAND git diff --quiet HEAD -- WORKING_DIRECTORY ${SOURCE_DIR}
                  RESULT_VARIABLE dirty ERROR_QUIET)
  if(NOT dirty EQUAL 0)
    set(LLADA_EVAL_GIT_SHA "${LLADA_EVAL_GIT_SHA}-dirty")
  endif()
endif()
configure_file(${INPUT} ${OUTPUT} @ONLY)
