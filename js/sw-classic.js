/**
 * Entry of the classic service-worker build (dist/sealpost-sw.classic.js, esbuild IIFE) for workers that
 * load sealpost with importScripts(): `self.sealpost.installSealpost(self, config)` (or
 * `createSealpost`), plus everything the main entry exports. A classic script has no import.meta, so pass `wasmUrl` (default: sealpost.wasm
 * beside the worker script).
 */
import * as api from './index.js';
import { createSealpost, installSealpost } from './sw.js';

globalThis.sealpost = Object.freeze({ ...api, createSealpost, installSealpost });
