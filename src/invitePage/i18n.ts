import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { IntlMessageFormat, type PrimitiveType } from "intl-messageformat";
import { z } from "zod";

/** The page's languages, each with its name in itself (the switcher shows these). English is the fallback. */
export const LANGUAGE_NAMES = {
  en: "English",
  de: "Deutsch",
  fr: "Français",
  es: "Español",
  it: "Italiano",
} as const;
export type Language = keyof typeof LANGUAGE_NAMES;
export const LANGUAGES = Object.keys(LANGUAGE_NAMES) as Language[];

export const isLanguage = (value: unknown): value is Language => LANGUAGES.includes(value as Language);

/** The message catalogues (messages/LANG.json, ICU MessageFormat), beside this file in src/ and dist/. */
export const MESSAGES_DIR = fileURLToPath(new URL("./messages/", import.meta.url));

const catalogueSchema = z.record(z.string(), z.string());
export type Catalogue = z.infer<typeof catalogueSchema>;

export function loadCatalogues(dir: string = MESSAGES_DIR): Record<Language, Catalogue> {
  return Object.fromEntries(
    LANGUAGES.map((lang) => [lang, catalogueSchema.parse(JSON.parse(readFileSync(`${dir}/${lang}.json`, "utf8")))]),
  ) as Record<Language, Catalogue>;
}

// Named formats the catalogues use: `{expires, date, expiry}`. Prosody's expiry is an instant;
// the server writes it in UTC, the page's script rewrites it in the reader's own time zone.
const FORMATS = {
  date: {
    expiry: {
      year: "numeric",
      month: "long",
      day: "numeric",
      hour: "2-digit",
      minute: "2-digit",
      timeZone: "UTC",
      timeZoneName: "short",
    },
  },
} as const;

/** Formats a catalogue message. Every key must be a literal at its call site (the catalogue test reads them). */
export type Translate = (key: string, values?: Record<string, PrimitiveType>) => string;

/** One translator per language, each message parsed once on first use. */
export function createTranslators(catalogues: Record<Language, Catalogue>): (lang: Language) => Translate {
  const formats = new Map<string, IntlMessageFormat>();
  return (lang) => (key, values) => {
    const id = `${lang}\u0000${key}`;
    let format = formats.get(id);
    if (!format) {
      const message = catalogues[lang][key];
      if (message === undefined) throw new Error(`no message ${key} in ${lang}`);
      format = new IntlMessageFormat(message, lang, FORMATS as never, { ignoreTag: true });
      formats.set(id, format);
    }
    return String(format.format(values));
  };
}
