import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import {
  parseSafetensors,
  type SafetensorsFile,
  type SafetensorsWriteEntry,
  serializeSafetensors,
} from './safetensors.js';

/** Reads and parses a safetensors file; errors name the path and the problem. */
export function readSafetensorsFile(path: string): SafetensorsFile {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new Error(`safetensors ${path}: cannot read (${(e as Error).message})`);
  }
  return parseSafetensors(bytes, path);
}

/** Writes a file so that a crash never leaves a half-written one: a temporary file beside it, fsync, rename. */
export function writeFileAtomic(path: string, bytes: Uint8Array): void {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const fd = openSync(tmp, 'w');
    try {
      let at = 0;
      while (at < bytes.byteLength) at += writeSync(fd, bytes, at, bytes.byteLength - at);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

export function writeSafetensorsFile(
  path: string,
  entries: Iterable<[string, SafetensorsWriteEntry]>,
  metadata?: Record<string, string>,
): void {
  writeFileAtomic(path, serializeSafetensors(entries, metadata));
}
