// The admin page: sign in with a key or as a person (an XMPP account), make invites, see and
// revoke them. Served by the service at /admin/ (src/http/adminPage.ts); everything it shows from
// the API is written as text.
import { ApiError, request, Unreachable, type Credential } from "./api.js";
import { batchForm } from "./batch.js";
import { budgetPanel } from "./budget.js";
import type { Context } from "./context.js";
import { createForm } from "./createForm.js";
import { busy, byId } from "./dom.js";
import { sentence } from "./fields.js";
import { closing, describe, linkOf } from "./format.js";
import { inviteList } from "./inviteList.js";
import { linkBlock, preloadQrCode } from "./linkBlock.js";
import { personPanel } from "./person.js";
import { personSignIn } from "./personSignIn.js";
import { forgetKey, keepKey, keptKey } from "./session.js";
import { showSheet } from "./sheet.js";
import type { Batch, Invite, Options, PersonSession } from "./types.js";

interface Session {
  readonly credential: Credential;
  options: Options;
  /** Set when a person (not a key) is signed in. */
  person?: PersonSession;
}

let session: Session | undefined;

// A key (or a person's session) that no longer works at all; a key that used up its
// --max-invites still lists and shows.
const KEY_REFUSED = new Set(["invalid_key", "key_expired", "not_signed_in"]);

function signedIn(): Session {
  if (!session) throw new Error("signed out");
  return session;
}

/** The connection banner: shown while the service, or Prosody behind it, cannot be reached. */
function showBanner(err: unknown): void {
  const why = sentence((err as Error).message);
  byId("banner-text").textContent =
    err instanceof Unreachable
      ? "The invites service does not answer. Check your connection, then try again."
      : err instanceof ApiError && err.status === 501
        ? `The XMPP server is not set up for this: ${why}`
        : `The invites service cannot reach the XMPP server right now (${why}) What you typed is kept: try again in a moment.`;
  byId("banner").hidden = false;
}

const hideBanner = () => (byId("banner").hidden = true);

/** Trouble with the connection rather than with what was asked: the service, Prosody or the store. */
const isTrouble = (err: unknown): boolean =>
  err instanceof Unreachable || (err instanceof ApiError && err.status >= 500);

const context: Context = {
  options: () => signedIn().options,
  async call<T>(method: string, path: string, body?: unknown, headers?: Record<string, string>) {
    const answer = await request<T>(signedIn().credential, method, path, body, headers);
    hideBanner();
    return answer;
  },
  announce(text) {
    const region = byId("announce");
    region.textContent = "";
    // A new text node, a moment later, so that the same words are read out again.
    setTimeout(() => (region.textContent = text), 50);
  },
  handled(err) {
    if (isTrouble(err)) {
      showBanner(err);
      return true;
    }
    if (err instanceof ApiError && KEY_REFUSED.has(err.code)) {
      signOut(sentence(err.message));
      return true;
    }
    return false;
  },
};

const form = createForm(context, (invite: Invite) => {
  const options = signedIn().options;
  byId("result").hidden = false;
  const [expiry, time] = closing(invite);
  byId("result-summary").textContent = `${describe(invite, options)}. ${expiry} ${time}.`;
  byId("result-link").replaceChildren(linkBlock(linkOf(invite)));
  // The whole result in sight, the link and its QR code too, not just its heading: it comes below
  // a form about a screen tall, where the person has just pressed "Create invite".
  byId("result").scrollIntoView({ block: "nearest" });
  byId("result-title").focus({ preventScroll: true });
  context.announce("Invite created.");
  void list.refresh();
  void refreshPerson();
});
const list = inviteList(context);
const batch = batchForm(context, (made: Batch) => {
  showSheet(made, signedIn().options.host);
  context.announce(`${made.created} invites made.`);
  void list.refresh();
});
const budget = budgetPanel(context);
const me = personPanel({
  async setNotify(notify) {
    const person = (await context.call<PersonSession>("PATCH", "session", { notify })).body;
    if (session) session.person = person;
    return person;
  },
  async signOutEverywhere() {
    await context.call("DELETE", "session?everywhere=true");
    signOut("");
    context.announce("Signed out in every browser.");
  },
});

/** The person's quota again, after an invite took a place. */
async function refreshPerson(): Promise<void> {
  if (!session?.person) return;
  try {
    session.person = (await context.call<PersonSession>("GET", "session")).body;
    me.show(session.person);
  } catch (err) {
    context.handled(err);
  }
}

function showKeyError(text: string): void {
  const error = byId("key-error");
  error.textContent = text;
  error.hidden = text === "";
  const input = byId<HTMLInputElement>("key");
  if (text) input.setAttribute("aria-invalid", "true");
  else input.removeAttribute("aria-invalid");
}

/** Asks the service what this key (or person) may do; on success the page is built for it. */
async function signIn(credential: Credential, person?: PersonSession): Promise<void> {
  showKeyError("");
  let options: Options;
  try {
    options = (await request<Options>(credential, "GET", "invites/options")).body;
  } catch (err) {
    if (err instanceof ApiError && KEY_REFUSED.has(err.code)) forgetKey();
    if (isTrouble(err)) showBanner(err);
    else showKeyError(sentence((err as Error).message));
    byId("sign-in").hidden = false;
    byId("key").focus();
    return;
  }
  hideBanner();
  if ("key" in credential) keepKey(credential.key);
  session = { credential, options, ...(person ? { person } : {}) };
  byId<HTMLInputElement>("key").value = "";
  byId("host").textContent = options.host;
  byId("who").textContent = person ? person.jid : `Key ${options.key} (${options.scopes.join(", ")})`;
  if (person) me.show(person);
  else me.hide();
  byId("sign-in").hidden = true;
  byId("account").hidden = false;
  byId("app").hidden = false;
  byId("result").hidden = true;
  byId("sheet").hidden = true;
  byId("result-link").replaceChildren();
  form.configure();
  batch.configure();
  budget.show();
  list.show();
  byId("main").focus();
  preloadQrCode();
}

/** Forgets the key and everything shown with it (invite links are secrets too). */
function signOut(reason = ""): void {
  session = undefined;
  forgetKey();
  me.hide();
  hideBanner();
  for (const id of ["result-link", "list", "groups", "host", "who", "result-summary", "sheet-cards", "sheet-failed"]) {
    byId(id).replaceChildren();
  }
  byId("sheet").hidden = true;
  byId("app").hidden = true;
  byId("account").hidden = true;
  byId("sign-in").hidden = false;
  showKeyError(reason);
  byId("key").focus();
}

byId<HTMLFormElement>("sign-in-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const key = byId<HTMLInputElement>("key").value.trim();
  if (!key) {
    showKeyError("Enter your API key.");
    byId("key").focus();
    return;
  }
  const button = (event.currentTarget as HTMLFormElement).querySelector("button");
  if (button) void busy(button, () => signIn({ key }));
});
byId("sign-out").addEventListener("click", () => {
  // A person's session ends at the service too, not just in this tab.
  const ending = session?.person ? context.call("DELETE", "session").catch(() => undefined) : Promise.resolve();
  void ending.then(() => {
    signOut();
    context.announce("Signed out.");
  });
});
byId<HTMLButtonElement>("retry").addEventListener("click", (event) => {
  const button = event.currentTarget as HTMLButtonElement;
  void busy(button, async () => {
    if (!session) {
      const key = keptKey() ?? byId<HTMLInputElement>("key").value.trim();
      return key ? signIn({ key }) : hideBanner();
    }
    // The options again: they tell whether Prosody answers now (the banner goes when it does).
    try {
      session.options = (await context.call<Options>("GET", "invites/options")).body;
      await list.refresh();
    } catch (err) {
      context.handled(err);
    }
  });
});

const people = personSignIn((text) => showKeyError(text));

/** A person already signed in (the session's cookie), or signing in with a link's token now. */
async function resume(): Promise<void> {
  const opened = await people.start();
  if (opened) return signIn({ csrf: opened.csrf }, opened);
  const kept = keptKey();
  if (kept) return signIn({ key: kept });
  try {
    const person = (await request<PersonSession>({ anonymous: true }, "GET", "session")).body;
    await signIn({ csrf: person.csrf }, person);
  } catch {
    // Nobody signed in: the sign-in forms stay.
  }
}

void resume();
// A sign-in link pasted into the address bar of this very tab changes only its fragment.
addEventListener("hashchange", () => {
  if (location.hash.startsWith("#sign-in")) void resume();
});
