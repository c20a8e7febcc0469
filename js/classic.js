/**
 * Entry of the classic-worker build (dist/sealpost.classic.js, esbuild IIFE): for service workers that
 * load sealpost with importScripts(). Everything is on `self.sealpost`. With no import.meta in a classic
 * script, the module is looked for beside the worker script unless `wasmUrl` says otherwise.
 */
import * as api from './index.js';
import { createCore, KeyKind } from './wasm/loader.js';

globalThis.sealpost = Object.freeze({ ...api, createCore, KeyKind });
