/** The text encodings a GPU-Z log is found in: GPU-Z writes Windows-1252; a copy may have been re-saved as UTF-8. */
export type LogEncoding = 'utf-8' | 'windows-1252';

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
const cp1252 = new TextDecoder('windows-1252');

/**
 * Decodes log bytes: UTF-8 when the bytes are valid UTF-8 (a BOM is dropped), else Windows-1252, which decodes any
 * byte. Pure ASCII is the same in both and reported as UTF-8.
 */
export function decodeLog(bytes: Uint8Array): { text: string; encoding: LogEncoding } {
  try {
    return { text: utf8.decode(bytes), encoding: 'utf-8' };
  } catch {
    return { text: cp1252.decode(bytes), encoding: 'windows-1252' };
  }
}
