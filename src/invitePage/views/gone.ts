import type { InviteLanding } from "../../xmpp/inviteDoor.js";
import type { Html } from "../html.js";
import type { PageRequest } from "../page.js";
import { problemPage } from "./problem.js";

/** The page of an invite that can no longer be used, saying why: used (or used up), expired, revoked. */
export function gonePage(page: PageRequest, invite: InviteLanding): Html {
  const { t } = page;
  const titles = {
    pending: t("gone.title"),
    // A capped reusable invite is "used" once its last use is taken.
    used: invite.usesLeft !== undefined ? t("gone.usedUp") : t("gone.used"),
    expired: t("gone.expired"),
    revoked: t("gone.revoked"),
  };
  const text = invite.inviter ? t("gone.askInviter", { inviter: invite.inviter }) : t("gone.askAgain");
  return problemPage(page, titles[invite.state], text);
}
