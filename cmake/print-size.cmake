# Prints a built .wasm file's size, raw and gzipped (run with cmake -P after the link).
file(SIZE "${WASM}" raw)
execute_process(COMMAND gzip -9 -c "${WASM}" COMMAND wc -c OUTPUT_VARIABLE gz OUTPUT_STRIP_TRAILING_WHITESPACE)
file(SHA256 "${WASM}" sha)
string(SUBSTRING "${sha}" 0 16 sha)
get_filename_component(name "${WASM}" NAME)
message(STATUS "${name}: ${raw} bytes, ${gz} bytes gzipped, sha256 ${sha}…")
