import { byId, h } from "./dom.js";
import { sentence } from "./fields.js";
import { linkOf, when } from "./format.js";
import { qrCode } from "./linkBlock.js";
import type { Batch } from "./types.js";

byId("print").addEventListener("click", () => window.print());

/**
 * A batch's sheet: a card per invite made, its QR code, its reference and its link, to print
 * (admin.css's print style sheet prints the sheet alone, cards whole, on A4); and what was not
 * made, by reference, with why.
 */
export function showSheet(batch: Batch, host: string): void {
  const made = batch.invites.flatMap((answer) => ("invite" in answer ? [answer] : []));
  const expires = made[0] ? when(made[0].invite.expires) : "";
  byId("sheet-title").textContent = `Invites to ${host}`;
  byId("sheet-summary").textContent =
    `${batch.created} made${batch.failed ? `, ${batch.failed} not` : ""}; valid until ${expires}.`;
  byId("sheet-failed").replaceChildren(
    ...batch.invites.flatMap((answer) =>
      "error" in answer
        ? [h("li", { class: "error" }, `${answer.ref ?? "No reference"}: ${sentence(answer.message)}`)]
        : [],
    ),
  );
  byId("sheet-cards").replaceChildren(
    ...made.map(({ ref, invite }, i) => {
      const link = linkOf(invite);
      const card = h("li", { class: "sheet-card" });
      card.append(
        qrCode(link, `QR code of invite ${ref ?? i + 1}`, card),
        ref === null ? "" : h("p", { class: "sheet-ref" }, ref),
        h("p", { class: "sheet-link" }, link),
      );
      return card;
    }),
  );
  const sheet = byId("sheet");
  sheet.hidden = false;
  sheet.scrollIntoView({ block: "start" });
  byId("sheet-title").focus({ preventScroll: true });
}
