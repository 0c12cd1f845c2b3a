import Bowser from "bowser";

/** The systems the page suggests apps for; `web` is any other (and the web sign-up alone). */
export const PLATFORMS = ["android", "ios", "linux", "windows", "macos", "web"] as const;
export type Platform = (typeof PLATFORMS)[number];

// Bowser's names for the operating systems (Bowser.OS_MAP) we have apps for.
const BY_OS_NAME: Readonly<Record<string, Platform>> = {
  Android: "android",
  iOS: "ios",
  Linux: "linux",
  Windows: "windows",
  macOS: "macos",
};

export const isPlatform = (value: unknown): value is Platform => PLATFORMS.includes(value as Platform);

/** The platform a User-Agent names, by bowser's parser (which knows the many ways browsers say it). */
export function detectPlatform(userAgent: string | undefined): Platform {
  if (!userAgent) return "web";
  return BY_OS_NAME[Bowser.parse(userAgent).os.name ?? ""] ?? "web";
}

/** ?platform= when it names one, else the User-Agent's. */
export const choosePlatform = (query: unknown, userAgent: string | undefined): Platform =>
  isPlatform(query) ? query : detectPlatform(userAgent);
