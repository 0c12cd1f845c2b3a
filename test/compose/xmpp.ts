// RFC 6120: a client logs in the way an XMPP app would, over c2s with STARTTLS (section 5),
// SASL PLAIN (section 6, only ever inside TLS) and resource binding (section 7).
import { connect as tcpConnect, type Socket } from "node:net";
import { connect as tlsConnect, type PeerCertificate, type TLSSocket } from "node:tls";

const streamHeader = (domain: string) =>
  `<?xml version='1.0'?><stream:stream to='${domain}' xmlns='jabber:client' ` +
  `xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>`;

/** Collects what the server sends and waits for a pattern in it. */
function reader(socket: Socket | TLSSocket) {
  let text = "";
  socket.on("data", (chunk: Buffer) => (text += chunk.toString("utf8")));
  return async function waitFor(pattern: RegExp, ms = 10_000): Promise<string> {
    const deadline = Date.now() + ms;
    for (;;) {
      const match = pattern.exec(text);
      if (match) {
        const seen = text.slice(0, match.index + match[0].length);
        text = text.slice(match.index + match[0].length);
        return seen;
      }
      if (Date.now() > deadline) throw new Error(`no ${pattern} from the server; got: ${text.slice(0, 500)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
}

export interface Login {
  /** The features offered before TLS (must require STARTTLS). */
  plainFeatures: string;
  /** The certificate the server presented in the TLS handshake. */
  certificate: PeerCertificate;
  /** The full JID the server bound. */
  jid: string;
}

/**
 * Logs in as `username@domain` over c2s at `host:port`: STARTTLS, verifying the server's
 * certificate against `ca` and `domain` (a self-signed one is trusted only when passed here),
 * then SASL PLAIN and resource binding. Throws when any step fails.
 */
export async function loginWithStartTls(opts: {
  host: string;
  port: number;
  domain: string;
  username: string;
  password: string;
  ca: string;
}): Promise<Login> {
  const tcp = tcpConnect(opts.port, opts.host);
  await new Promise<void>((resolve, reject) => tcp.once("connect", resolve).once("error", reject));
  let tls: TLSSocket | undefined;
  try {
    const plain = reader(tcp);
    tcp.write(streamHeader(opts.domain));
    const plainFeatures = await plain(/<\/stream:features>/);
    tcp.write("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    await plain(/<proceed[^>]*\/>/);
    tcp.removeAllListeners("data");

    tls = tlsConnect({ socket: tcp, servername: opts.domain, ca: opts.ca });
    await new Promise<void>((resolve, reject) => tls!.once("secureConnect", resolve).once("error", reject));
    const certificate = tls.getPeerCertificate();
    const secure = reader(tls);
    tls.write(streamHeader(opts.domain));
    const features = await secure(/<\/stream:features>/);
    if (!/<mechanism>PLAIN<\/mechanism>/.test(features)) throw new Error(`no PLAIN over TLS: ${features}`);
    const credentials = Buffer.from(`\0${opts.username}\0${opts.password}`).toString("base64");
    tls.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${credentials}</auth>`);
    const outcome = await secure(/<(success|failure)[\s\S]*?(\/>|<\/\1>)/);
    if (!outcome.includes("<success")) throw new Error(`authentication refused: ${outcome}`);
    tls.write(streamHeader(opts.domain));
    await secure(/<\/stream:features>/);
    tls.write(
      "<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>" +
        "<resource>compose-test</resource></bind></iq>",
    );
    const bound = await secure(/<\/iq>/);
    const jid = /<jid>([^<]+)<\/jid>/.exec(bound)?.[1];
    if (!jid) throw new Error(`resource binding failed: ${bound}`);
    tls.write("</stream:stream>");
    return { plainFeatures, certificate, jid };
  } finally {
    tls?.destroy();
    tcp.destroy();
  }
}
