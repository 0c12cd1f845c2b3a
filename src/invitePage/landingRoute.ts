import type { Context } from "koa";
import { AppError } from "../errors.js";
import { clientAddress } from "../http/clientAddress.js";
import { answerPage, type PageAnswer } from "./answer.js";
import type { PageKit } from "./kit.js";
import { publicOrigin } from "./origin.js";
import type { PageRequest } from "./page.js";
import { qrSvg } from "./qr.js";
import type { InviteTarget } from "./target.js";
import { gonePage } from "./views/gone.js";
import { landingPage } from "./views/landing.js";
import type { FormState } from "./views/form.js";

/** The landing page of a pending invite (with a refused form's state), or the page saying why it cannot be used. */
export async function landingAnswer(
  ctx: Context,
  kit: PageKit,
  page: PageRequest,
  invite: Awaited<ReturnType<PageKit["door"]["landing"]>>,
  status = 200,
  form?: FormState,
): Promise<PageAnswer> {
  if (invite.state !== "pending") return { status: 410, page: gonePage(page, invite) };
  // No form nor app while the host admits no registration: answerPage says it is paused (503).
  if (invite.paused) throw new AppError("registrations_closed", `registrations on ${invite.host} are paused`);
  const origin = publicOrigin(ctx, kit.trustedProxies);
  // The QR code carries the page without ?lang= and ?platform=: the phone picks its own.
  const qr = await qrSvg(`${origin.scheme}://${origin.host}${page.path}`);
  return { status, page: landingPage(page, { invite, apps: kit.apps, qr, ...(form ? { form } : {}) }) };
}

/** GET /invite/HOST/TOKEN. */
export function landingRoute(kit: PageKit) {
  return async function invitePage(ctx: Context): Promise<void> {
    await answerPage(ctx, kit, async (page, { host, token }: InviteTarget) => {
      await kit.limits.consumeInviteLookup(clientAddress(ctx.req, kit.trustedProxies));
      return landingAnswer(ctx, kit, page, await kit.door.landing(host, token));
    });
  };
}
