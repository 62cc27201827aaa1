/**
 * Debian's Chromium as the e2e test and the page benchmark launch it: headless, WebGPU enabled (SwiftShader without
 * a GPU), no background traffic. Playwright refuses `--user-data-dir` here, and its own `--headless` is replaced.
 */
export const CHROMIUM = '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];
