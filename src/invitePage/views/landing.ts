import type { App } from "../apps.js";
import { html, type Html } from "../html.js";
import type { PageRequest } from "../page.js";
import type { InviteLanding } from "../../xmpp/inviteDoor.js";
import { appList, platformSwitcher } from "./apps.js";
import { signupForm, type FormState } from "./form.js";
import { layout } from "./layout.js";

/** What the invite says about itself: the site, who invites, the groups, the name, expiry, uses left. */
function facts(page: PageRequest, invite: InviteLanding): Html {
  const { t, lang } = page;
  const items: string[] = [];
  if (invite.kind === "account" && invite.username) {
    items.push(t("landing.reservedName", { jid: `${invite.username}@${invite.host}` }));
  }
  if (invite.groups.length > 0) {
    const groups = new Intl.ListFormat(lang, { type: "conjunction" }).format(invite.groups);
    items.push(t("landing.groups", { count: invite.groups.length, groups }));
  }
  items.push(t("landing.expires", { expires: new Date(invite.expires * 1_000) }));
  if (invite.usesLeft !== undefined) items.push(t("landing.usesLeft", { count: invite.usesLeft }));
  return html`<ul class="facts">
    ${items.map((item) => html`<li>${item}</li>`)}
  </ul>`;
}

function intro(page: PageRequest, invite: InviteLanding): Html {
  const { t } = page;
  if (invite.kind === "reset") {
    return html`<h1>${t("reset.title")}</h1>
      <p class="lead">${t("reset.intro", { jid: `${invite.username ?? ""}@${invite.host}` })}</p>`;
  }
  const lead = invite.inviter
    ? t("landing.introByInviter", { inviter: invite.inviter, host: invite.host })
    : t("landing.intro", { host: invite.host });
  return html`<h1>${t("landing.title", { host: invite.host })}</h1>
    <p class="lead">${lead}</p>`;
}

function haveApp(page: PageRequest, uri: string): Html {
  const { t } = page;
  return html`<section aria-labelledby="have-app">
    <h2 id="have-app">${t("have.title")}</h2>
    <p>${t("have.text")}</p>
    <p><a class="button primary" href="${uri}">${t("have.open")}</a></p>
    <div class="copy">
      <label for="invite-uri">${t("have.label")}</label
      ><span class="copy-row"
        ><input id="invite-uri" type="text" readonly value="${uri}" /><button
          type="button"
          class="copy-button"
          data-copy="invite-uri"
          data-done="${t("have.copied")}"
          hidden
        >
          ${t("have.copy")}
        </button></span
      >
    </div>
  </section>`;
}

export interface LandingView {
  readonly invite: InviteLanding;
  readonly apps: readonly App[];
  /** The QR code of this page's link. */
  readonly qr: Html;
  readonly form?: FormState;
}

/** The page of a pending invite: get an app, open the invite in it, move it to a phone, or sign up here. */
export function landingPage(page: PageRequest, view: LandingView): Html {
  const { t } = page;
  const { invite } = view;
  const name = invite.kind === "account" && !invite.username;
  const form = html`<section aria-labelledby="signup" id="web-signup">
    <h2 id="signup">${invite.kind === "reset" ? t("reset.formTitle") : t("signup.title")}</h2>
    <p>${invite.kind === "reset" ? t("reset.formIntro") : t("signup.intro")}</p>
    ${signupForm(page, invite.host, invite.kind, name, view.form ?? {})}
  </section>`;
  const apps =
    invite.kind === "account"
      ? html`<section aria-labelledby="get-app">
          <h2 id="get-app">${t("apps.title")}</h2>
          ${appList(page, view.apps, invite.uri ? { uri: invite.uri } : {})}${platformSwitcher(page)}
        </section>`
      : "";
  const qr = html`<section aria-labelledby="other-device">
    <h2 id="other-device">${t("qr.title")}</h2>
    <figure class="qr-figure">
      ${view.qr}
      <figcaption>${t("qr.caption")}</figcaption>
    </figure>
  </section>`;
  const title = invite.kind === "reset" ? t("reset.title") : t("landing.title", { host: invite.host });
  // After a refused post the form comes first, where the errors are.
  const sections = view.form?.errors
    ? [form, apps, invite.uri ? haveApp(page, invite.uri) : "", qr]
    : invite.kind === "reset"
      ? [form, invite.uri ? haveApp(page, invite.uri) : "", qr]
      : [apps, invite.uri ? haveApp(page, invite.uri) : "", form, qr];
  return layout(
    page,
    title,
    html`<header class="intro">
        <p class="site">${invite.host}</p>
        ${intro(page, invite)}${facts(page, invite)}
      </header>
      ${sections}`,
  );
}
