// Declares to Emscripten's linker the functions sealpost.wasm imports from its host. The module ships
// without Emscripten's runtime JS: js/wasm.js provides these imports itself (see its `imports` object).
mergeInto(LibraryManager.library, {
  // Fills [pointer, pointer + length) with crypto.getRandomValues (src/wasm/randombytes.c).
  sealpost_random_fill: function (pointer, length) {},
});
