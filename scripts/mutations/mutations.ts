// The small breaking changes `npm run test:mutations` makes, one at a time in a scratch copy
// (scripts/mutations/run.ts). Each names the tests that must fail with it: a change they let
// through is a hole in them. `search` must occur exactly once in `file`, so that a refactor that
// moves the code makes the run fail loudly instead of quietly testing nothing.

export interface Mutation {
  /** Unique; what `--only` takes. */
  readonly name: string;
  /** From the repository's root. */
  readonly file: string;
  /** Exact text, found exactly once in the file. */
  readonly search: string;
  readonly replace: string;
  /** Test files (from the root) run with the flags of their package.json script. */
  readonly tests: readonly string[];
  /** Only the tests whose name matches (node --test-name-pattern), for speed. */
  readonly pattern?: string;
  /** The Prosody the end-to-end tests start (default 0.12). */
  readonly prosody?: "0.12" | "13";
}

const MODULE = "prosody-config/modules/mod_invites_manage/mod_invites_manage.lua";
const POLICY = "prosody-config/modules/mod_invites_manage/policy.lib.lua";
const REGISTRATION = "prosody-config/modules/mod_invites_manage/registration.lib.lua";
const PRIVILEGE = "test/e2e/privilege.prosody.test.ts";

export const MUTATIONS: readonly Mutation[] = [
  // The ceiling (invites_manage_roles; on 0.12 the host's admins), at creation and at use.
  {
    name: "ceiling: reset of an account above it, at creation",
    file: MODULE,
    search: "\tif not privileged and above_ceiling(username) then return above_ceiling_refusal(username); end\n",
    replace: "",
    tests: [PRIVILEGE],
    pattern: "no admin takeover",
  },
  {
    name: "ceiling: account invite for a name in admins, at creation",
    file: MODULE,
    search: "if request.username and not privileged and above_ceiling(request.username) then",
    replace: "if false then",
    tests: [PRIVILEGE],
    pattern: "a name listed in admins",
  },
  {
    name: "ceiling: the registering name, at use",
    file: POLICY,
    search: "return policy.within_ceiling(invite) and not policy.above_ceiling(username);",
    replace: "return policy.within_ceiling(invite);",
    tests: [PRIVILEGE],
    pattern: "a name listed in admins",
  },
  {
    // At use the registering name is checked as well (above): these hide a reset invite for an
    // account promoted since from the service's list, show and revoke. Both go: a reset invite
    // reserves the name of the account it resets, so either check alone hides it.
    name: "ceiling: a reset invite for an account promoted since, still the service's",
    file: POLICY,
    search:
      '\t\tif type(data.allow_reset) == "string" and policy.above_ceiling(data.allow_reset) then return false; end\n' +
      '\t\tlocal reserved = invite.type == "register" and server.node_of(invite.jid);\n' +
      "\t\treturn not (reserved and policy.above_ceiling(reserved));\n",
    replace: "\t\treturn true;\n",
    tests: ["test/e2e/promotion.prosody.test.ts"],
  },
  {
    name: "ceiling: a role outside invites_manage_roles, at creation (13)",
    file: POLICY,
    search: "if not privileged and not grantable[role] then",
    replace: "if false then",
    // The whole file: the roles test signs in as an account an earlier test registers.
    tests: ["test/e2e/manage.prosody.test.ts"],
    prosody: "13",
  },
  // The use cap of a reusable invite.
  {
    name: "cap: one registration more than max_uses",
    file: REGISTRATION,
    search: "if taken >= max_uses then return false; end",
    replace: "if taken > max_uses then return false; end",
    tests: ["test/e2e/redemptions.prosody.test.ts"],
    pattern: "exactly N succeed",
  },
  {
    name: "cap: registrations under way not reserved (only counted uses)",
    file: REGISTRATION,
    search: "\t\tfor holder in pairs(holders) do\n\t\t\tif holder ~= username then taken = taken + 1; end\n\t\tend\n",
    replace: "",
    tests: ["test/e2e/redemptions.prosody.test.ts"],
    pattern: "exactly N succeed",
  },
  {
    name: "cap: an invite at its cap still pending",
    file: REGISTRATION,
    search: "return max_uses ~= nil and uses_of(token) >= max_uses;",
    replace: "return max_uses ~= nil and uses_of(token) > max_uses;",
    tests: ["test/e2e/history.prosody.test.ts"],
    pattern: "lists invites by state",
  },
  // Values a client gives reach the XMPP stream only if XML can carry them.
  {
    name: "XML characters: U+FFFE and U+FFFF let through",
    file: "src/xmpp/dataForm.ts",
    search: "\\uE000-\\uFFFD",
    replace: "\\uE000-\\uFFFF",
    tests: [PRIVILEGE],
    pattern: "every value XML forbids",
  },
  // Keys and their powers.
  {
    name: "API key: any secret matches a known id",
    file: "src/keys/apiKey.ts",
    search: "return timingSafeEqual(presented, expected) && storedHash !== undefined;",
    replace: "return (timingSafeEqual(presented, expected) || true) && storedHash !== undefined;",
    tests: ["test/unit/apiKey.test.ts"],
  },
  {
    name: "powers: a create key may make resets",
    file: "src/keys/powers.ts",
    search: 'create: ["account"],',
    replace: 'create: ["account", "reset"],',
    tests: [PRIVILEGE],
    pattern: "no admin takeover",
  },
  {
    name: "powers: a key with --max-invites makes reusable invites",
    file: "src/keys/powers.ts",
    search: 'if (power === "group" && key.maxInvites !== undefined) {',
    replace: 'if (power === "group" && key.maxInvites === null) {',
    // Not the end-to-end test: the CLI no longer makes such a key, only an older one may be stored.
    tests: ["test/unit/invitesResource.test.ts"],
    pattern: "forbids reusable invites",
  },
  // Webhooks: the signature, and no way into the operator's own network.
  {
    name: "webhooks: signature over other content than the body sent",
    file: "src/webhooks/send.ts",
    search: "sign(delivery.id, timestamp, delivery.payload)",
    replace: 'sign(delivery.id, timestamp, delivery.payload + "\\n")',
    tests: ["test/e2e/webhooks.prosody.test.ts"],
    pattern: "each event arrives signed",
  },
  {
    name: "webhooks (SSRF): private and loopback addresses count as public",
    file: "src/webhooks/target.ts",
    search: 'return parsed.range() === "unicast";',
    replace: 'return parsed.range() !== "multicast";',
    tests: ["test/unit/webhooks.test.ts"],
    pattern: "only ordinary public addresses",
  },
  {
    name: "webhooks (SSRF): a subscription's host not checked",
    file: "src/webhooks/target.ts",
    search: "const inside = addresses.find((a) => !isPublicAddress(a));",
    replace: "const inside = addresses.find((a) => !ipaddr.isValid(a));",
    tests: ["test/e2e/webhooks.prosody.test.ts"],
    pattern: "private targets are refused",
  },
  // The redemption ledger counts each page of registration records once: its cursor must match.
  {
    name: "ledger (Redis): a batch from a stale cursor applied",
    file: "src/store/redis/ledger.ts",
    search: "if cursor ~= ARGV[1] then return 0 end",
    replace: "if false then return 0 end",
    tests: ["test/e2e/redemptionLedger.test.ts"],
    pattern: "^redemption ledger in redis$",
  },
  {
    name: "ledger (SQLite): a batch from a stale cursor applied",
    file: "src/store/sqlite/ledger.ts",
    search: "WHERE host = @host AND cursor IS @from",
    replace: "WHERE host = @host",
    tests: ["test/e2e/redemptionLedger.test.ts"],
    pattern: "^redemption ledger in sqlite$",
  },
  {
    name: "ledger (PostgreSQL): a batch from a stale cursor applied",
    file: "src/store/postgres/ledger.ts",
    search: "WHERE host = $1 AND cursor IS NOT DISTINCT FROM $2`",
    replace: "WHERE host = $1 AND ($2::text IS NULL OR $2::text IS NOT NULL)`",
    tests: ["test/e2e/storeContract.test.ts"],
    pattern: "^store contract: postgres$",
  },
  // The webhook outbox's lease: a delivery an instance claimed and never finished (it died) is
  // claimable again once the lease runs out, on every store several instances share.
  {
    name: "webhook lease (Redis): never runs out",
    file: "src/store/redis/webhooks.ts",
    search: "redis.call('ZADD', due, ARGV[2], id)",
    replace: "redis.call('ZADD', due, '+inf', id)",
    tests: ["test/e2e/storeContract.test.ts"],
    pattern: "^store contract: redis$",
  },
  {
    name: "webhook lease (PostgreSQL): never runs out",
    file: "src/store/postgres/webhooks.ts",
    search: "SET due_at = $2",
    replace: "SET due_at = $2::bigint + 1000000000000",
    tests: ["test/e2e/storeContract.test.ts"],
    pattern: "^store contract: postgres$",
  },
  // Uses of a capped invite counted one registration at a time (a storage that yields would
  // otherwise lose counts written at once).
  {
    // Each reusable invite's count is read once and kept, so that no check and no place taken ever
    // waits on storage: read again each time, the door's redeem slips between a read and its write.
    name: "cap: use counts read from storage each time (not kept)",
    file: REGISTRATION,
    search: "\t\t\t\tcounts[token] = record;\n",
    replace: "",
    tests: ["test/e2e/inviteDoor.prosody.test.ts"],
    pattern: "a cap of 3",
  },
  // `invites-api check` exits 1 on a problem, for scripts and provisioning.
  {
    name: "check: a failed report exits 0",
    file: "src/check/report.ts",
    search: "(reportOk(report) ? 0 : 1)",
    replace: "(reportOk(report) ? 0 : 0)",
    tests: ["test/unit/check.test.ts"],
    pattern: "exit 1 only on a failure",
  },
  {
    name: "check: the CLI drops the report's exit code",
    file: "src/cli/checkCommand.ts",
    search: "return exitCodeOf(report);",
    replace: "return exitCodeOf(report) * 0;",
    tests: ["test/e2e/check.prosody.test.ts"],
    pattern: "neither least privilege nor admin",
  },
  // The admin page: its CSP, and the API's data written as text.
  // The admin page's header (the regression of 5741e91: the title against the top edge, "Sign out"
  // wrapped under it), seen only by the screenshot comparison.
  {
    name: "admin page: the header row loses its layout",
    file: "web/admin/admin.css",
    search: ".top-row,\n.banner-row {",
    replace: ".banner-row {",
    tests: ["test/e2e/adminScreens.prosody.test.ts"],
  },
  {
    name: "admin page: no Content-Security-Policy header",
    file: "src/http/adminPage.ts",
    search: '  "Content-Security-Policy": ADMIN_CSP,\n',
    replace: "",
    tests: ["test/unit/adminPage.test.ts"],
    pattern: "strict CSP",
  },
  {
    name: "admin page: CSP allows inline script",
    file: "src/http/adminPage.ts",
    search: `"script-src 'self'",`,
    replace: `"script-src 'self' 'unsafe-inline'",`,
    tests: ["test/e2e/adminPage.prosody.test.ts"],
    pattern: "CSP blocks inline script",
  },
  {
    name: "admin page: the API's strings written as markup",
    file: "web/admin/dom.ts",
    search: "for (const child of children) if (child) element.append(child);",
    replace:
      'for (const child of children) if (typeof child === "string") element.insertAdjacentHTML("beforeend", child); else if (child) element.append(child);',
    tests: ["test/e2e/adminPage.prosody.test.ts"],
    pattern: "markup from every displayed field as text",
  },
  // The unit's sandboxing, held to the docs' systemd-analyze figure.
  {
    name: "systemd: the unit's own users, read-only system, no homes, own /tmp and devices",
    file: "packaging/systemd/invites-api.service",
    search: "PrivateUsers=yes\nProtectSystem=strict\nProtectHome=yes\nPrivateTmp=yes\nPrivateDevices=yes\n",
    replace: "",
    tests: ["test/unit/systemdUnit.test.ts"],
    pattern: "at most the figure the docs state",
  },
  // Listing gives way to invites (issue 26.8): one list command per host at a time, in chunks.
  {
    name: "listing lane: list commands no longer wait for each other",
    file: "src/xmpp/listingLane.ts",
    search: "    tail = result.then(rest, rest);\n",
    replace: "    void rest;\n",
    tests: ["test/e2e/listingLane.prosody.test.ts", "test/unit/listingLane.test.ts"],
  },
  {
    name: "listing lane: a page asked for in one command of up to 200",
    file: "src/xmpp/listingLane.ts",
    search: "export const LISTING_LANE: ListingLaneOptions = { chunk: 20, pause: 1 };",
    replace: "export const LISTING_LANE: ListingLaneOptions = { chunk: 200, pause: 1 };",
    tests: ["test/e2e/listingLane.prosody.test.ts"],
  },
  {
    name: "prosody-config: Nagle's algorithm left on",
    file: "prosody-config/prosody.cfg.lua",
    search: "network_settings = { nagle = false }\n",
    replace: "",
    tests: ["test/e2e/deployment.test.ts"],
  },
  // The invite page (issue 28): the ceiling, Prosody's own page for what is above it, the form's origin.
  {
    name: "invite page: an invite above the ceiling shown and redeemed through the page",
    file: POLICY,
    search: "\t\treturn privileged or policy.within_ceiling(invite);\n",
    replace: "\t\treturn true;\n",
    tests: ["test/e2e/inviteDoor.prosody.test.ts"],
    pattern: "above the ceiling",
  },
  {
    name: "invite page: an invite above the ceiling keeps the service's page in its link",
    file: MODULE,
    search: "\tlanding.keep_own_page(invite);\n",
    replace: "",
    tests: ["test/e2e/inviteDoor.prosody.test.ts"],
    pattern: "above the ceiling",
  },
  {
    name: "invite page: a form posted from another site accepted",
    file: "src/invitePage/signupRoute.ts",
    search: "if (!sameOrigin(ctx, kit.trustedProxies)) {",
    replace: 'if (!sameOrigin(ctx, kit.trustedProxies) && ctx.method === "NONE") {',
    tests: ["test/unit/invitePage.test.ts"],
  },
  {
    // The page's <meta name="referrer"> is the policy its form posts under (it overrides the header).
    name: "invite page: referrer policy no-referrer (Chromium then posts the page's own form with Origin: null)",
    file: "src/invitePage/views/layout.ts",
    search: '<meta name="referrer" content="same-origin" />',
    replace: '<meta name="referrer" content="no-referrer" />',
    tests: ["test/e2e/invitePage.prosody.test.ts"],
    pattern: "without JavaScript",
  },
  {
    name: "invite page: Prosody's password floor gone",
    file: "prosody-config/modules/mod_invites_manage/landing.lib.lua",
    search: "if (utf8.len(password) or 0) < min_password_chars then",
    replace: "if false then",
    tests: ["test/e2e/inviteDoor.prosody.test.ts"],
    pattern: "password floor",
  },
  // People (issue 29): sessions, their CSRF wall, sign-in links, quotas, circles, gone inviters.
  {
    name: "people: a change with a session needs no X-CSRF-Token",
    file: "src/people/csrf.ts",
    search: "  return tokenMatches && sameOrigin(ctx, trustedProxies);",
    replace: "  return (tokenMatches || true) && sameOrigin(ctx, trustedProxies);",
    tests: ["test/unit/sessions.test.ts"],
    pattern: "CSRF",
  },
  {
    name: "people: a session id sent before sign-in is not ended (fixation)",
    file: "src/people/sessions.ts",
    search: "      if (before !== undefined) await end(hashOf(before));\n",
    replace: '      if (before === "never") await end(hashOf(before));\n',
    tests: ["test/unit/sessions.test.ts"],
    pattern: "fixation",
  },
  {
    name: "people: another form of an account's JID escapes its link limit",
    file: "src/people/signInLimits.ts",
    search: "      if (typed === prepped) return true;",
    replace: "      if (typed === prepped || prepped !== typed) return true;",
    tests: ["test/unit/sessions.test.ts"],
    pattern: "names the person as Prosody preps",
  },
  {
    name: "people: OAuth's next may leave the origin",
    file: "src/people/oauthNext.ts",
    // Both walls (the pattern, and the URL as a browser resolves it) go: either alone holds.
    search:
      '  if (typeof next !== "string" || next.length > MAX_LENGTH || !PATH.test(next)) return undefined;\n' +
      "  // And as a browser resolves it, in case a form slipped past the pattern.\n" +
      "  try {\n" +
      "    return new URL(next, PROBE).origin === PROBE ? next : undefined;",
    replace:
      '  if (typeof next !== "string" || next.length > MAX_LENGTH || !PATH) return undefined;\n' +
      "  try {\n" +
      "    return new URL(next, PROBE) ? next : undefined;",
    tests: ["test/unit/oauthSignIn.test.ts"],
    pattern: "next",
  },
  {
    name: "people: an invite outside a caller's circles is within reach",
    file: "src/people/confinement.ts",
    search: "  if (reach.circles === undefined) return true;",
    replace: "  if (reach.circles === undefined || reach.circles.length > 0) return true;",
    tests: ["test/e2e/peoplePowers.prosody.test.ts"],
  },
  {
    name: "people: a member puts new accounts into groups",
    file: "src/people/confinement.ts",
    search:
      '  if (caller.person && groups?.length && !circlesOf(caller) && !caller.apiKey.scopes.includes("manage")) {',
    replace: "  if (caller.person && groups?.length && !circlesOf(caller) && caller.apiKey.scopes.length === 0) {",
    tests: ["test/e2e/peoplePowers.prosody.test.ts"],
  },
  {
    name: "people: a place Prosody refused is not given back to the quota",
    file: "src/people/quota.ts",
    search: "    await quotas.release(person.jid, use).catch(() => undefined);",
    replace: "",
    tests: ["test/e2e/peopleQuota.prosody.test.ts"],
    pattern: "Prosody refuses takes no place",
  },
  {
    name: "people: an invite whose maker is gone still registers",
    file: "prosody-config/modules/mod_invites_manage/people.lib.lua",
    search: "\t\treturn not (facts and facts.exists and facts.enabled);",
    replace: "\t\treturn false;",
    tests: ["test/e2e/people.prosody.test.ts"],
    pattern: "no more once it is deleted",
  },
  // The log scan must find a webhook signing secret however a line writes it.
  {
    name: "log scan: a percent-encoded secret (a whsec_ body's + / =) missed",
    file: "test/logs/scan.ts",
    search: "      percent,\n      percent.replace(/%[0-9A-F]{2}/g, (escape) => escape.toLowerCase()),\n",
    replace: "",
    tests: ["test/unit/logScan.test.ts"],
  },
];
