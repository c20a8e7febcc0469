// Declares to Emscripten's linker the functions sealpost.wasm imports from its host. The module ships
// without Emscripten's runtime JS: js/wasm/core.js provides these imports itself (WasmCore#imports).
mergeInto(LibraryManager.library, {
  // Fills [pointer, pointer + length) with crypto.getRandomValues (src/wasm/randombytes.c).
  sealpost_random_fill: function (pointer, length) {},
  // Converts the JSON number text at [pointer, pointer + length) to a double (src/wasm/libc_small.c).
  sealpost_parse_number: function (pointer, length) {},
});
