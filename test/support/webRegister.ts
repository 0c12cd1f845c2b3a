import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import Database from "better-sqlite3";
import { chownTree, createProsody, prosodyUser, type ProsodyOptions, type RunningProsody } from "./prosody.js";
import { startService, type RunningService } from "./service.js";
import { freshKeyStore, serviceEnv, waitReady, type Component, type RunningStack } from "./stack.js";

/**
 * Web registration (prosody-modules' mod_invites_register_web) for the end-to-end tests.
 *
 * The module does `module:depends("password_policy")`. Debian's prosody-modules for 0.12 (bookworm)
 * has no mod_password_policy: Debian added it in its 2024 snapshot ("for invites"), which reaches
 * bookworm only as the bookworm-backports package built for Prosody 13. That package cannot be
 * installed beside 0.12 (it depends on prosody >= 13), so, like scripts/with-prosody13.sh does
 * for Prosody 13 and test/compose/rocks/prepare.sh for the deployment's rocks, it is downloaded
 * once and unpacked under /var/tmp; each test Prosody gets a copy of the modules it needs.
 * mod_password_policy is plain Lua on util.set, util.iterators and module:handle_items, which 0.12
 * has too.
 */
const CACHE = process.env.PROSODY_MODULES_BP_DIR ?? "/var/tmp/invites-api-prosody-modules-bp";
const on13 = process.env.PROSODY_VERSION === "13";

/** The modules folder of the unpacked bookworm-backports prosody-modules, fetched on first use. */
export function backportsModules(): string {
  const modules = join(CACHE, "root", "usr", "lib", "prosody", "modules");
  if (existsSync(join(modules, "mod_password_policy", "mod_password_policy.lua"))) return modules;
  const script = `
set -euo pipefail
D="$1"
mkdir -p "$D/lists/partial" "$D/deb"
# An apt source for backports, derived from the machine's own first Debian entry: no mirror is named here.
awk 'BEGIN{RS="";ORS="\\n\\n"} NR==1' /etc/apt/sources.list.d/debian.sources \\
  | sed 's/^Suites: .*/Suites: bookworm-backports/' > "$D/bp.sources"
O=(-o "Dir::Etc::sourcelist=$D/bp.sources" -o "Dir::Etc::sourceparts=-" -o "Dir::State::Lists=$D/lists" -o "APT::Sandbox::User=root")
if ! ls "$D"/deb/prosody-modules_*.deb >/dev/null 2>&1; then
  apt-get "\${O[@]}" update -q >&2
  (cd "$D/deb" && apt-get "\${O[@]}" download prosody-modules/bookworm-backports >&2)
fi
rm -rf "$D/root.new"
dpkg-deb -x "$D"/deb/prosody-modules_*.deb "$D/root.new"
`;
  try {
    execFileSync("bash", ["-c", script, "bash", CACHE], { stdio: ["ignore", "ignore", "pipe"], timeout: 240_000 });
  } catch (err) {
    const stderr = String((err as { stderr?: Buffer }).stderr ?? "");
    throw new Error(
      `could not fetch prosody-modules from bookworm-backports (for mod_password_policy) into ${CACHE}: ${stderr || err}`,
    );
  }
  rmSync(join(CACHE, "root"), { recursive: true, force: true });
  renameSync(join(CACHE, "root.new"), join(CACHE, "root"));
  if (!existsSync(join(modules, "mod_password_policy", "mod_password_policy.lua"))) {
    throw new Error(`bookworm-backports' prosody-modules has no mod_password_policy (looked in ${modules})`);
  }
  return modules;
}

/**
 * The community modules mod_invites_register_web needs beyond those the test Prosody already sees,
 * by name and folder: mod_password_policy from bookworm-backports' prosody-modules (0.12's has none);
 * on 13 also mod_invites_register_web itself (its community folder links only the invite page,
 * register_apps and invites_api), from the package built for 13. On 0.12 mod_invites_register_web
 * is Debian's own, in /usr/lib/prosody/modules. mod_register_apps and mod_invites_page, which it
 * depends on, are there already; mod_conversejs only if loaded, which these tests do not.
 */
export function webRegistrationModules(): Record<string, string> {
  const backports = backportsModules();
  const names = on13 ? ["mod_password_policy", "mod_invites_register_web"] : ["mod_password_policy"];
  return Object.fromEntries(names.map((name) => [name, join(backports, name)]));
}

/**
 * Like startStack (test/support/stack.ts), with the modules web registration needs copied beside
 * the project's modules in the test Prosody's first plugin path before it starts. A failed start
 * stops what did start; `stop()` takes both down.
 */
export async function startWebRegistrationStack(
  prosodyOptions: ProsodyOptions,
  opts: { component: Component; env?: Record<string, string> },
): Promise<RunningStack> {
  const extra = webRegistrationModules();
  const prosody: RunningProsody = await createProsody(prosodyOptions);
  let service: RunningService | undefined;
  const stop = async () => {
    await service?.stop();
    await prosody.dispose();
  };
  try {
    const owner = prosodyUser();
    for (const [name, from] of Object.entries(extra)) {
      const to = join(prosody.dir, "modules", name);
      mkdirSync(to, { recursive: true });
      cpSync(from, to, { recursive: true, dereference: true });
      if (owner) chownTree(to, owner);
    }
    await prosody.start();
    const keyStore = freshKeyStore();
    service = await startService(serviceEnv(prosody, opts.component, keyStore, opts.env));
    await waitReady(service.url, 10_000);
    return { prosody, service, keyStore, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

export interface Page {
  readonly url: string;
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/**
 * One HTTP request to Prosody's loopback port for a URL on a VirtualHost (its name does not
 * resolve): the Host header names the host, as a browser would send it.
 */
export function httpOnLoopback(
  httpPort: number,
  url: string,
  init: { method?: string; body?: string; headers?: Record<string, string> } = {},
): Promise<Page> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port: httpPort,
        method: init.method ?? "GET",
        path: target.pathname + target.search,
        headers: { Host: target.host, ...init.headers },
        timeout: 15_000,
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (body += chunk));
        res.on("end", () => resolve({ url, status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`${init.method ?? "GET"} ${url} timed out`)));
    req.on("error", reject);
    req.end(init.body);
  });
}

const decode = (text: string) =>
  text
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");

const attribute = (tag: string, name: string): string | undefined => {
  const match = new RegExp(`\\s${name}\\s*=\\s*(?:"([^"]*)"|'([^']*)')`, "i").exec(tag);
  return match ? decode(match[1] ?? match[2] ?? "") : undefined;
};

/** The first POST form of a page: where it posts to (resolved as a browser would) and its fields. */
export function parseForm(page: Page): { action: string; fields: Map<string, string> } | undefined {
  const form = /<form\b[^>]*>([\s\S]*?)<\/form>/i.exec(page.body);
  if (!form) return undefined;
  const open = /<form\b[^>]*>/i.exec(form[0])?.[0] ?? "";
  if ((attribute(open, "method") ?? "get").toLowerCase() !== "post") return undefined;
  const fields = new Map<string, string>();
  for (const input of form[1]?.match(/<input\b[^>]*>/gi) ?? []) {
    const name = attribute(input, "name");
    if (name !== undefined) fields.set(name, attribute(input, "value") ?? "");
  }
  // No action (or an empty one): the form posts to the page's own URL.
  return { action: new URL(attribute(open, "action") || page.url, page.url).toString(), fields };
}

/**
 * What mod_invites_register_web says when it refuses: the message of its error page, or the alert
 * above the form it shows again (a taken name, a password its policy refuses).
 */
export function refusalOf(page: Page): string | undefined {
  const text = (html: string | undefined) =>
    html === undefined ? undefined : decode(html.replace(/\s+/g, " ").trim());
  const error = /Registration error<\/h5>\s*<p>([\s\S]*?)<\/p>/i.exec(page.body);
  if (error) return text(error[1]);
  return text(/<div class="alert[^"]*" role="alert">([\s\S]*?)<\/div>/i.exec(page.body)?.[1]);
}

export type WebRegistration =
  | { readonly registered: true; readonly page: Page }
  /** Refused: at the invite page (the token no longer valid), or by the answer to the form. */
  | { readonly registered: false; readonly at: "invite page" | "form"; readonly page: Page; readonly message?: string };

/**
 * Registers an account as a browser would, from an invite's landing page: opens it (Prosody's
 * mod_invites_page), follows its "register an account manually" link to mod_invites_register_web's
 * form, fills in the username and password, keeps the form's hidden fields, and posts it where the
 * form says. Resolves with the outcome: an account whose JID the success page shows, or the refusal.
 */
export async function registerOnWeb(opts: {
  httpPort: number;
  landingPage: string;
  domain: string;
  username: string;
  password: string;
}): Promise<WebRegistration> {
  const landing = await httpOnLoopback(opts.httpPort, opts.landingPage);
  if (landing.status !== 200) throw new Error(`the invite page answered ${landing.status}`);
  const link = /<a\s[^>]*href="([^"]*register\?t=[^"]*)"/i.exec(landing.body)?.[1];
  // mod_invites_page shows no registration link for an invite it does not know (any more).
  if (!link) return { registered: false, at: "invite page", page: landing };
  const formPage = await httpOnLoopback(opts.httpPort, new URL(decode(link), opts.landingPage).toString());
  if (formPage.status === 303) {
    // mod_invites_register_web sends an unknown token back to the invite page.
    return { registered: false, at: "invite page", page: formPage };
  }
  if (formPage.status !== 200) throw new Error(`the registration page answered ${formPage.status}`);
  const form = parseForm(formPage);
  if (!form) throw new Error(`the registration page has no form:\n${formPage.body}`);
  for (const field of ["user", "password", "token"]) {
    if (!form.fields.has(field)) throw new Error(`the registration form has no field ${field}`);
  }
  form.fields.set("user", opts.username);
  form.fields.set("password", opts.password);
  const answer = await httpOnLoopback(opts.httpPort, form.action, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams([...form.fields]).toString(),
  });
  const jid = `${opts.username}@${opts.domain}`;
  // The success page congratulates and shows the new address in a read-only field.
  if (answer.status === 200 && answer.body.includes("Congratulations!") && answer.body.includes(`value="${jid}"`)) {
    return { registered: true, page: answer };
  }
  if (answer.status === 303) return { registered: false, at: "invite page", page: answer };
  if (answer.status !== 200) throw new Error(`the registration form's answer was ${answer.status}:\n${answer.body}`);
  return { registered: false, at: "form", page: answer, message: refusalOf(answer) };
}

/** Whether Prosody's SQL store holds an account `username@host`. */
export function accountExists(dataDir: string, host: string, username: string): boolean {
  const file = join(dataDir, "prosody.sqlite");
  if (!existsSync(file)) return false;
  const db = new Database(file, { readonly: true, timeout: 5_000 });
  try {
    const row = db
      .prepare<[string, string], { n: number }>(
        "SELECT count(*) AS n FROM prosody WHERE host = ? AND user = ? AND store = 'accounts'",
      )
      .get(host, username);
    return (row?.n ?? 0) > 0;
  } finally {
    db.close();
  }
}
