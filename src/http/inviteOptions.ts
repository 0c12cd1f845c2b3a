import type { Context } from "koa";
import { POWERS, refusal } from "../keys/powers.js";
import type { InviteManager } from "../xmpp/inviteManager.js";
import type { ApiKeyState } from "./requireApiKey.js";
import type { InviteOptionsJson } from "./apiTypes.js";

/**
 * GET /invites/options: what this key may make on its host, and what an invite may carry there,
 * so that a form (the admin page) offers only what would be accepted. Any valid key may ask.
 */
export function inviteOptions(deps: { readonly manager: InviteManager }) {
  return async function inviteOptions(ctx: Context): Promise<void> {
    const { apiKey } = ctx.state as ApiKeyState;
    const options = await deps.manager.options(apiKey.host);
    const keyMax = apiKey.maxTtlSeconds;
    // A key with --max-ttl gives its invites that ttl when none is asked for (inviteQuota.ts).
    const byDefault = (ttl: number) => keyMax ?? ttl;
    const body: InviteOptionsJson = {
      host: apiKey.host,
      key: apiKey.id,
      scopes: [...apiKey.scopes],
      can: POWERS.filter((power) => refusal(apiKey, power) === undefined),
      groups: options.groups.map(({ id, name }) => ({ id, name })),
      roles: [...options.roles],
      max_ttl: keyMax === undefined ? options.maxTtl : Math.min(keyMax, options.maxTtl),
      default_ttl: {
        account: byDefault(options.defaultTtl),
        group: byDefault(options.defaultTtl),
        reset: byDefault(options.resetTtl),
      },
    };
    ctx.body = body;
  };
}
