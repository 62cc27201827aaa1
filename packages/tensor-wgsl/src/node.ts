// Node-only helpers (file system). Browser code uses the byte-level functions of the main entry.
export { readSafetensorsFile, writeFileAtomic, writeSafetensorsFile } from './safetensors-file.js';
