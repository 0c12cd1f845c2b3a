import { connect } from "node:net";
import { RegistrationError } from "./xmppClient.js";

// XEP-0077: In-Band Registration without an invite, on a host that allows it (allow_registration,
// and registration_invite_only = false where mod_invites_register is loaded): the raw exchange of
// a client that signs up on its own. Plain TCP to 127.0.0.1, no TLS (the test Prosodys disable it).

const escape = (text: string) =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/'/g, "&apos;");
const unescape = (text: string) =>
  text
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&apos;/g, "'")
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, "&");

/**
 * Registers `username` in band; a refusal throws RegistrationError (step "register") with the
 * condition and text Prosody gave; a stream failure or the timeout a plain Error. The socket is
 * always closed.
 */
export function registerOpenly(opts: {
  port: number;
  domain: string;
  username: string;
  password: string;
  timeoutMs?: number;
}): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port: opts.port });
    let received = "";
    let sent = false;
    const finish = (err?: Error) => {
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve();
    };
    const timer = setTimeout(() => finish(new Error("in-band registration timed out")), opts.timeoutMs ?? 20_000);
    socket.on("error", (err) => finish(err));
    socket.on("close", () => finish(new Error(`stream closed: ${received.slice(-300)}`)));
    socket.on("connect", () =>
      socket.write(
        `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='${escape(opts.domain)}' version='1.0'>`,
      ),
    );
    socket.on("data", (chunk: Buffer) => {
      received += chunk.toString("utf8");
      if (!sent && received.includes("</stream:features>")) {
        sent = true;
        socket.write(
          `<iq type='set' id='open-reg'><query xmlns='jabber:iq:register'><username>${escape(opts.username)}</username>` +
            `<password>${escape(opts.password)}</password></query></iq>`,
        );
      }
      const start = /<iq[^>]*id=['"]open-reg['"][^>]*>/.exec(received);
      if (!start) return;
      const type = /type=['"](\w+)['"]/.exec(start[0])?.[1];
      if (type === "result") return finish();
      const rest = received.slice(start.index);
      if (!rest.includes("</iq>")) return;
      const error = /<error[^>]*type=['"](\w+)['"][^>]*>\s*<([a-z-]+)[\s/>]/.exec(rest);
      const text = /<text[^>]*>([^<]*)<\/text>/.exec(rest)?.[1];
      finish(
        new RegistrationError(error?.[2] ?? "undefined-condition", text && unescape(text), error?.[1], "register"),
      );
    });
  });
}
