import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import { parse, TYPE, type MessageFormatElement } from "@formatjs/icu-messageformat-parser";
import { loadApps } from "../../src/invitePage/apps.js";
import { createTranslators, LANGUAGES, loadCatalogues } from "../../src/invitePage/i18n.js";

const SOURCE = fileURLToPath(new URL("../../src/invitePage/", import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith(".ts") ? [path] : [];
  });
}

/** Every t("KEY") in the page's code; any t( whose first argument is not a string literal fails. */
function usedKeys(): Set<string> {
  const keys = new Set<string>();
  for (const file of sources(SOURCE)) {
    const code = readFileSync(file, "utf8");
    for (const call of code.matchAll(/\bt\(\s*([^)\s][^,)]*)/g)) {
      const literal = /^"([\w.]+)"$/.exec(call[1] ?? "");
      assert.ok(literal, `${file}: t(${call[1]}...) must name its key as a string literal`);
      keys.add(literal[1] ?? "");
    }
  }
  return keys;
}

/** The arguments a message takes, with their kind (plain, number, date, plural, select). */
function argumentsOf(elements: MessageFormatElement[], into = new Map<string, number>()): Map<string, number> {
  for (const element of elements) {
    if ("value" in element && element.type !== TYPE.literal && typeof element.value === "string") {
      into.set(element.value, element.type);
    }
    if (element.type === TYPE.plural || element.type === TYPE.select) {
      for (const option of Object.values(element.options)) argumentsOf(option.value, into);
    }
  }
  return into;
}

const catalogues = loadCatalogues();

describe("the invite page's message catalogues", () => {
  it("have every language with exactly English's keys", () => {
    const english = Object.keys(catalogues.en).sort();
    for (const lang of LANGUAGES) {
      const keys = Object.keys(catalogues[lang]).sort();
      assert.deepEqual(
        english.filter((key) => !keys.includes(key)),
        [],
        `missing in ${lang}`,
      );
      assert.deepEqual(
        keys.filter((key) => !english.includes(key)),
        [],
        `only in ${lang}`,
      );
    }
  });

  it("hold every key the code uses, and no other", () => {
    const used = usedKeys();
    const defined = new Set(Object.keys(catalogues.en));
    assert.deepEqual([...used].filter((key) => !defined.has(key)).sort(), [], "used but not defined");
    assert.deepEqual([...defined].filter((key) => !used.has(key)).sort(), [], "defined but never used");
  });

  it("parse as ICU messages with the same placeholders in every language", () => {
    for (const [key, message] of Object.entries(catalogues.en)) {
      const expected = argumentsOf(parse(message));
      for (const lang of LANGUAGES) {
        const text = catalogues[lang][key] ?? "";
        let elements: MessageFormatElement[];
        try {
          elements = parse(text);
        } catch (err) {
          assert.fail(`${lang} ${key}: ${(err as Error).message}`);
        }
        assert.deepEqual(argumentsOf(elements), expected, `${lang} ${key}`);
      }
    }
  });

  it("format every message in every language", () => {
    const translate = createTranslators(catalogues);
    const values = {
      host: "h",
      inviter: "i",
      jid: "j",
      groups: "g",
      count: 2,
      expires: new Date(0),
      app: "a",
      platform: "p",
    };
    for (const lang of LANGUAGES) {
      const t = translate(lang);
      for (const key of Object.keys(catalogues.en)) assert.ok(t(key, values).length > 0, `${lang} ${key}`);
    }
  });

  it("are matched by a description in every language for each app of apps.json", () => {
    for (const app of loadApps()) {
      for (const lang of LANGUAGES) assert.ok(app.description[lang], `${app.name} ${lang}`);
    }
  });
});
