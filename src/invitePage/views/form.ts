import { html, type Html } from "../html.js";
import type { PageRequest } from "../page.js";

/** The fields a form posts back; errors by field name. The password is never written back. */
export interface FormState {
  readonly username?: string;
  readonly errors?: Partial<Record<"username" | "password" | "confirm", string>>;
}

interface FieldOptions {
  readonly name: "username" | "password" | "confirm";
  readonly label: string;
  /** The input, given the attributes every field's input has (id, name, its descriptions). */
  readonly input: (attributes: Html) => Html;
  /** Ids of hints and live statuses under the field, before its error. */
  readonly described: readonly string[];
  readonly below: Html;
  readonly error: string | undefined;
}

function field(o: FieldOptions): Html {
  const errorId = `${o.name}-error`;
  const described = [...o.described, ...(o.error ? [errorId] : [])].join(" ");
  const input = o.input(
    html`id="${o.name}"
    name="${o.name}"${described ? html` aria-describedby="${described}"` : ""}${o.error ? html` aria-invalid="true" autofocus` : ""}`,
  );
  return html`<div class="field${o.error ? " invalid" : ""}">
    <label for="${o.name}">${o.label}</label>${input}${o.below}${
      o.error ? html`<p id="${errorId}" class="error">${o.error}</p>` : ""
    }
  </div>`;
}

/**
 * The sign-up form (a new account, or a reset's new password), posted to the page's own address.
 * `name`: whether the person picks the name (not for a named invite nor a reset).
 */
export function signupForm(
  page: PageRequest,
  host: string,
  kind: "account" | "reset",
  name: boolean,
  state: FormState,
): Html {
  const { t } = page;
  const errors = state.errors ?? {};
  const username = name
    ? field({
        name: "username",
        label: t("form.username"),
        input: (attributes) =>
          html`<span class="with-suffix"
            ><input
              ${attributes}
              type="text"
              autocomplete="username"
              autocapitalize="none"
              autocorrect="off"
              spellcheck="false"
              required
              maxlength="1023"
              value="${state.username ?? ""}"
            /><span class="suffix" aria-hidden="true">@${host}</span></span
          >`,
        described: ["username-hint", "username-status"],
        below: html`<p id="username-hint" class="hint">${t("form.usernameHint", { host })}</p>
          <p
            id="username-status"
            class="status"
            aria-live="polite"
            data-url="${page.path}/name"
            data-free="${t("name.free")}"
            data-taken="${t("name.taken")}"
            data-invalid="${t("name.invalid")}"
          ></p>`,
        error: errors.username,
      })
    : "";
  const password = field({
    name: "password",
    label: kind === "reset" ? t("form.newPassword") : t("form.password"),
    input: (attributes) =>
      html`<input ${attributes} type="password" autocomplete="new-password" required minlength="8" />`,
    described: ["password-hint", "password-strength"],
    below: html`<p id="password-hint" class="hint">${t("form.passwordHint")}</p>
      <p
        id="password-strength"
        class="status"
        aria-live="polite"
        data-weak="${t("strength.weak")}"
        data-fair="${t("strength.fair")}"
        data-strong="${t("strength.strong")}"
      ></p>`,
    error: errors.password,
  });
  const confirm = field({
    name: "confirm",
    label: t("form.confirm"),
    input: (attributes) =>
      html`<input ${attributes} type="password" autocomplete="new-password" required minlength="8" />`,
    described: [],
    below: html``,
    error: errors.confirm,
  });
  const submit = kind === "reset" ? t("form.submitReset") : t("form.submit");
  return html`<form method="post" action="${page.href()}" class="signup">
    ${username}${password}${confirm}<button type="submit" class="primary">${submit}</button>
  </form>`;
}
