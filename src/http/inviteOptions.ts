import type { Context } from "koa";
import { POWERS, refusal } from "../keys/powers.js";
import type { InviteManager } from "../xmpp/inviteManager.js";
import type { ApiKeyState } from "./requireApiKey.js";
import { isPerson } from "../people/caller.js";
import type { InviteOptionsJson } from "./apiTypes.js";
import type { PersonCaller } from "../people/types.js";

/**
 * GET /invites/options: what this key may make on its host, and what an invite may carry there,
 * so that a form (the admin page) offers only what would be accepted (a confined caller's circles
 * only). Any valid key may ask.
 */
export function inviteOptions(deps: { readonly manager: InviteManager }) {
  return async function inviteOptions(ctx: Context): Promise<void> {
    const { apiKey } = ctx.state as ApiKeyState;
    const options = await deps.manager.options(apiKey.host);
    const keyMax = apiKey.maxTtlSeconds;
    const confined = Boolean(apiKey.groups?.length);
    const ownOnly = (ctx.state as { person?: PersonCaller }).person?.ownOnly === true;
    // A key with --max-ttl gives its invites that ttl when none is asked for (inviteQuota.ts).
    const byDefault = (ttl: number) => keyMax ?? ttl;
    const body: InviteOptionsJson = {
      host: apiKey.host,
      key: apiKey.id,
      scopes: [...apiKey.scopes],
      // Confined to circles: no reset (an account is in no circle), no budget (the host's).
      can: POWERS.filter(
        (power) =>
          (refusal(apiKey, power) === undefined && !(confined && (power === "reset" || power === "budget"))) ||
          // A member lists, shows and revokes the invites they made (confinement.ts reachFor).
          (ownOnly && (power === "list" || power === "revoke")),
      ),
      // A caller confined to circles may give only those.
      // A person neither manager nor with manage gives none (confinement.ts).
      groups: options.groups
        .filter(() => !isPerson(apiKey) || confined || apiKey.scopes.includes("manage"))
        .filter(({ id }) => !apiKey.groups?.length || apiKey.groups.includes(id))
        .map(({ id, name }) => ({ id, name })),
      // A person gives roles only with the manage scope (confinement.ts).
      roles: isPerson(apiKey) && !apiKey.scopes.includes("manage") ? [] : [...options.roles],
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
