import { html, type Html } from "../html.js";
import type { PageRequest } from "../page.js";
import { layout } from "./layout.js";

/** A page that says why the invite cannot be used now, and what to do. */
export function problemPage(page: PageRequest, title: string, text: string, retry = false): Html {
  return layout(
    page,
    title,
    html`<header class="intro">
      <h1>${title}</h1>
      <p class="lead">${text}</p>
      ${retry ? html`<p><a class="button primary" href="${page.href()}">${page.t("problem.retry")}</a></p>` : ""}
    </header>`,
  );
}
