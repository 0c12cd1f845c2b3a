import { Command, InvalidArgumentError } from "commander";
import { MAX_COUNT, parseDuration, parseRate } from "../keys/durations.js";
import { HTTP_METHODS, KEY_SCOPES, type HttpMethod, type KeyScope, type Rate } from "../keys/keyStore.js";
import { createKey, deleteKey, listKeys, showKey, withKeyStore, type Output } from "./keyCommands.js";
import { check } from "./checkCommand.js";
import { budgetCommand } from "./budgetCommand.js";
import { addRotateCommands } from "./rotateCommands.js";
import { addWebhook, deleteWebhook, listWebhooks, showWebhook } from "./webhookCommands.js";
import { WEBHOOK_EVENTS, type WebhookEvent } from "../store/webhooks.js";

type Env = Record<string, string | undefined>;

// A DNS name as Prosody accepts for a VirtualHost; keeps typos like "https://…" out of the store.
const HOST = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$/i;

function host(value: string): string {
  if (!HOST.test(value)) throw new InvalidArgumentError("expected a host name such as example.com");
  return value.toLowerCase();
}

function methods(value: string): HttpMethod[] {
  const list = value.split(",").map((m) => m.trim().toUpperCase());
  const allowed = (m: string): m is HttpMethod => (HTTP_METHODS as readonly string[]).includes(m);
  if (list.length === 0 || !list.every(allowed)) {
    throw new InvalidArgumentError(`expected a comma-separated list of ${HTTP_METHODS.join(", ")}`);
  }
  return [...new Set(list)];
}

function duration(value: string): number {
  const result = parseDuration(value);
  if (result === undefined) throw new InvalidArgumentError("expected a duration such as 90s, 12h or 30d, at most 100y");
  return result;
}

function scopes(value: string): KeyScope[] {
  const list = value.split(",").map((s) => s.trim());
  const allowed = (s: string): s is KeyScope => (KEY_SCOPES as readonly string[]).includes(s);
  if (!list.every(allowed)) {
    throw new InvalidArgumentError(`expected a comma-separated list of ${KEY_SCOPES.join(", ")}`);
  }
  return [...new Set(list)];
}

// Whole seconds, as Prosody counts an invite's ttl.
function ttl(value: string): number {
  const result = parseDuration(value);
  if (result === undefined || result < 1_000) {
    throw new InvalidArgumentError("expected a duration of at least 1s, such as 1h or 7d, at most 100y");
  }
  return Math.floor(result / 1_000);
}

function rate(value: string): Rate {
  const result = parseRate(value);
  if (!result) throw new InvalidArgumentError("expected N/PERIOD such as 10/1m or 100/1d (period at least 1s)");
  return result;
}

function budgetLimit(value: string): string {
  const parsed = parseRate(value);
  if (!parsed || parsed.durationSeconds < 60) {
    throw new InvalidArgumentError("expected N/PERIOD such as 50/1d or 10/1h (period at least 1m)");
  }
  return value.trim();
}

function count(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > MAX_COUNT) {
    throw new InvalidArgumentError(`expected a whole number from 1 to ${MAX_COUNT}`);
  }
  return Number(value);
}

const MAX_GROUPS = 32;

// Group ids as an invite body takes them (wire/requests.ts): 1-200 characters, no control character.
function groupIds(value: string): string[] {
  const list = [...new Set(value.split(",").map((g) => g.trim()))];
  const bad = (g: string) => g.length === 0 || g.length > 200 || /[\p{Cc}]/u.test(g);
  if (list.length === 0 || list.length > MAX_GROUPS || list.some(bad)) {
    throw new InvalidArgumentError(
      `expected a comma-separated list of 1 to ${MAX_GROUPS} group ids (invites_manage_groups), e.g. team-a,team-b`,
    );
  }
  return list;
}

function events(value: string): WebhookEvent[] {
  const list = value.split(",").map((e) => e.trim());
  const allowed = (e: string): e is WebhookEvent => (WEBHOOK_EVENTS as readonly string[]).includes(e);
  if (list.length === 0 || !list.every(allowed)) {
    throw new InvalidArgumentError(`expected a comma-separated list of ${WEBHOOK_EVENTS.join(", ")}`);
  }
  return [...new Set(list)];
}

const MAX_NAME_LENGTH = 200;

// `list` prints ID<TAB>NAME lines: a name may hold no control character (TAB, newline, escape…).
function keyName(value: string): string {
  if (/[\p{Cc}\u2028\u2029]/u.test(value)) throw new InvalidArgumentError("a name may not contain control characters");
  if (value.length > MAX_NAME_LENGTH) throw new InvalidArgumentError(`at most ${MAX_NAME_LENGTH} characters`);
  return value;
}

export interface ProgramDeps {
  readonly env: Env;
  readonly io: Output;
  /** Runs the service until a signal stops it; resolves with the exit code. */
  readonly serve: () => Promise<number>;
  readonly setExitCode: (code: number) => void;
  readonly now?: () => Date;
}

interface CreateOptions {
  methods?: HttpMethod[];
  expires?: number;
  rate?: Rate;
  maxInvites?: number;
  scope?: KeyScope[];
  maxTtl?: number;
  groups?: string[];
}

/** The CLI, with the verbs of `prosodyctl mod_invites_api` plus `serve`. */
export function buildProgram(deps: ProgramDeps): Command {
  const program = new Command("invites-api")
    .description("HTTP API for Prosody invites, as an XMPP component")
    .showHelpAfterError()
    .exitOverride();

  program
    .command("create")
    .description("create an API key for HOST; prints ID/SECRET once, on the last line")
    .argument("<host>", "the VirtualHost the key issues invites for", host)
    .argument("[name]", "a label to remember the key by (no control characters)", keyName)
    .option("--methods <list>", "HTTP methods the key may use, e.g. GET or GET,POST", methods)
    .option("--expires <duration>", "refuse the key after this long, e.g. 90s, 12h, 30d", duration)
    .option("--rate <N/period>", "at most N invites per period, e.g. 10/1m (default: DEFAULT_KEY_RATE)", rate)
    .option("--max-invites <N>", "refuse the key after N invites", count)
    .option(
      "--scope <list>",
      "what the key may do (docs/http-api.md, Scopes): create (default: single-use account invites), group " +
        "(reusable group invites), reset (password resets), manage (all of these, and list, show, revoke)",
      scopes,
    )
    .option("--max-ttl <duration>", "no invite of this key stays valid longer, e.g. 1h or 7d", ttl)
    .option(
      "--groups <list>",
      "confine the key to these circles (group ids): it makes invites only into them, and sees, shows, " +
        "revokes and updates only theirs; no password resets, no budget",
      groupIds,
    )
    .action((h: string, name: string | undefined, opts: CreateOptions, command: Command) => {
      const reusable = opts.scope?.find((s) => s === "group" || s === "manage");
      if (reusable && opts.maxInvites !== undefined) {
        // A reusable invite's uses are not counted: the quota would not bound the accounts let in.
        command.error(`error: --max-invites cannot bound a key that makes reusable invites (scope ${reusable})`);
      }
      if (opts.groups?.length && opts.scope?.length && opts.scope.every((s) => s === "reset")) {
        // A password reset is in no circle: such a key would be refused every request.
        command.error(
          "error: --groups confines a key to circles, where no password reset is made: give it another scope",
        );
      }
      const now = deps.now?.() ?? new Date();
      const expiresAt = opts.expires ? new Date(now.getTime() + opts.expires).toISOString() : undefined;
      return withKeyStore(deps.env, deps.io, { writes: true }, (keys) =>
        createKey(keys, deps.io, h, {
          name,
          methods: opts.methods,
          expiresAt,
          rate: opts.rate,
          maxInvites: opts.maxInvites,
          scopes: opts.scope,
          maxTtlSeconds: opts.maxTtl,
          groups: opts.groups,
        }),
      );
    });

  program
    .command("list")
    .description("list the keys of HOST, one ID<TAB>NAME line each")
    .argument("<host>", "the VirtualHost", host)
    .option("--json", "every field of every key, as JSON")
    .action((h: string, opts: { json?: boolean }) =>
      withKeyStore(deps.env, deps.io, { writes: false }, (keys) => listKeys(keys, deps.io, h, opts.json ?? false)),
    );

  program
    .command("show")
    .description("show every field of the key ID of HOST, usage included")
    .argument("<host>", "the VirtualHost", host)
    .argument("<id>", "the key id (the part before the slash; put -- before an id that begins with -)")
    .option("--json", "as JSON")
    .action((h: string, id: string, opts: { json?: boolean }) =>
      withKeyStore(deps.env, deps.io, { writes: false }, (keys) => showKey(keys, deps.io, h, id, opts.json ?? false)),
    );

  program
    .command("import")
    .description("import the keys mod_invites_api stored for HOST; clients keep their ID/TOKEN strings")
    .argument("<host>", "the VirtualHost", host)
    .requiredOption("--from <path>", "Prosody's data directory, its prosody.sqlite, or an invite_api_keys.dat file")
    .action(async (h: string, opts: { from: string }) => {
      // Loaded on use: the Lua parser is needed by this command only.
      const { importKeys } = await import("./importCommand.js");
      await withKeyStore(deps.env, deps.io, { writes: true }, (keys) => importKeys(keys, deps.io, h, opts.from));
    });

  program
    .command("delete")
    .description("delete the key ID of HOST; it stops working at once")
    .argument("<host>", "the VirtualHost", host)
    .argument("<id>", "the key id (the part before the slash; put -- before an id that begins with -)")
    .action((h: string, id: string) =>
      withKeyStore(deps.env, deps.io, { writes: true }, (keys) => deleteKey(keys, deps.io, h, id)),
    );

  const webhook = program
    .command("webhook")
    .description("signed webhooks of a host's invite events (docs/webhooks.md)");
  webhook
    .command("add")
    .description("subscribe URL to HOST's events; prints the signing secret once, on the last line")
    .argument("<host>", "the VirtualHost", host)
    .argument("<url>", "where events are POSTed: https://… (http:// with --allow-http)")
    .option("--events <list>", `the events to send (default: all): ${WEBHOOK_EVENTS.join(", ")}`, events)
    .option("--allow-http", "allow a plain http:// URL")
    .option("--allow-private", "allow a URL that leads to loopback, link-local or private addresses")
    .option(
      "--groups <list>",
      "send only the events of invites within these circles (group ids); none of the host's own events",
      groupIds,
    )
    .action(
      (
        h: string,
        url: string,
        opts: { events?: WebhookEvent[]; allowHttp?: boolean; allowPrivate?: boolean; groups?: string[] },
      ) =>
        addWebhook(deps.env, deps.io, h, url, {
          events: opts.events ?? [...WEBHOOK_EVENTS],
          allowHttp: opts.allowHttp ?? false,
          allowPrivate: opts.allowPrivate ?? false,
          ...(opts.groups ? { groups: opts.groups } : {}),
        }),
    );
  webhook
    .command("list")
    .description("HOST's webhooks, one line each: id, url, events, last success, last failure, backlog")
    .argument("<host>", "the VirtualHost", host)
    .option("--json", "every field (never the secret), as JSON")
    .action((h: string, opts: { json?: boolean }) => listWebhooks(deps.env, deps.io, h, opts.json ?? false));
  webhook
    .command("show")
    .description("every field of one webhook (never its secret), with its deliveries' state")
    .argument("<host>", "the VirtualHost", host)
    .argument("<id>", "the webhook id")
    .option("--json", "as JSON")
    .action((h: string, id: string, opts: { json?: boolean }) =>
      showWebhook(deps.env, deps.io, h, id, opts.json ?? false),
    );
  webhook
    .command("delete")
    .description("delete a webhook and the deliveries still waiting for it")
    .argument("<host>", "the VirtualHost", host)
    .argument("<id>", "the webhook id")
    .action((h: string, id: string) => deleteWebhook(deps.env, deps.io, h, id));
  addRotateCommands(program, webhook, deps, host);

  program
    .command("budget")
    .description(
      "read or set HOST's registration budget and pause, through the running service (a temporary manage key is made and deleted)",
    )
    .argument("<host>", "the VirtualHost", host)
    .option("--limit <N/period>", "at most N registrations per period, e.g. 50/1d (period at least 1m)", budgetLimit)
    .option("--no-limit", "remove the budget")
    .option("--pause", "admit no registration until --resume")
    .option("--resume", "admit registrations again")
    .option("--url <url>", "the service's HTTP address (default: http://HTTP_HOST:HTTP_PORT)")
    .option("--json", "the budget as JSON")
    .action(
      (
        h: string,
        opts: { limit?: string | false; pause?: boolean; resume?: boolean; url?: string; json?: boolean },
        command: Command,
      ) => {
        if (opts.pause && opts.resume) command.error("error: give --pause or --resume, not both");
        const change = {
          ...(opts.limit === undefined ? {} : { limit: opts.limit === false ? null : opts.limit }),
          ...(opts.pause || opts.resume ? { paused: opts.pause === true } : {}),
        };
        return budgetCommand(deps.env, deps.io, h, change, {
          json: opts.json ?? false,
          ...(opts.url ? { url: opts.url } : {}),
        });
      },
    );

  program
    .command("check")
    .description(
      "check the configuration against Prosody and the key store, as prosodyctl check does; exit 1 on a problem",
    )
    .argument(
      "[hosts...]",
      "the VirtualHosts to check (default: those with keys, else the component domain's parent)",
      (value: string, previous: string[] = []) => [...previous, host(value)],
    )
    .option("--json", "one JSON object, for scripts")
    .option("--timeout <duration>", "the longest wait for each answer (connection, command, page)", duration, 10_000)
    .action(async (hosts: string[] | undefined, opts: { json?: boolean; timeout: number }) =>
      deps.setExitCode(
        await check(deps.env, deps.io, hosts ?? [], { json: opts.json ?? false, timeoutMs: opts.timeout }),
      ),
    );

  program
    .command("serve")
    .description("run the service (configured by environment variables, see docs/operations.md)")
    .action(async () => deps.setExitCode(await deps.serve()));

  shortUsageAfterErrors(program);
  return program;
}

/**
 * After a usage error, the command's one usage line and where its help is, not the whole help: the
 * line that says what was wrong stays in view.
 */
function shortUsageAfterErrors(command: Command, parents = ""): void {
  const name = parents ? `${parents} ${command.name()}` : command.name();
  const usage = command.commands.length > 0 ? "<command> [options]" : command.usage();
  command.showHelpAfterError(`Usage: ${name} ${usage}\nRun '${name} --help' for the details.`);
  for (const sub of command.commands) shortUsageAfterErrors(sub, name);
}
