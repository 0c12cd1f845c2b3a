import { Command, InvalidArgumentError } from "commander";
import { HTTP_METHODS, type HttpMethod } from "../keys/keyStore.js";
import { createKey, deleteKey, listKeys, withKeyStore, type Output } from "./keyCommands.js";

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

export interface ProgramDeps {
  readonly env: Env;
  readonly io: Output;
  /** Runs the service until a signal stops it; resolves with the exit code. */
  readonly serve: () => Promise<number>;
  readonly setExitCode: (code: number) => void;
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
    .argument("[name]", "a label to remember the key by")
    .option("--methods <list>", "HTTP methods the key may use, e.g. GET or GET,POST", methods)
    .action((h: string, name: string | undefined, opts: { methods?: HttpMethod[] }) =>
      withKeyStore(deps.env, (keys) => createKey(keys, deps.io, h, { name, methods: opts.methods })),
    );

  program
    .command("list")
    .description("list the keys of HOST, one ID<TAB>NAME line each")
    .argument("<host>", "the VirtualHost", host)
    .action((h: string) => withKeyStore(deps.env, (keys) => listKeys(keys, deps.io, h)));

  program
    .command("delete")
    .description("delete the key ID of HOST; it stops working at once")
    .argument("<host>", "the VirtualHost", host)
    .argument("<id>", "the key id (the part before the slash)")
    .action((h: string, id: string) => withKeyStore(deps.env, (keys) => deleteKey(keys, deps.io, h, id)));

  program
    .command("serve")
    .description("run the service (configured by environment variables, see README)")
    .action(async () => deps.setExitCode(await deps.serve()));

  return program;
}
