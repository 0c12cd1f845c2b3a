import { html, type Html } from "../html.js";
import { LANGUAGE_NAMES, LANGUAGES } from "../i18n.js";
import type { PageRequest } from "../page.js";

/** The document around every view: its language, title, the built style and script, the language switcher. */
export function layout(page: PageRequest, title: string, content: Html): Html {
  const { t, lang, assets } = page;
  const languages = LANGUAGES.map(
    (other) =>
      html`<li>
        <a
          href="${page.href({ lang: other })}"
          hreflang="${other}"
          lang="${other}"
          ${other === lang ? html` aria-current="true"` : ""}
          >${LANGUAGE_NAMES[other]}</a
        >
      </li>`,
  );
  return html`<!doctype html>
    <html lang="${lang}">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="same-origin" />
        <meta name="robots" content="noindex, nofollow" />
        <meta name="color-scheme" content="light dark" />
        <title>${title}</title>
        <link rel="stylesheet" href="/invite/assets/${assets.css}" />
        <script type="module" src="/invite/assets/${assets.js}"></script>
      </head>
      <body>
        <main>${content}</main>
        <footer>
          <nav aria-label="${t("language.label")}">
            <ul class="switcher">
              ${languages}
            </ul>
          </nav>
        </footer>
      </body>
    </html> `;
}
