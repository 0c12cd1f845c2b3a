import { randomBytes } from "node:crypto";
import { cpSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { chownTree, createProsody, prosodyUser, type ProsodyOptions, type RunningProsody } from "./prosody.js";
import { onFreshPorts, PortInUseError, serverPort } from "./ports.js";
import { startService, type RunningService } from "./service.js";
import { freshKeyStore, serviceEnv, waitReady, type Component, type RunningStack } from "./stack.js";
import { backportsModules } from "./webRegister.js";

/**
 * People signing in through Prosody 13's mod_http_oauth2 (issue 29, part D), for the end-to-end
 * tests. The module is in prosody-modules, which Prosody 13 gets from bookworm-backports as
 * webRegister.ts fetches it (PROSODY_MODULES_BP_DIR); each test Prosody gets a copy beside the
 * project's modules. It needs, on Prosody's side:
 *
 * - `oauth2_registration_key`: dynamic client registration (RFC 7591) is off without it; client
 *   ids are then JWTs signed with it, so nothing is stored per client;
 * - `http_default_host`: the service reaches Prosody's HTTP at 127.0.0.1 (PEOPLE_OAUTH), a Host
 *   no VirtualHost is named after; the browser comes by the VirtualHost's own name
 *   (http_external_url, which the tests' Chromium resolves to loopback).
 *
 * On 0.12 the module is not loaded: it needs 13 (util.jsonschema, roles); the host has no OAuth.
 */
const on13 = process.env.PROSODY_VERSION === "13";

export interface OAuthStackOptions {
  readonly component: Component;
  /** The VirtualHost Prosody's HTTP serves at 127.0.0.1 (http_default_host), with mod_http_oauth2 on 13. */
  readonly oauthHost: string;
  /** PEOPLE_OAUTH's hosts, each sent to that Prosody HTTP (by default only `oauthHost`). */
  readonly peopleOAuthHosts?: readonly string[];
  readonly env?: Record<string, string>;
}

/** The Prosody lines (global) that mod_http_oauth2 needs here; the key is random per Prosody. */
export function oauthProsodyLines(oauthHost: string): string[] {
  return [
    `http_default_host = ${JSON.stringify(oauthHost)}`,
    `oauth2_registration_key = ${JSON.stringify(randomBytes(32).toString("base64url"))}`,
  ];
}

/**
 * A Prosody (mod_http_oauth2 loaded on `oauthHost` on 13) and the service with PUBLIC_URL on
 * loopback and PEOPLE_OAUTH pointing at Prosody's HTTP port. The service's port is picked first:
 * PUBLIC_URL names it. `stop()` takes both down; a failed start stops what did start.
 */
export function startOAuthStack(prosodyOptions: ProsodyOptions, opts: OAuthStackOptions): Promise<RunningStack> {
  const hostOptions = prosodyOptions.hostOptions?.[opts.oauthHost] ?? {};
  const modules = hostOptions.modules ?? prosodyOptions.hostModules ?? [];
  const withOAuth: ProsodyOptions = {
    ...prosodyOptions,
    hostOptions: {
      ...prosodyOptions.hostOptions,
      [opts.oauthHost]: { ...hostOptions, modules: on13 ? [...modules, "http_oauth2"] : modules },
    },
    extra: [prosodyOptions.extra ?? "", ...oauthProsodyLines(opts.oauthHost)].join("\n"),
  };
  return onFreshPorts(async () => {
    const prosody: RunningProsody = await createProsody(withOAuth);
    let service: RunningService | undefined;
    const stop = async () => {
      await service?.stop();
      await prosody.dispose();
    };
    try {
      if (on13) {
        const to = join(prosody.dir, "modules", "mod_http_oauth2");
        mkdirSync(to, { recursive: true });
        cpSync(join(backportsModules(), "mod_http_oauth2"), to, { recursive: true, dereference: true });
        const owner = prosodyUser();
        if (owner) chownTree(to, owner);
      }
      await prosody.start();
      const port = serverPort();
      const prosodyHttp = `http://127.0.0.1:${prosody.httpPort}`;
      const hosts = opts.peopleOAuthHosts ?? [opts.oauthHost];
      const keyStore = freshKeyStore();
      try {
        service = await startService(
          serviceEnv(prosody, opts.component, keyStore, {
            HTTP_PORT: String(port),
            PUBLIC_URL: `http://127.0.0.1:${port}`,
            PEOPLE_OAUTH: JSON.stringify(Object.fromEntries(hosts.map((host) => [host, prosodyHttp]))),
            ...opts.env,
          }),
        );
      } catch (err) {
        if (/EADDRINUSE/.test(String(err))) throw new PortInUseError("invites-api", port, String(err));
        throw err;
      }
      await waitReady(service.url, 10_000);
      return { prosody, service, keyStore, stop };
    } catch (err) {
      await stop();
      throw err;
    }
  });
}
