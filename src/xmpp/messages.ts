// RFC 6121 §5: a chat message from the component's JID to a person of a host the service serves
// (the sign-in link, the inviter's news: issue 29). https://www.rfc-editor.org/rfc/rfc6121#section-5
import { xml, type Element } from "@xmpp/component";
import { AppError } from "../errors.js";
import type { MessageSender } from "../people/types.js";
import { assertXmlText } from "./dataForm.js";

// A bare JID: a localpart, one "@", a domain; no resource.
const BARE_JID = /^([^@/\s]+)@([^@/\s]+)$/;
/** A message is one line or a few: anything longer is a mistake, not news. */
const MAX_BODY_CHARS = 4_096;

export interface MessageSenderOptions {
  /** Sends a stanza without reply over the component connection (ComponentConnection.send). */
  readonly send: (stanza: Element) => Promise<void>;
  readonly componentJid: string;
  /** Whether the service serves a host (its keys' and subscriptions' hosts, cachedKnownHosts). */
  readonly knownHost: (host: string) => Promise<boolean>;
}

export function createMessageSender(opts: MessageSenderOptions): MessageSender {
  return {
    async send(to, body) {
      const domain = BARE_JID.exec(to)?.[2];
      // Never a message to another server, a full JID or a host the service does not serve.
      if (!domain || !(await opts.knownHost(domain))) {
        throw new AppError("bad_request", "a message goes to a bare JID of a host the service serves");
      }
      assertXmlText("to", to);
      assertXmlText("body", body);
      if (body === "" || body.length > MAX_BODY_CHARS) {
        throw new AppError("bad_request", `a message's body is 1 to ${MAX_BODY_CHARS} characters`);
      }
      await opts.send(xml("message", { type: "chat", from: opts.componentJid, to }, xml("body", {}, body)));
    },
  };
}
