# Warnings for ParamScope's own targets (third-party headers are SYSTEM and stay quiet).
# The "dev" preset turns them into errors.
function(paramscope_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
    -Woverloaded-virtual -Wimplicit-fallthrough -Wformat=2)
  if(PARAMSCOPE_STRICT_WARNINGS)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
