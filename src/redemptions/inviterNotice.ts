import type { MessageSender } from "../people/types.js";
import { keyOfSource, type RedemptionRecord } from "../xmpp/inviteManager.js";

/** Called for each registration through a person's invite, once however many instances read it. */
export type NotifyInviter = (host: string, inviter: string, newJid: string) => Promise<void>;

/** What the inviter hears (one line, English). */
export const joinedMessage = (newJid: string): string => `${newJid} joined with your invite.`;

/** notifyInviter over the component's messages. */
export const notifyInviterBy =
  (messages: MessageSender): NotifyInviter =>
  (_host, inviter, newJid) =>
    messages.send(inviter, joinedMessage(newJid));

/**
 * The person whose invite a registration went through: the bare JID its source names
 * (`invites-api/USER@HOST`; a key's id never holds "@"), when it is one of the record's host.
 * Resets, expiries, the host's events and keys' invites have none.
 */
export function inviterOf(host: string, record: RedemptionRecord): string | undefined {
  if (record.kind !== "registered" || !record.jid) return undefined;
  const maker = keyOfSource(record.source);
  if (!maker) return undefined;
  const at = maker.lastIndexOf("@");
  return at > 0 && !maker.includes("/") && maker.slice(at + 1).toLowerCase() === host.toLowerCase() ? maker : undefined;
}
