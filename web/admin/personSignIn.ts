// Signing in as a person: a sign-in link the service sends to the XMPP account (any Prosody), or
// the XMPP server's own sign-in page (Prosody 13's mod_http_oauth2). The page never sees a
// password: the link's token comes back in this page's fragment, which no server log or Referer
// carries, and is posted once; the OAuth flow happens between the browser, Prosody and the service.
import { ApiError, request, Unreachable } from "./api.js";
import { busy, byId, h } from "./dom.js";
import { sentence } from "./fields.js";
import type { PersonSession, SignInMethods } from "./types.js";

const TOKEN = /^#sign-in=([A-Za-z0-9_-]{20,100})$/;
const ERROR = /^#sign-in-error=([a-z_]{1,40})$/;

// What went wrong, by the code the service puts after #sign-in-error= (src/people/oauthRoutes.ts)
// or answers a link's token with.
const ERRORS: Record<string, string> = {
  access_denied: "You did not allow the invites page at your XMPP server, so you are not signed in.",
  link_invalid: "That sign-in link has been used or has expired. Ask for a new one.",
  unknown_host: "This service does not sign in accounts of that server.",
  oauth_unavailable: "Your XMPP server cannot sign you in here right now. Try a sign-in link instead.",
  oauth_refused: "Your XMPP server refused the sign-in. Try again, or use a sign-in link.",
  state_invalid: "That sign-in had already been used or took too long. Start again.",
  state_mismatch: "That sign-in was started in another browser. Start again here.",
  wrong_host: "You signed in with an account of another server. Start again with the right one.",
  not_allowed: "Your account may not make or see invites here.",
  sign_in_limited: "Too many sign-ins from here just now. Wait a few minutes, then try again.",
};

/** The token a sign-in link brought, taken out of the address bar at once (a reload must not reuse it). */
function takeFragment(): { token?: string; error?: string } {
  const token = TOKEN.exec(location.hash)?.[1];
  const error = ERROR.exec(location.hash)?.[1];
  if (token || error) history.replaceState(null, "", location.pathname + location.search);
  return { ...(token ? { token } : {}), ...(error ? { error } : {}) };
}

export interface PersonSignIn {
  /** Sets up the forms; resolves to the session a link in the address bar opened, if any. */
  start(): Promise<PersonSession | undefined>;
}

export function personSignIn(show: (text: string) => void): PersonSignIn {
  const form = byId<HTMLFormElement>("link-form");
  const input = byId<HTMLInputElement>("jid");
  const error = byId("jid-error");
  const sent = byId("link-sent");
  function fieldError(text: string): void {
    error.textContent = text;
    error.hidden = text === "";
    if (text) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    fieldError("");
    sent.hidden = true;
    const jid = input.value.trim();
    if (!/^[^@/\s]+@[^@/\s]+$/.test(jid)) {
      fieldError("Enter your address, such as alice@example.com.");
      input.focus();
      return;
    }
    const button = form.querySelector("button");
    if (!button) return;
    void busy(button, async () => {
      try {
        await request({ anonymous: true }, "POST", "session/link", { jid });
        sent.textContent = `If ${jid} may sign in here, a message with a sign-in link is on its way to it. The link works once, for a few minutes.`;
        sent.hidden = false;
      } catch (err) {
        fieldError(
          err instanceof Unreachable ? "The invites service does not answer." : sentence((err as Error).message),
        );
      }
    });
  });

  return {
    async start() {
      let methods: SignInMethods;
      try {
        methods = (await request<SignInMethods>({ anonymous: true }, "GET", "session/methods")).body;
      } catch {
        return undefined;
      }
      byId("person-sign-in").hidden = !methods.link && methods.oauth.length === 0;
      form.hidden = !methods.link;
      byId("oauth-hosts").replaceChildren(
        ...methods.oauth.map((host) =>
          h(
            "a",
            {
              class: "button",
              href: `../session/oauth?host=${encodeURIComponent(host)}&next=${encodeURIComponent(location.pathname)}`,
            },
            `Sign in at ${host}`,
          ),
        ),
      );
      const { token, error: failed } = takeFragment();
      if (failed) show(ERRORS[failed] ?? "Signing in did not work. Try again.");
      if (!token) return undefined;
      try {
        return (await request<PersonSession>({ anonymous: true }, "POST", "session/link/redeem", { token })).body;
      } catch (err) {
        show(
          err instanceof ApiError
            ? (ERRORS[err.code] ?? sentence(err.message))
            : "The invites service does not answer.",
        );
        return undefined;
      }
    },
  };
}
