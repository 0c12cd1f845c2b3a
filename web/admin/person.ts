// What a person signed in with their XMPP account sees of themselves: who they are, how many
// invites their quota leaves, whether they hear when someone joins with their invite, and signing
// out of every browser at once. A key sees none of it.
import { busy, byId } from "./dom.js";
import { sentence, when } from "./fields.js";
import type { PersonSession } from "./types.js";

const DAY = 86_400;

/** "this week" for the usual windows; "per 10 days" for the others. */
function windowPhrase(seconds: number): string {
  if (seconds === DAY) return "today";
  if (seconds === 7 * DAY) return "this week";
  if (seconds === 30 * DAY) return "this month";
  if (seconds % DAY === 0) return `per ${seconds / DAY} days`;
  if (seconds % 3600 === 0) return `per ${seconds / 3600} hours`;
  return `per ${Math.round(seconds / 60)} minutes`;
}

/** "3 of 5 left this week, next on Mon 14 Dec, 10:00." */
export function quotaText(quota: PersonSession["quota"]): string {
  if (!quota) return "No limit on the invites you make.";
  const left = `${quota.left} of ${quota.limit} invites left ${windowPhrase(quota.window_seconds)}`;
  if (!quota.next_at) return `${left}.`;
  return `${left}, next on ${when.format(new Date(quota.next_at))}.`;
}

export interface PersonPanel {
  show(person: PersonSession): void;
  hide(): void;
}

export function personPanel(actions: {
  setNotify(notify: boolean): Promise<PersonSession>;
  signOutEverywhere(): Promise<void>;
}): PersonPanel {
  const notify = byId<HTMLInputElement>("me-notify");
  const error = byId("me-error");
  const fail = (err: unknown) => {
    error.textContent = sentence((err as Error).message);
    error.hidden = false;
  };
  notify.addEventListener("change", () => {
    error.hidden = true;
    const wanted = notify.checked;
    notify.disabled = true;
    actions
      .setNotify(wanted)
      .then((person) => (notify.checked = person.notify))
      .catch((err: unknown) => {
        notify.checked = !wanted;
        fail(err);
      })
      .finally(() => (notify.disabled = false));
  });
  byId<HTMLButtonElement>("me-everywhere").addEventListener("click", (event) => {
    error.hidden = true;
    void busy(event.currentTarget as HTMLButtonElement, () => actions.signOutEverywhere().catch(fail));
  });
  return {
    show(person) {
      byId("me-jid").textContent = person.jid;
      byId("me-role").textContent = person.circles?.length
        ? `${person.role}, manager of ${person.circles.join(", ")}`
        : person.role;
      byId("me-quota").textContent = quotaText(person.quota);
      notify.checked = person.notify;
      error.hidden = true;
      byId("me").hidden = false;
    },
    hide() {
      byId("me").hidden = true;
      for (const id of ["me-jid", "me-role", "me-quota"]) byId(id).replaceChildren();
    },
  };
}
