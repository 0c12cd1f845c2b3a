import { appsFor, type App } from "../apps.js";
import { html, type Html } from "../html.js";
import type { PageRequest } from "../page.js";
import { PLATFORMS, type Platform } from "../platform.js";

export function platformName(page: PageRequest, platform: Platform): string {
  const { t } = page;
  const names: Record<Platform, string> = {
    android: t("platform.android"),
    ios: t("platform.ios"),
    linux: t("platform.linux"),
    windows: t("platform.windows"),
    macos: t("platform.macos"),
    web: t("platform.web"),
  };
  return names[platform];
}

function storeLabel(page: PageRequest, store: App["links"][number]["store"]): string {
  const { t } = page;
  const labels = {
    googlePlay: t("store.googlePlay"),
    fdroid: t("store.fdroid"),
    appStore: t("store.appStore"),
    flathub: t("store.flathub"),
    microsoftStore: t("store.microsoftStore"),
    homepage: t("store.homepage"),
  };
  return labels[store];
}

/** Plain links to the same page for another platform. */
export function platformSwitcher(page: PageRequest): Html {
  const links = PLATFORMS.map(
    (p) =>
      html`<li>
        <a href="${page.href({ platform: p })}" ${p === page.platform ? html` aria-current="true"` : ""}
          >${platformName(page, p)}</a
        >
      </li>`,
  );
  return html`<nav class="platforms" aria-label="${page.t("apps.otherDevice")}">
    <p>${page.t("apps.otherDevice")}</p>
    <ul class="switcher">
      ${links}
    </ul>
  </nav>`;
}

/**
 * The apps for the page's platform, each with its install links and, when it takes the invite
 * itself and the invite has a URI, the link that opens the invite in it. After the sign-up (no URI),
 * only the install links; on the web, where nothing is installed, nothing.
 */
export function appList(page: PageRequest, apps: readonly App[], opts: { uri?: string; signedUp?: boolean }): Html {
  const { uri } = opts;
  const { t } = page;
  const suggested = appsFor(apps, page.platform);
  if (suggested.length === 0) return opts.signedUp ? html`` : html`<p>${t("apps.none")}</p>`;
  const items = suggested.map((app) => {
    const install = app.links.map(
      (link) =>
        html`<a class="button" href="${link.url}" rel="noreferrer noopener"
          >${storeLabel(page, link.store)}<span class="visually-hidden"> (${app.name})</span></a
        >`,
    );
    const open =
      uri && app.takesInvite
        ? html`<a class="button primary" href="${uri}">${t("apps.open", { app: app.name })}</a>`
        : html`<p class="note">${t("apps.signUpFirst", { app: app.name })}</p>`;
    return html`<li class="app">
      <h3>${app.name}</h3>
      <p>${app.description[page.lang]}</p>
      <p class="actions">${install}</p>
      ${uri ? open : ""}
    </li>`;
  });
  return html`<p>${t("apps.for", { platform: platformName(page, page.platform) })}</p>
    <ul class="apps">
      ${items}
    </ul>`;
}
