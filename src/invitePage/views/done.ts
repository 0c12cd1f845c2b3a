import type { App } from "../apps.js";
import { html, type Html } from "../html.js";
import type { PageRequest } from "../page.js";
import { appList, platformName, platformSwitcher } from "./apps.js";
import { layout } from "./layout.js";

/** After the sign-up: the new address and how to sign in with it in an app. */
export function donePage(page: PageRequest, kind: "account" | "reset", jid: string, apps: readonly App[]): Html {
  const { t } = page;
  const title = kind === "reset" ? t("done.resetTitle") : t("done.title", { jid });
  const lead = kind === "reset" ? t("done.resetIntro", { jid }) : t("done.intro");
  return layout(
    page,
    title,
    html`<header class="intro">
        <h1>${title}</h1>
        <p class="lead">${lead}</p>
        <p class="jid"><span class="label">${t("done.address")}</span> <strong>${jid}</strong></p>
      </header>
      <section aria-labelledby="sign-in">
        <h2 id="sign-in">${t("done.signInTitle")}</h2>
        <ol class="steps">
          <li>
            ${page.platform === "web" ? t("done.stepAnyApp") : t("done.stepApp", { platform: platformName(page, page.platform) })}
          </li>
          <li>${t("done.stepSignIn")}</li>
          <li>${t("done.stepCredentials", { jid })}</li>
        </ol>
        ${appList(page, apps, { signedUp: true })}${platformSwitcher(page)}
      </section>`,
  );
}
