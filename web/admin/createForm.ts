import type { Context } from "./context.js";
import { busy, byId, h } from "./dom.js";
import { fieldOf, refusalText, type Field } from "./fields.js";
import { duration } from "./format.js";
import type { Invite, Kind, Options } from "./types.js";

const KINDS: readonly Kind[] = ["account", "group", "reset"];
// Lifetimes offered besides the default, up to the key's and the server's longest.
const LIFETIMES = [3_600, 86_400, 604_800, 2_592_000];

const USERNAME_TEXT: Record<Kind, [label: string, hint: string]> = {
  account: ["User name (optional)", "Only this name may register with the invite."],
  group: ["", ""],
  reset: ["User name", "The account whose password is set anew with the link."],
};
const GROUPS_HINT: Record<Kind, string> = {
  account: "The new account joins them and sees their members (optional).",
  group: "At least one. Everyone who registers with it joins them.",
  reset: "",
};

/** The lifetimes a form offers for this kind: its default first, then those up to the longest allowed. */
export const lifetimes = (options: Options, kind: Kind): HTMLOptionElement[] => [
  h("option", { value: "" }, `${duration(options.default_ttl[kind])} (the default)`),
  ...LIFETIMES.filter((s) => s <= options.max_ttl && s !== options.default_ttl[kind]).map((s) =>
    h("option", { value: String(s) }, duration(s)),
  ),
];

/** A checkbox for each of the host's groups, its name as its label (text, never markup). */
export const groupChoices = (options: Options, name: string): HTMLLabelElement[] =>
  options.groups.map((group) =>
    h("label", { class: "choice" }, h("input", { type: "checkbox", name, value: group.id }), group.name),
  );

/** The "New invite" form: one kind at a time, offering only what the key and the server allow. */
export function createForm(ctx: Context, created: (invite: Invite) => void): { configure(): void } {
  const form = byId<HTMLFormElement>("create-form");
  const submit = form.querySelector<HTMLButtonElement>("button[type=submit]");
  const value = (name: string) => (form.elements.namedItem(name) as HTMLInputElement | null)?.value.trim() ?? "";
  const kind = (): Kind =>
    (form.querySelector<HTMLInputElement>("input[name=kind]:checked")?.value as Kind) ?? "account";
  const offered = (options: Options) =>
    KINDS.filter((k) => options.can.includes(k) && (k !== "group" || options.groups.length > 0));

  function clearErrors(): void {
    for (const error of form.querySelectorAll<HTMLElement>(".error")) {
      error.hidden = true;
      error.textContent = "";
    }
    for (const invalid of form.querySelectorAll("[aria-invalid]")) invalid.removeAttribute("aria-invalid");
  }

  /** Shows the error under its field (or under the form) and takes the focus there. */
  function showError(field: Field | undefined, text: string): void {
    const error = byId(`${field ?? "create"}-error`);
    error.textContent = text;
    error.hidden = false;
    const control =
      field === "groups" ? form.querySelector<HTMLInputElement>("input[name=groups]") : field && byId(field);
    if (control && field !== "groups") control.setAttribute("aria-invalid", "true");
    (control ?? submit)?.focus();
  }

  function showKind(): void {
    const current = kind();
    for (const part of form.querySelectorAll<HTMLElement>("[data-for]")) {
      part.hidden = !(part.dataset.for ?? "").split(" ").includes(current);
    }
    const options = ctx.options();
    byId("groups-field").hidden ||= options.groups.length === 0;
    byId("roles-field").hidden ||= options.roles.length === 0;
    const [label, hint] = USERNAME_TEXT[current];
    byId("username-label").textContent = label;
    byId("username-hint").textContent = hint;
    byId("groups-hint").textContent = GROUPS_HINT[current];
    byId("ttl").replaceChildren(...lifetimes(options, current));
    clearErrors();
  }

  function body(current: Kind): Record<string, unknown> | undefined {
    const username = value("username");
    const groups = [...form.querySelectorAll<HTMLInputElement>("input[name=groups]:checked")].map((box) => box.value);
    if (current === "reset" && !username) {
      showError("username", "Enter the user name of the account.");
      return undefined;
    }
    if (current === "group" && groups.length === 0) {
      showError("groups", "Choose at least one group.");
      return undefined;
    }
    const fields: Record<string, unknown> = {};
    if (username && current !== "group") fields.username = username;
    if (value("ttl")) fields.ttl = Number(value("ttl"));
    if (current === "reset") return fields;
    if (value("roles")) fields.roles = [value("roles")];
    if (groups.length > 0) fields.groups = groups;
    if (value("note")) fields.note = value("note");
    if (current === "group" && value("max_uses")) fields.max_uses = Number(value("max_uses"));
    return fields;
  }

  form.addEventListener("change", (event) => {
    if ((event.target as HTMLInputElement).name === "kind") showKind();
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearErrors();
    const current = kind();
    const fields = body(current);
    if (!fields || !submit) return;
    void busy(submit, async () => {
      try {
        const { body: invite } = await ctx.call<Invite>("POST", `invites/${current}`, fields);
        for (const name of ["username", "note", "max_uses"]) byId<HTMLInputElement>(name).value = "";
        for (const box of form.querySelectorAll<HTMLInputElement>("input[name=groups]")) box.checked = false;
        created(invite);
      } catch (err) {
        const field = fieldOf(err);
        if (field || !ctx.handled(err)) showError(field, refusalText(err));
      }
    });
  });

  return {
    /** Builds the choices for the signed-in key: its kinds, the server's groups and roles. */
    configure(): void {
      const options = ctx.options();
      const kinds = offered(options);
      byId("create").hidden = kinds.length === 0;
      for (const choice of form.querySelectorAll<HTMLElement>("[data-kind]")) {
        choice.hidden = !kinds.includes(choice.dataset.kind as Kind);
      }
      const first = form.querySelector<HTMLInputElement>(`input[name=kind][value=${kinds[0] ?? "account"}]`);
      if (first) first.checked = true;
      byId("groups").replaceChildren(...groupChoices(options, "groups"));
      byId("roles").replaceChildren(
        h("option", { value: "" }, "The server's default"),
        ...options.roles.map((role) => h("option", { value: role }, role)),
      );
      form.reset();
      if (first) first.checked = true;
      showKind();
    },
  };
}
