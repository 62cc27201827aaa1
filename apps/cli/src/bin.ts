#!/usr/bin/env node
import { main } from './main.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    // main reports its own errors; this is only reached if reporting itself failed.
    console.error(`mriseg: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = 1;
  },
);
