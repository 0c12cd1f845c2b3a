import { byId } from "./dom.js";

/**
 * Asks before revoking, in a modal dialog: the browser keeps focus inside it and Escape cancels.
 * "Keep it" has the focus first, so that Enter alone never revokes.
 */
export function confirmRevoke(text: string): Promise<boolean> {
  const dialog = byId<HTMLDialogElement>("confirm");
  byId("confirm-text").textContent = text;
  return new Promise((resolve) => {
    const listening = new AbortController();
    const answer = (revoke: boolean) => {
      listening.abort();
      if (dialog.open) dialog.close();
      resolve(revoke);
    };
    const { signal } = listening;
    byId("confirm-revoke").addEventListener("click", () => answer(true), { signal });
    byId("confirm-cancel").addEventListener("click", () => answer(false), { signal });
    dialog.addEventListener("close", () => answer(false), { signal });
    dialog.showModal();
    byId("confirm-cancel").focus();
  });
}
