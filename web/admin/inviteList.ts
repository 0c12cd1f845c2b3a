import { confirmFirst } from "./confirm.js";
import type { Context } from "./context.js";
import { busy, byId, h } from "./dom.js";
import { sentence } from "./fields.js";
import { closing, describe, duration, groupNames, linkOf, madeBy, STATE_NAMES, when } from "./format.js";
import { linkBlock } from "./linkBlock.js";
import type { Invite } from "./types.js";

const PAGE_SIZE = 20;

/** The invites of one state, a page at a time, each with its details and (pending) a revoke button. */
export function inviteList(ctx: Context): { show(): void; refresh(): Promise<void> } {
  const list = byId<HTMLUListElement>("list");
  const state = byId<HTMLSelectElement>("state");
  const status = byId("list-status");
  const heading = byId("invites-title");
  const previous = byId<HTMLButtonElement>("prev");
  const next = byId<HTMLButtonElement>("next");
  // The cursor of each page shown so far ("" for the first); the last is the page on screen.
  let pages: string[] = [""];
  let nextCursor: string | undefined;
  let items = 0;

  async function load(): Promise<void> {
    const cursor = pages.at(-1) ?? "";
    const query = new URLSearchParams({ state: state.value, limit: String(PAGE_SIZE) });
    if (cursor) query.set("after", cursor);
    try {
      const page = await ctx.call<Invite[]>("GET", `invites?${query}`);
      nextCursor = page.next;
      list.replaceChildren(...page.body.map(item));
      const name = STATE_NAMES[state.value]?.toLowerCase() ?? state.value;
      status.textContent = page.body.length === 0 ? `No ${name} invites.` : "";
    } catch (err) {
      nextCursor = undefined;
      if (!ctx.handled(err)) status.textContent = sentence(err instanceof Error ? err.message : String(err));
    }
    previous.hidden = pages.length < 2;
    next.hidden = nextCursor === undefined;
  }

  function item(invite: Invite): HTMLLIElement {
    const options = ctx.options();
    const id = `invite-${(items += 1)}`;
    const facts: Array<[string, string | undefined]> = [
      ["Note", invite.note ?? undefined],
      ["Groups", invite.groups.length > 0 ? groupNames(invite.groups, options) : undefined],
      ["Role", invite.roles.join(", ") || undefined],
      ["Created", when(invite.created_at)],
      closing(invite),
      [
        "Uses",
        invite.reusable ? `${invite.uses}${invite.max_uses === null ? "" : ` of ${invite.max_uses}`}` : undefined,
      ],
      ["Made with", madeBy(invite)],
    ];
    const details = h("div", { id: `${id}-details`, class: "details" });
    details.hidden = true;
    const toggle = h(
      "button",
      {
        type: "button",
        class: "secondary",
        "aria-expanded": "false",
        "aria-controls": details.id,
        "aria-describedby": id,
      },
      "Details",
    );
    toggle.addEventListener("click", () => void busy(toggle, () => showDetails(invite, toggle, details)));
    const revoke =
      invite.state === "pending" && options.can.includes("revoke")
        ? h("button", { type: "button", class: "danger secondary", "aria-describedby": id }, "Revoke…")
        : undefined;
    revoke?.addEventListener("click", () => void revokeInvite(invite));
    // From now, as long as the key and the server allow: never shorter than it was made for.
    const extend =
      invite.state === "pending" && options.can.includes("update")
        ? h(
            "button",
            { type: "button", class: "secondary", "aria-describedby": id },
            `Extend to ${duration(options.max_ttl)}`,
          )
        : undefined;
    extend?.addEventListener("click", () => void busy(extend, () => extendInvite(invite, card)));
    const card = h(
      "li",
      { class: "invite" },
      h(
        "h3",
        { id },
        describe(invite, options),
        " ",
        h("span", { class: "state" }, STATE_NAMES[invite.state] ?? invite.state),
      ),
      h(
        "dl",
        {},
        ...facts.flatMap(([term, value]) => (value === undefined ? [] : [h("dt", {}, term), h("dd", {}, value)])),
      ),
      h("div", { class: "actions" }, toggle, extend, revoke),
      details,
    );
    return card;
  }

  /** PATCH /invites/{id} with a new ttl: the same link, a later expiry, shown in its card at once. */
  async function extendInvite(invite: Invite, card: HTMLLIElement): Promise<void> {
    try {
      const path = `invites/${encodeURIComponent(invite.id)}`;
      const { body: extended } = await ctx.call<Invite>("PATCH", path, { ttl: ctx.options().max_ttl });
      const fresh = item(extended);
      card.replaceWith(fresh);
      fresh.querySelector<HTMLButtonElement>(".actions button:nth-child(2)")?.focus();
      ctx.announce(`${describe(extended, ctx.options())}: expires ${when(extended.expires)}.`);
    } catch (err) {
      if (!ctx.handled(err)) status.textContent = sentence(err instanceof Error ? err.message : String(err));
    }
  }

  /** Shows (fetched once) who registered with it and, while it is pending, its link and QR code. */
  async function showDetails(invite: Invite, toggle: HTMLButtonElement, details: HTMLElement): Promise<void> {
    const open = toggle.getAttribute("aria-expanded") !== "true";
    if (open && details.childElementCount === 0) {
      try {
        const { body: full } = await ctx.call<Invite>("GET", `invites/${encodeURIComponent(invite.id)}`);
        const redemptions = full.redemptions ?? [];
        details.append(
          h("h4", {}, "Registered with it"),
          redemptions.length === 0
            ? h("p", {}, "Nobody yet.")
            : h(
                "ul",
                {},
                ...redemptions.map((r) =>
                  h("li", {}, `${r.jid}, ${when(r.at)}${r.deleted ? " (account deleted since)" : ""}`),
                ),
              ),
          full.state === "pending" ? linkBlock(linkOf(full)) : "",
        );
      } catch (err) {
        if (!ctx.handled(err)) details.append(h("p", { class: "error" }, sentence(String((err as Error).message))));
        else return;
      }
    }
    details.hidden = !open;
    toggle.setAttribute("aria-expanded", String(open));
  }

  async function revokeInvite(invite: Invite): Promise<void> {
    const what = describe(invite, ctx.options());
    const text = `${what}: its link stops working at once. This cannot be undone.`;
    if (!(await confirmFirst({ title: "Revoke this invite?", text, yes: "Revoke", no: "Keep it" }))) return;
    try {
      await ctx.call("DELETE", `invites/${encodeURIComponent(invite.id)}`);
      ctx.announce(`Revoked: ${what}.`);
      await load();
      heading.focus();
    } catch (err) {
      if (!ctx.handled(err)) status.textContent = sentence(err instanceof Error ? err.message : String(err));
    }
  }

  state.addEventListener("change", () => {
    pages = [""];
    void load();
  });
  next.addEventListener("click", () => {
    if (nextCursor === undefined) return;
    pages.push(nextCursor);
    void load().then(() => heading.focus());
  });
  previous.addEventListener("click", () => {
    pages.pop();
    void load().then(() => heading.focus());
  });

  return {
    /** For a newly signed-in key: the first page of pending invites, or nothing without the list power. */
    show(): void {
      const can = ctx.options().can.includes("list");
      byId("invites").hidden = !can;
      list.replaceChildren();
      state.value = "pending";
      pages = [""];
      if (can) void load();
    },
    refresh: () => (byId("invites").hidden ? Promise.resolve() : load()),
  };
}
