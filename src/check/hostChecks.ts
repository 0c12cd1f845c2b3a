// The checks of one VirtualHost, through the component: XEP-0092 (software version), XEP-0030 and
// XEP-0050 (the commands offered), and mod_invites_manage's read-only options command (which also
// names the modules Prosody failed to load).
import { AppError } from "../errors.js";
import { listCommands, type AdhocContext } from "../xmpp/adhoc.js";
import { ProsodyRefusedError, fixFor } from "../xmpp/errors.js";
import { NODE_CREATE_ACCOUNT } from "../xmpp/inviteIssuer.js";
import { MANAGE_NODES, createInviteManager, type InviteOptions } from "../xmpp/inviteManager.js";
import { invitePageLine, leastPrivilegeLines, manageJidsLine, updateManageModule } from "./configLines.js";
import { checkEnabledModules } from "./enabledModules.js";
import { checkInvitePage } from "./invitePage.js";
import { askVersion } from "./version.js";
import { reasonOf, type Check } from "./report.js";

const MANAGE_PREFIX = MANAGE_NODES.options.replace(/#.*$/, "#");
const ADHOC_PREFIXES = ["urn:xmpp:invite#", "xmpp:prosody.im/mod_invites_adhoc#"];

/** The invite commands among a host's nodes, by module, with short names. */
function describeCommands(nodes: readonly string[]): string {
  const named = (prefixes: readonly string[]) =>
    nodes.filter((n) => prefixes.some((p) => n.startsWith(p))).map((n) => n.replace(/^.*#/, ""));
  const manage = named([MANAGE_PREFIX]);
  const adhoc = named(ADHOC_PREFIXES);
  return [
    ...(manage.length ? [`mod_invites_manage: ${manage.join(", ")}`] : []),
    ...(adhoc.length ? [`mod_invites_adhoc: ${adhoc.join(", ")}`] : []),
  ].join("; ");
}

const skipped = (names: readonly string[], why: string): Check[] =>
  names.map((name) => ({ name, status: "skip", detail: `not run: ${why}` }));

type Options = { ok: InviteOptions } | { failed: Check };

async function manageOptions(ctx: AdhocContext, host: string, nodes: readonly string[]): Promise<Options> {
  const name = "invites_manage";
  try {
    return { ok: await createInviteManager(ctx, async () => nodes).options(host) };
  } catch (err) {
    if (err instanceof ProsodyRefusedError && (err.condition === "forbidden" || err.condition === "not-authorized")) {
      const detail = `loaded, but it refuses ${ctx.componentJid} (${err.condition})`;
      return { failed: { name, status: "fail", detail, fix: manageJidsLine(host, ctx.componentJid) } };
    }
    if (err instanceof AppError && err.code === "not_implemented") {
      return {
        failed: {
          name,
          status: "fail",
          detail: "loaded, but too old to answer options",
          fix: updateManageModule(host),
        },
      };
    }
    const fix = err instanceof ProsodyRefusedError ? err.fix : "see Prosody's log";
    return { failed: { name, status: "fail", detail: `its options command failed: ${reasonOf(err)}`, fix } };
  }
}

/**
 * Version, the invite commands offered, the mode (least privilege or admin), mod_invites_manage,
 * the modules Prosody failed to load and the invite page of `host`. Nothing is written on the host.
 */
export async function checkHost(ctx: AdhocContext, host: string): Promise<Check[]> {
  const later = ["commands", "mode", "invites_manage", "modules", "invite page"];
  const version = await askVersion(ctx, host);
  if (version.status === "fail") return [version, ...skipped(later, `${host} does not answer as a VirtualHost`)];

  let nodes: string[];
  try {
    nodes = await listCommands(ctx, host);
  } catch (err) {
    const fix = err instanceof ProsodyRefusedError ? err.fix : "see Prosody's log";
    const failed: Check = { name: "commands", status: "fail", detail: `cannot list: ${reasonOf(err)}`, fix };
    return [version, failed, ...skipped(later.slice(1), "the commands cannot be listed")];
  }
  const rest = nodes.includes(MANAGE_NODES.createAccount)
    ? await withManage(ctx, host, nodes)
    : withoutManage(ctx.componentJid, host, nodes);
  return [version, ...rest];
}

/** Where mod_invites_manage is not offered: admin mode (a note), or no invite command at all (a failure). */
function withoutManage(jid: string, host: string, nodes: readonly string[]): Check[] {
  const offered = describeCommands(nodes);
  if (!nodes.includes(NODE_CREATE_ACCOUNT)) {
    const detail = `no invite command is offered to ${jid}${offered ? ` (only ${offered})` : ""}`;
    return [
      { name: "commands", status: "fail", detail, fix: fixFor("forbidden", host, jid) },
      { name: "mode", status: "skip", detail: "not run: neither least privilege nor admin" },
      { name: "invites_manage", status: "note", detail: `not loaded on ${host}`, fix: leastPrivilegeLines(host, jid) },
      { name: "modules", status: "skip", detail: "not run: no invite command" },
      { name: "invite page", status: "skip", detail: "not run: no invite command" },
    ];
  }
  return [
    { name: "commands", status: "ok", detail: offered },
    {
      name: "mode",
      status: "note",
      detail: `admin: ${jid} is in admins and uses mod_invites_adhoc (every admin command is open to it)`,
      fix: `least privilege is safer: ${leastPrivilegeLines(host, jid)}, then remove "${jid}" from admins`,
    },
    { name: "invites_manage", status: "note", detail: `not loaded on ${host} (the lines are in the hint above)` },
    {
      name: "modules",
      status: "note",
      detail: "not checked: only mod_invites_manage says which modules Prosody failed to load",
    },
    { name: "invite page", status: "note", detail: "not checked: only mod_invites_manage tells where the page is" },
  ];
}

/** Where mod_invites_manage is offered: its options prove the component may use it, and name the page. */
async function withManage(ctx: AdhocContext, host: string, nodes: readonly string[]): Promise<Check[]> {
  const jid = ctx.componentJid;
  const commands: Check = { name: "commands", status: "ok", detail: describeCommands(nodes) };
  const options = await manageOptions(ctx, host, nodes);
  if ("failed" in options) {
    const why = "mod_invites_manage refuses the component";
    return [commands, ...skipped(["mode"], why), options.failed, ...skipped(["modules", "invite page"], why)];
  }
  // mod_invites_adhoc offers its create-account to admins only.
  const mode: Check = nodes.includes(NODE_CREATE_ACCOUNT)
    ? {
        name: "mode",
        status: "note",
        detail: `mod_invites_manage, but ${jid} is also in admins (every admin command is open to it)`,
        fix: `remove "${jid}" from admins; ${manageJidsLine(host, jid)} is enough`,
      }
    : { name: "mode", status: "ok", detail: `least privilege: mod_invites_manage, ${jid} in invites_manage_jids` };
  const { maxTtl, groups, invitePage } = options.ok;
  const manage: Check = {
    name: "invites_manage",
    status: "ok",
    detail: `loaded; its options answer (longest ttl ${maxTtl} s, ${groups.length} groups)`,
  };
  const page: Check = invitePage
    ? await checkInvitePage(host, invitePage, ctx.timeoutMs)
    : {
        name: "invite page",
        status: "note",
        detail: "mod_invites_page is not loaded: invites are xmpp: URIs only",
        fix: invitePageLine(host),
      };
  return [commands, mode, manage, checkEnabledModules(host, options.ok), page];
}
