import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import inject, { type InjectOptions } from "light-my-request";
import Keyv from "keyv";
import { pino, type Logger } from "pino";
import { AppError } from "../../src/errors.js";
import { createHttpApp } from "../../src/http/server.js";
import { loadInviteAssets } from "../../src/invitePage/assets.js";
import { createKeyStore } from "../../src/keys/keyStore.js";
import { createRateLimits, type RateLimits } from "../../src/limits/rateLimits.js";
import { createMetrics } from "../../src/metrics/metrics.js";
import type { InviteDoor, InviteLanding, Registration } from "../../src/xmpp/inviteDoor.js";
import type { InviteIssuer } from "../../src/xmpp/inviteIssuer.js";
import { fakeManager } from "./fakeManager.js";

export const HOST = "example.test";
export const IN_A_WEEK = Math.floor(Date.UTC(2031, 2, 14, 15, 30) / 1_000);

/**
 * A stand-in for the invite door (src/xmpp/inviteDoor.ts): invites by token, taken names, a
 * failure to throw from every call, and a record of every call (no password in it).
 */
export function fakeDoor() {
  const invites = new Map<string, InviteLanding>();
  const calls: string[] = [];
  const registrations: Registration[] = [];
  const taken = new Set(["taken"]);
  const state: { failure?: AppError } = {};
  const find = (host: string, token: string) => {
    if (state.failure) throw state.failure;
    const invite = invites.get(token);
    if (!invite || invite.host !== host) throw new AppError("invite_not_found", "no such invite");
    return invite;
  };
  const door: InviteDoor = {
    async landing(host, token) {
      calls.push(`landing ${host}`);
      return find(host, token);
    },
    async checkName(host, token, username) {
      calls.push(`checkName ${host} ${username}`);
      if (find(host, token).state !== "pending") throw new AppError("invite_gone", "gone");
      if (/[@\s]/.test(username)) return "invalid";
      return taken.has(username) ? "taken" : "free";
    },
    async redeem(host, token, registration) {
      calls.push(`redeem ${host}`);
      const invite = find(host, token);
      if (invite.state !== "pending") throw new AppError("invite_gone", "gone");
      const username = invite.username ?? registration.username ?? "";
      if (invite.kind === "account" && taken.has(username)) throw new AppError("user_exists", "taken");
      registrations.push(registration);
      return { jid: `${username}@${host}` };
    },
  };
  /** An invite under `token`, pending on HOST unless said otherwise. */
  const add = (token: string, invite: Partial<InviteLanding> = {}) =>
    invites.set(token, {
      host: HOST,
      state: "pending",
      kind: "account",
      groups: [],
      uri: `xmpp:${HOST}?register;preauth=${token}`,
      expires: IN_A_WEEK,
      ...invite,
    });
  return { door, calls, registrations, taken, state, add };
}

const issuer: InviteIssuer = {
  createAccountInvite: () => Promise.reject(new Error("unused")),
  createResetInvite: () => Promise.reject(new Error("unused")),
};

/** Built assets as `npm run build` leaves them, with made-up names. */
export function fakeAssetsDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "invite-assets-"));
  writeFileSync(join(dir, "manifest.json"), JSON.stringify({ js: "invite-TEST1234.js", css: "invite-TEST1234.css" }));
  writeFileSync(join(dir, "invite-TEST1234.js"), "document.title;".repeat(20));
  writeFileSync(join(dir, "invite-TEST1234.css"), "body{margin:0}");
  return dir;
}

export interface PageAppOptions {
  readonly limits?: RateLimits;
  readonly hosts?: readonly string[];
  readonly log?: Logger;
  readonly trustedProxies?: number;
  readonly off?: boolean;
}

/** The service's Koa app with the invite page on `door`, driven in-process (no port) by `request`. */
export function pageApp(door: InviteDoor, opts: PageAppOptions = {}) {
  const hosts = opts.hosts ?? [HOST];
  const knownHostCalls: string[] = [];
  const app = createHttpApp({
    keys: createKeyStore(new Keyv()),
    metrics: createMetrics({ xmppOnline: () => true }),
    limits: opts.limits ?? createRateLimits({ defaultKeyRate: undefined, failureLimit: undefined }),
    issuer,
    manager: fakeManager().manager,
    log: opts.log ?? pino({ level: "silent" }),
    xmppStatus: () => ({ online: true }),
    trustedProxies: opts.trustedProxies ?? 0,
    ...(opts.off
      ? {}
      : {
          invitePage: {
            door,
            knownHost: async (host: string) => {
              knownHostCalls.push(host);
              return hosts.includes(host);
            },
            assets: loadInviteAssets(fakeAssetsDir()),
          },
        }),
  });
  const handler = app.callback();
  const request = (options: InjectOptions | string) => inject(handler, options);
  return { request, knownHostCalls };
}

/** A form post as the page's own form sends it. */
export function formPost(
  url: string,
  fields: Record<string, string>,
  headers: Record<string, string> = {},
): InjectOptions {
  return {
    method: "POST",
    url,
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      "sec-fetch-site": "same-origin",
      origin: "http://localhost:80",
      ...headers,
    },
    payload: new URLSearchParams(fields).toString(),
    remoteAddress: "192.0.2.7",
  };
}
