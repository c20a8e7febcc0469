/** A failure with a stable machine-readable code (see README "Errors"). */
export class SealpostError extends Error {
  constructor(code: string, message?: string, details?: { cause?: unknown; [key: string]: unknown });
  readonly name: 'SealpostError';
  readonly code: string;
  readonly status?: number;
}

export interface LoadOptions {
  /** Where sealpost.wasm is; default: dist/sealpost.wasm beside the package's js/ folder. */
  wasmUrl?: string | URL;
  /** The module's bytes, if you have them already. */
  wasmBinary?: BufferSource;
  /** A compiled module, if you have one already. */
  wasmModule?: WebAssembly.Module;
}

/** Loads and compiles sealpost.wasm once per worker lifetime; rejects with code 'wasm-load-failed'. */
export function ready(options?: LoadOptions): Promise<void>;

/** base64url without padding. */
export function toBase64url(bytes: Uint8Array): string;
/** Decodes base64url (padding optional); null if the text is not base64url. */
export function fromBase64url(text: string): Uint8Array | null;

// ---------------------------------------------------------------- outbox

// ---------------------------------------------------------------- push
