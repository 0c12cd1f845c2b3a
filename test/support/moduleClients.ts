import type { Element } from "@xmpp/component";
import { pino } from "pino";
import { cachedCommands } from "../../src/xmpp/adhoc.js";
import { connectComponent, type ComponentConnection } from "../../src/xmpp/connection.js";
import { createInviteDoor } from "../../src/xmpp/inviteDoorCommands.js";
import { createInviteManager } from "../../src/xmpp/inviteManager.js";
import { createOperatorControls } from "../../src/xmpp/operatorControlsCommands.js";
import type { RunningProsody } from "./prosody.js";

/**
 * mod_invites_manage's clients (the manager, the invite page's door, the operator's controls) over a
 * component connection of the test's own to `prosody`, as the service drives them; stop the
 * connection when done.
 */
export async function connectModuleClients(
  prosody: RunningProsody,
  component: { domain: string; secret: string },
): Promise<{ connection: ComponentConnection } & ReturnType<typeof clientsOver>> {
  const connection = connectComponent({
    service: `xmpp://127.0.0.1:${prosody.componentPort}`,
    ...component,
    reconnect: { minMs: 100, maxMs: 1_000 },
    log: pino({ level: "silent" }),
  });
  await connection.online();
  return { connection, ...clientsOver(connection, component.domain) };
}

function clientsOver(connection: ComponentConnection, componentJid: string) {
  const adhoc = {
    componentJid,
    timeoutMs: 20_000,
    request: (stanza: Element, timeoutMs: number) => connection.request(stanza, timeoutMs),
  };
  const commands = cachedCommands(adhoc);
  return {
    manager: createInviteManager(adhoc, commands),
    door: createInviteDoor(adhoc, commands),
    controls: createOperatorControls(adhoc, commands),
  };
}
