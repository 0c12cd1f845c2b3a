import type { Context } from "koa";
import { AppError } from "../errors.js";
import { clientAddress } from "../http/clientAddress.js";
import type { InviteLanding } from "../xmpp/inviteDoor.js";
import { answerPage } from "./answer.js";
import type { PageKit } from "./kit.js";
import { landingAnswer } from "./landingRoute.js";
import { sameOrigin } from "./origin.js";
import type { PageRequest } from "./page.js";
import { passwordProblem } from "./password.js";
import { donePage } from "./views/done.js";
import type { FormState } from "./views/form.js";
import { problemPage } from "./views/problem.js";

// Characters nodeprep never allows in a name (RFC 6122, A.5), refused here without asking Prosody.
const NOT_IN_NAMES = /[\s"&'/:<>@]/u;

const text = (body: unknown, name: string): string => {
  const value = (body as Record<string, unknown> | undefined)?.[name];
  return typeof value === "string" ? value : "";
};

/** What is wrong with the posted fields, by field, in the page's language; undefined: nothing. */
function fieldErrors(page: PageRequest, invite: InviteLanding, chooses: boolean, body: unknown): FormState["errors"] {
  const { t } = page;
  const username = chooses ? text(body, "username").trim() : invite.username;
  if (chooses && !username) return { username: t("form.errorNameMissing") };
  if (chooses && (NOT_IN_NAMES.test(username ?? "") || Buffer.byteLength(username ?? "") > 1023)) {
    return { username: t("name.invalid") };
  }
  const problem = passwordProblem(text(body, "password"), text(body, "confirm"), username);
  if (problem === "too_short") return { password: t("form.errorShort") };
  if (problem === "too_long") return { password: t("form.errorLong") };
  if (problem === "contains_name") return { password: t("form.errorContainsName") };
  if (problem === "mismatch") return { confirm: t("form.errorMismatch") };
  return undefined;
}

/**
 * POST /invite/HOST/TOKEN: the sign-up form. Only from the page's own origin, counted per client
 * address (INVITE_SIGNUP_RATE); the fields are checked here first, then the door registers the
 * account (or sets a reset's password). The password goes to the door and nowhere else.
 */
export function signupRoute(kit: PageKit) {
  return async function inviteSignup(ctx: Context): Promise<void> {
    await answerPage(ctx, kit, async (page, { host, token }) => {
      const { t } = page;
      if (!sameOrigin(ctx, kit.trustedProxies)) {
        return { status: 403, page: problemPage(page, t("problem.crossSiteTitle"), t("problem.crossSiteText")) };
      }
      const ip = clientAddress(ctx.req, kit.trustedProxies);
      await kit.limits.consumeInviteSignup(ip);
      const invite = await kit.door.landing(host, token);
      if (invite.state !== "pending") return landingAnswer(ctx, kit, page, invite);
      const body: unknown = ctx.request.body;
      const chooses = invite.kind === "account" && !invite.username;
      const kept: FormState = chooses ? { username: text(body, "username").trim() } : {};
      const errors = fieldErrors(page, invite, chooses, body);
      if (errors) return landingAnswer(ctx, kit, page, invite, 400, { ...kept, errors });
      try {
        const registration = { password: text(body, "password"), ip, ...(chooses ? { username: kept.username } : {}) };
        const { jid } = await kit.door.redeem(host, token, registration);
        return { status: 201, page: donePage(page, invite.kind, jid, kit.apps) };
      } catch (err) {
        if (!(err instanceof AppError)) throw err;
        if (err.code === "user_exists") {
          return landingAnswer(ctx, kit, page, invite, 409, { ...kept, errors: { username: t("name.taken") } });
        }
        if (err.code === "bad_request") {
          // The door says which field Prosody refused; never with the password in the message.
          const refused = /password/i.test(err.message)
            ? { password: t("form.errorPasswordRefused") }
            : { username: t("name.invalid") };
          return landingAnswer(ctx, kit, page, invite, 400, { ...kept, errors: refused });
        }
        throw err;
      }
    });
  };
}
