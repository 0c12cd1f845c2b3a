import { chromium, type Browser } from "playwright-core";

/**
 * Debian's Chromium, headless, driven by playwright-core. Every test host name resolves to
 * loopback, so invite links naming a VirtualHost open Prosody's page here.
 */
export function launchChromium(hostsToLoopback: readonly string[]): Promise<Browser> {
  const rules = hostsToLoopback.map((host) => `MAP ${host} 127.0.0.1`).join(", ");
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      `--host-resolver-rules=${rules}`,
    ],
  });
}
