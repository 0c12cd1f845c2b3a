import type { Context } from "koa";
import { AppError } from "../errors.js";
import type { InviteChange, OperatorControls } from "../xmpp/operatorControls.js";
import { sourceOfKey } from "../xmpp/inviteManager.js";
import { boundedTtl } from "./inviteQuota.js";
import { inviteId, inviteJson, jsonBody, pendingInvite, type ResourceDeps } from "./invitesResource.js";
import { auditActor } from "../people/authors.js";
import { callerOf, reachable, reachFor } from "../people/confinement.js";
import { updateBody } from "./wire/requests.js";

/** Prosody's budget and upkeep commands; none: a service built without them (501). */
export const controlsOf = (controls: OperatorControls | undefined): OperatorControls => {
  if (!controls) throw new AppError("not_implemented", "this service has no operator controls");
  return controls;
};

/**
 * PATCH /invites/{id}: a pending invite's new ttl (from now, within the key's --max-ttl and
 * invites_manage_max_ttl), use cap or note (null removes either); its token, and so its link, stays.
 * 200 with the invite as it is now; 404 when no pending invite the service may see has that id.
 */
export function updateInvite(deps: ResourceDeps & { controls?: OperatorControls }) {
  return async function updateInvite(ctx: Context): Promise<void> {
    const caller = callerOf(ctx);
    const { apiKey } = caller;
    const reach = reachFor(caller, "update");
    const id = inviteId(ctx);
    const request = jsonBody(ctx, updateBody);
    if (Object.keys(request).length === 0) throw new AppError("bad_request", "give ttl, max_uses or note to change");
    // A confined caller's: looked at first, so that one out of reach is never touched.
    if (reach.circles !== undefined || reach.ownSource !== undefined) {
      reachable(reach, await pendingInvite(deps.manager, apiKey.host, id), apiKey.host);
    }
    const change: InviteChange = {
      ...(request.ttl === undefined ? {} : { ttl: boundedTtl(apiKey, request.ttl) }),
      ...(request.max_uses === undefined ? {} : { maxUses: request.max_uses }),
      ...(request.note === undefined ? {} : { note: request.note }),
    };
    const invite = await controlsOf(deps.controls).updateInvite(apiKey.host, id, change, sourceOfKey(apiKey.id));
    // The audit line names the key and what changed, never the token nor the note.
    deps.log.info(
      {
        audit: "update",
        ...auditActor(apiKey),
        host: apiKey.host,
        changed: Object.keys(request),
        expires: invite.expires,
      },
      "invite updated",
    );
    ctx.body = inviteJson(invite, apiKey.host);
  };
}
