// The documentation's links, followed: every relative link and every #anchor in README.md,
// BENCHMARKS.md and docs/*.md must lead somewhere (issue 27). A link names a file that exists; an
// anchor names a heading of the page it points into, slugged as GitHub slugs it (github-slugger:
// lowercase, punctuation dropped but - and _, spaces to -, a repeated heading gets -1, -2, …).
// Links inside code (``` blocks, `spans`) are text, not links. The README links every docs page,
// and each docs page lists its sections in its contents.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import GithubSlugger from "github-slugger";

const root = fileURLToPath(new URL("../../", import.meta.url));

/** The pages checked: README.md, BENCHMARKS.md and every page of docs/. */
const pages = () => [
  "README.md",
  "BENCHMARKS.md",
  ...readdirSync(join(root, "docs"))
    .filter((name) => name.endsWith(".md"))
    .sort()
    .map((name) => `docs/${name}`),
];

interface Link {
  target: string;
  line: number;
}

interface Page {
  /** The anchors its headings get, in GitHub's spelling. */
  anchors: Set<string>;
  /** Its level-2 headings' anchors, in order. */
  sections: string[];
  links: Link[];
}

/** The text of a page outside fenced code blocks; fenced lines become empty, so line numbers hold. */
function outsideFences(text: string): string {
  let fence: string | undefined;
  return text
    .split("\n")
    .map((line) => {
      const marker = /^ {0,3}(`{3,}|~{3,})/.exec(line)?.[1];
      if (fence === undefined) {
        if (marker) fence = marker;
        return fence === undefined ? line : "";
      }
      if (marker && marker[0] === fence[0] && marker.length >= fence.length && line.trim() === marker) {
        fence = undefined;
      }
      return "";
    })
    .join("\n");
}

/** Code spans (`…`, ``…``) blanked out, newlines kept. */
const withoutCodeSpans = (text: string) =>
  text.replace(/(`+)(?!`)[\s\S]*?[^`]\1(?!`)|(`+)(?!`)\2(?!`)/g, (span) => span.replace(/[^\n]/g, " "));

/** A heading's text as GitHub renders it before slugging: code, links and emphasis reduced to their text. */
const headingText = (raw: string) =>
  raw
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replace(/`/g, "")
    .replace(/(\*\*|\*)(\S(?:[\s\S]*?\S)?)\1/g, "$2")
    .replace(/<[^>]+>/g, "")
    .trim();

export function parsePage(text: string): Page {
  const prose = outsideFences(text);
  const slugger = new GithubSlugger();
  const anchors = new Set<string>();
  const sections: string[] = [];
  for (const line of prose.split("\n")) {
    const heading = /^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$/.exec(line);
    if (!heading) continue;
    const anchor = slugger.slug(headingText(heading[2]!));
    anchors.add(anchor);
    if (heading[1] === "##") sections.push(anchor);
  }
  for (const html of prose.matchAll(/<a\b[^>]*\b(?:id|name)="([^"]+)"/g)) anchors.add(html[1]!);

  const code = withoutCodeSpans(prose);
  const lineOf = (index: number) => code.slice(0, index).split("\n").length;
  const links: Link[] = [];
  // [text](target), ![alt](target), with an optional <…> around the target and a "title".
  const markdown = /!?\[(?:[^[\]]|\[[^\]]*\])*\]\(\s*(<[^>]*>|[^\s)]+)(?:\s+"[^"]*")?\s*\)/g;
  for (const match of code.matchAll(markdown)) {
    links.push({ target: match[1]!.replace(/^<|>$/g, ""), line: lineOf(match.index) });
  }
  for (const match of code.matchAll(/<(?:a|img)\b[^>]*?\b(?:href|src)="([^"]+)"/g)) {
    links.push({ target: match[1]!, line: lineOf(match.index) });
  }
  return { anchors, sections, links };
}

interface Disk {
  read(path: string): string;
  /** "file", "dir", or undefined when nothing is there. */
  kind(path: string): "file" | "dir" | undefined;
}

const realDisk: Disk = {
  read: (path) => readFileSync(path, "utf8"),
  kind: (path) => (existsSync(path) ? (statSync(path).isDirectory() ? "dir" : "file") : undefined),
};

/** What is wrong with each link of `file` (a path under `base`): a missing file, or an anchor no heading has. */
export function brokenLinks(base: string, file: string, disk: Disk = realDisk): string[] {
  const cache = new Map<string, Page>();
  const page = (path: string) => {
    if (!cache.has(path)) cache.set(path, parsePage(disk.read(path)));
    return cache.get(path)!;
  };
  const from = join(base, file);
  const problems: string[] = [];
  for (const { target, line } of page(from).links) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith("//")) continue; // https:, mailto:, …
    const hash = target.indexOf("#");
    const path = decodeURI(hash < 0 ? target : target.slice(0, hash));
    const anchor = hash < 0 ? undefined : decodeURIComponent(target.slice(hash + 1));
    const to = path === "" ? from : resolve(dirname(from), path);
    const where = `${file}:${line}: ${target}`;
    const kind = disk.kind(to);
    if (kind === undefined) {
      problems.push(`${where}: no such file (${relative(base, to)})`);
    } else if (anchor === undefined) {
      continue;
    } else if (kind === "dir" || !to.endsWith(".md")) {
      problems.push(`${where}: an anchor into something that is not a markdown page`);
    } else if (!page(to).anchors.has(anchor)) {
      problems.push(`${where}: no heading of ${relative(base, to)} has the anchor #${anchor}`);
    }
  }
  return problems;
}

describe("the documentation's links", () => {
  it("lead to files that exist, and to headings that exist", () => {
    const problems = pages().flatMap((file) => brokenLinks(root, file));
    assert.deepEqual(problems, []);
  });

  it("are found broken when they are: a missing file, a missing anchor, a heading slugged as GitHub does", () => {
    const files: Record<string, string> = {
      "/d/README.md": [
        "# Title",
        "## `GET /health`, `GET /ready`",
        "## Install on a server (Debian, systemd)",
        "## Install on a server (Debian, systemd)",
        "```sh",
        "# not a heading: [nor a link](missing.md)",
        "```",
        "See `[code](gone.md)`, [the API](#get-health-get-ready), [twice](#install-on-a-server-debian-systemd-1),",
        "[the other page](docs/other.md#least-privilege-with-mod_invites_manage), [a site](https://example.com).",
        "Broken: [a file](docs/none.md), [an anchor](#install-on-a-server), [elsewhere](docs/other.md#nope),",
        '<img src="docs/missing.png" alt="x">, [wrapped',
        "over lines](#no-such-heading).",
      ].join("\n"),
      "/d/docs/other.md": "# Other\n\n## Least privilege, with mod_invites_manage\n",
    };
    const disk: Disk = {
      read: (path) => files[path] ?? assert.fail(`read ${path}`),
      kind: (path) => (path in files ? "file" : path === "/d/docs" ? "dir" : undefined),
    };
    assert.deepEqual(brokenLinks("/d", "README.md", disk), [
      "README.md:10: docs/none.md: no such file (docs/none.md)",
      "README.md:10: #install-on-a-server: no heading of README.md has the anchor #install-on-a-server",
      "README.md:10: docs/other.md#nope: no heading of docs/other.md has the anchor #nope",
      "README.md:11: #no-such-heading: no heading of README.md has the anchor #no-such-heading",
      "README.md:11: docs/missing.png: no such file (docs/missing.png)",
    ]);
  });

  it("include every docs page, from the README", () => {
    const linked = new Set(
      parsePage(readFileSync(join(root, "README.md"), "utf8")).links.map((l) => l.target.split("#")[0]),
    );
    const unlinked = pages()
      .filter((file) => file !== "README.md")
      .filter((file) => !linked.has(file));
    assert.deepEqual(unlinked, [], "every page is linked from the README");
  });

  it("list each docs page's sections in its contents", () => {
    for (const file of pages().filter((f) => f.startsWith("docs/"))) {
      const page = parsePage(readFileSync(join(root, file), "utf8"));
      const own = new Set(page.links.filter((l) => l.target.startsWith("#")).map((l) => l.target.slice(1)));
      const missing = page.sections.filter((anchor) => !own.has(anchor));
      assert.deepEqual(missing, [], `${file}: sections not in its contents`);
    }
  });
});
