import { byId } from "./dom.js";

export interface Question {
  readonly title: string;
  readonly text: string;
  /** The button that does it ("Revoke", "Pause"). */
  readonly yes: string;
  /** The button that leaves things as they are. */
  readonly no: string;
}

/**
 * Asks before something that cannot be taken back at once (revoking, pausing), in a modal dialog:
 * the browser keeps focus inside it and Escape cancels. The safe choice has the focus first, so
 * that Enter alone never does it.
 */
export function confirmFirst(question: Question): Promise<boolean> {
  const dialog = byId<HTMLDialogElement>("confirm");
  const yes = byId("confirm-yes");
  const no = byId("confirm-no");
  byId("confirm-title").textContent = question.title;
  byId("confirm-text").textContent = question.text;
  yes.textContent = question.yes;
  no.textContent = question.no;
  return new Promise((resolve) => {
    const listening = new AbortController();
    const answer = (done: boolean) => {
      listening.abort();
      if (dialog.open) dialog.close();
      resolve(done);
    };
    const { signal } = listening;
    yes.addEventListener("click", () => answer(true), { signal });
    no.addEventListener("click", () => answer(false), { signal });
    dialog.addEventListener("close", () => answer(false), { signal });
    dialog.showModal();
    no.focus();
  });
}
