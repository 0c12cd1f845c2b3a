import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { LANGUAGES, type Language } from "./i18n.js";
import { PLATFORMS, type Platform } from "./platform.js";

/** The apps the page suggests, per platform: apps.json beside this file, checked at start. */
export const APPS_FILE = fileURLToPath(new URL("./apps.json", import.meta.url));

export const STORES = ["googlePlay", "fdroid", "appStore", "flathub", "microsoftStore", "homepage"] as const;

const platform = z.enum(PLATFORMS);
const link = z.object({
  store: z.enum(STORES),
  url: z.url({ protocol: /^https$/ }),
  /** Only on these platforms (Flathub on Linux, say); none: on all of the app's. */
  platforms: z.array(platform).nonempty().optional(),
});
const app = z.object({
  name: z.string().min(1),
  platforms: z.array(platform).nonempty(),
  /** Whether the app registers from the invite's XEP-0401 URI (`xmpp:HOST?register;preauth=TOKEN`). */
  takesInvite: z.boolean(),
  links: z.array(link).nonempty(),
  /** One short sentence or two in each of the page's languages. */
  description: z.object(
    Object.fromEntries(LANGUAGES.map((lang) => [lang, z.string().min(1)])) as Record<Language, z.ZodString>,
  ),
});
export const appsSchema = z.object({ apps: z.array(app) });
export type App = z.infer<typeof app>;
export type AppLink = z.infer<typeof link>;

export function loadApps(file: string = APPS_FILE): readonly App[] {
  return appsSchema.parse(JSON.parse(readFileSync(file, "utf8"))).apps;
}

/** The apps for a platform, each with only the links that apply there. */
export function appsFor(apps: readonly App[], on: Platform): Array<App & { links: AppLink[] }> {
  return apps
    .filter((a) => a.platforms.includes(on))
    .map((a) => ({ ...a, links: a.links.filter((l) => !l.platforms || l.platforms.includes(on)) }));
}
