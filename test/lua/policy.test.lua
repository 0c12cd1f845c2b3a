-- Unit tests of mod_invites_manage's policy library (access, ceiling and visibility), without a
-- Prosody: plain Lua asserts, run by `npm run test:lua` (lua5.4 test/lua/policy.test.lua). Each
-- row of the ceiling rules is checked with Prosody 13's semantics (roles) and 0.12's (admins, no
-- roles to give) wherever the two differ.

local here = arg and arg[0] and arg[0]:match("^(.*)/[^/]*$") or ".";
local library = here.."/../../prosody-config/modules/mod_invites_manage/policy.lib.lua";
local new_policy = assert(loadfile(library))();

local service = "invites.example.org"; -- a JID of invites_manage_jids
local host = "example.org";

-- A server with accounts given as username = { primary role, { secondary role = true } } (13),
-- and `admins` as a list of usernames (0.12).
local function server(version, accounts, admins)
	local admin_set = {};
	for _, name in ipairs(admins or {}) do admin_set[name] = true; end
	local known = { ["prosody:guest"] = true, ["prosody:registered"] = true, ["prosody:member"] = true,
		["prosody:operator"] = true, ["prosody:admin"] = true };
	return new_policy({
		have_roles = version == "13",
		grantable = { ["prosody:guest"] = true, ["prosody:registered"] = true, ["prosody:member"] = true,
			["made:up"] = true },
		manage_jids = { [service] = true },
		role_of = function (username)
			assert(version == "13", "role_of asked on 0.12");
			local account = accounts and accounts[username];
			if not account then return nil, nil; end
			return account[1], account[2];
		end,
		is_admin = function (username)
			assert(version == "0.12", "is_admin asked on 13");
			return admin_set[username] == true;
		end,
		role_known = function (role) return known[role] == true; end,
		node_of = function (j) return j:match("^([^@/]+)@"); end,
	});
end

-- On 13: alice a member, bob a member with a secondary operator role, root an admin, carol a
-- guest with a secondary registered role, nobody without a role. On 0.12: root is in `admins`.
local accounts = {
	alice = { "prosody:member" }, bob = { "prosody:member", { ["prosody:operator"] = true } },
	root = { "prosody:admin" }, carol = { "prosody:guest", { ["prosody:registered"] = true } },
};
local p13, p012 = server("13", accounts), server("0.12", nil, { "root" });

local harness = dofile(here.."/harness.lua");
local test, is = harness.test, harness.is;

local function service_invite(fields)
	local invite = { type = "register", jid = host, additional_data = { created_by = service, source = "invites-api/key" } };
	for k, v in pairs(fields or {}) do invite[k] = v; end
	for k, v in pairs(fields and fields.data or {}) do invite.additional_data[k] = v; end
	invite.data = nil;
	return invite;
end

-- Access: who may use the commands, and who is privileged.
test("a JID of invites_manage_jids may, unprivileged", function ()
	local allowed, privileged = p13.standing(service, false);
	is(allowed, true, "allowed"); is(privileged, false, "privileged");
end);
test("a JID of invites_manage_jids that is an admin too stays unprivileged", function ()
	local allowed, privileged = p13.standing(service, true);
	is(allowed, true, "allowed"); is(privileged, false, "privileged");
end);
test("an admin of the host is privileged", function ()
	local allowed, privileged = p13.standing("root@"..host, true);
	is(allowed, true, "allowed"); is(privileged, true, "privileged");
end);
test("anyone else is refused", function ()
	is(p13.standing("alice@"..host, false), false, "allowed");
end);

-- Above the ceiling: an account (or a name) ranking above invites_manage_roles.
test("13: a primary role in invites_manage_roles is under the ceiling", function ()
	is(p13.above_ceiling("alice"), false);
end);
test("13: a primary role outside invites_manage_roles is above", function ()
	is(p13.above_ceiling("root"), true);
end);
test("13: a secondary role outside invites_manage_roles is above", function ()
	is(p13.above_ceiling("bob"), true);
end);
test("13: secondary roles inside invites_manage_roles stay under", function ()
	is(p13.above_ceiling("carol"), false);
end);
test("13: a name without a role is above", function ()
	is(p13.above_ceiling("nobody"), true);
end);
test("0.12: an admin of the host (even unregistered) is above", function ()
	is(p012.above_ceiling("root"), true);
end);
test("0.12: anyone else is under", function ()
	is(p012.above_ceiling("alice"), false);
end);

-- Roles an invite may give.
test("no roles: nothing to refuse, on 13 and 0.12", function ()
	is(p13.roles_refusal(nil, false), nil, "13"); is(p012.roles_refusal(nil, false), nil, "0.12");
end);
test("0.12: an invite with roles is refused (feature-not-implemented), even for an admin", function ()
	local condition, text = p012.roles_refusal({ "prosody:member" }, true);
	is(condition, "feature-not-implemented"); is(text, "roles need Prosody 13", "text");
end);
test("13: roles within invites_manage_roles may be given", function ()
	is(p13.roles_refusal({ "prosody:guest", "prosody:member" }, false), nil);
end);
test("13: a role outside invites_manage_roles is refused to the service", function ()
	local condition, text = p13.roles_refusal({ "prosody:member", "prosody:admin" }, false);
	is(condition, "bad-request"); is(text, "role prosody:admin is not in invites_manage_roles", "text");
end);
test("13: an admin may give a role outside invites_manage_roles", function ()
	is(p13.roles_refusal({ "prosody:admin" }, true), nil);
end);
test("13: an unknown role is refused, even to an admin", function ()
	local condition, text = p13.roles_refusal({ "made:up" }, true);
	is(condition, "bad-request"); is(text, "unknown role made:up", "text");
end);
test("13: the roles offered are those of invites_manage_roles the host knows, sorted", function ()
	is(table.concat(p13.offered_roles(), ","), "prosody:guest,prosody:member,prosody:registered");
end);
test("0.12: no roles offered", function ()
	is(#p012.offered_roles(), 0);
end);

-- Made by the service.
test("created_by a JID of invites_manage_jids: the service's", function ()
	is(p13.made_by_service({ created_by = service }), true);
end);
test("created_by another JID: not the service's, whatever its source says", function ()
	is(p13.made_by_service({ created_by = "root@"..host, source = "invites-api/key" }), false);
end);
test("legacy, without created_by: the service's by an invites-api/ source", function ()
	is(p13.made_by_service({ source = "invites-api/key" }), true);
end);
test("legacy, without created_by: not the service's by any other source", function ()
	is(p13.made_by_service({ source = "adhoc/root@"..host }), false, "adhoc");
	is(p13.made_by_service({ source = "invites-api" }), false, "no slash");
	is(p13.made_by_service({}), false, "none");
	is(p13.made_by_service(nil), false, "no data");
end);

-- Within the ceiling: the effect of an invite.
test("13: an invite giving roles within invites_manage_roles is within", function ()
	is(p13.within_ceiling(service_invite({ data = { roles = { "prosody:member" } } })), true);
end);
test("13: an invite giving a role outside invites_manage_roles is not", function ()
	is(p13.within_ceiling(service_invite({ data = { roles = { "prosody:guest", "prosody:admin" } } })), false);
end);
test("13: roles kept as a set ({ name = true }) count the same", function ()
	is(p13.within_ceiling(service_invite({ data = { roles = { ["prosody:admin"] = true } } })), false);
end);
-- A reset invite also reserves the name it resets (its jid): the resets here carry the host's JID
-- instead, so that each checks the allow_reset rule alone.
test("13 and 0.12: a reset of an account under the ceiling is within", function ()
	local invite = service_invite({ data = { allow_reset = "alice" } });
	is(p13.within_ceiling(invite), true, "13"); is(p012.within_ceiling(invite), true, "0.12");
end);
test("13 and 0.12: a reset of an account above the ceiling is not", function ()
	local invite = service_invite({ data = { allow_reset = "root" } });
	is(p13.within_ceiling(invite), false, "13"); is(p012.within_ceiling(invite), false, "0.12");
end);
test("13: a reset of an account promoted through a secondary role is not", function ()
	is(p13.within_ceiling(service_invite({ data = { allow_reset = "bob" } })), false);
end);
test("13 and 0.12: an invite reserving a name under the ceiling is within", function ()
	local invite = service_invite({ jid = "alice@"..host });
	is(p13.within_ceiling(invite), true, "13"); is(p012.within_ceiling(invite), true, "0.12");
end);
test("13 and 0.12: an invite reserving a name above the ceiling is not", function ()
	local invite = service_invite({ jid = "root@"..host });
	is(p13.within_ceiling(invite), false, "13"); is(p012.within_ceiling(invite), false, "0.12");
end);
test("an invite for any name (the host's JID) reserves none", function ()
	is(p13.within_ceiling(service_invite()), true, "13"); is(p012.within_ceiling(service_invite()), true, "0.12");
end);
test("a contact invite names its inviter, however high, and reserves nothing", function ()
	local invite = service_invite({ type = "roster", jid = "root@"..host });
	is(p13.within_ceiling(invite), true, "13"); is(p012.within_ceiling(invite), true, "0.12");
end);

-- Visible: what the caller may list, show and revoke.
test("an admin sees everything, his own invites and those above the ceiling", function ()
	local own = { type = "register", jid = "root@"..host, additional_data = { created_by = "root@"..host } };
	is(p13.visible(own, true), true, "13"); is(p012.visible(own, true), true, "0.12");
end);
test("the service sees its invites within the ceiling", function ()
	is(p13.visible(service_invite(), false), true, "13"); is(p012.visible(service_invite(), false), true, "0.12");
end);
test("the service does not see its invites above the ceiling", function ()
	local invite = service_invite({ jid = "root@"..host, data = { allow_reset = "root" } });
	is(p13.visible(invite, false), false, "13"); is(p012.visible(invite, false), false, "0.12");
end);
test("the service does not see an invite it did not make, even within the ceiling", function ()
	local invite = { type = "register", jid = host, additional_data = { created_by = "root@"..host } };
	is(p13.visible(invite, false), false, "13"); is(p012.visible(invite, false), false, "0.12");
end);
test("the service sees a legacy invite by its invites-api/ source", function ()
	local invite = { type = "register", jid = host, additional_data = { source = "invites-api/key" } };
	is(p13.visible(invite, false), true);
end);

-- How an account came in.
test("an admin sees every arrival", function ()
	is(p13.arrival_visible({ created_by = "root@"..host }, "root", true), true);
end);
test("the service sees an arrival through its invite, of an account under the ceiling", function ()
	is(p13.arrival_visible({ created_by = service }, "alice", false), true, "13");
	is(p012.arrival_visible({ created_by = service }, "alice", false), true, "0.12");
end);
test("the service does not see an account above the ceiling, through its invite or not", function ()
	is(p13.arrival_visible({ created_by = service }, "root", false), false, "13");
	is(p012.arrival_visible({ created_by = service }, "root", false), false, "0.12");
end);
test("the service does not see an arrival through an invite it did not make", function ()
	is(p13.arrival_visible({ created_by = "root@"..host }, "alice", false), false);
end);

-- At use: checked again, as accounts may have been promoted since.
test("the service's invite registers a name under the ceiling", function ()
	is(p13.usable_for(service_invite(), "alice"), true, "13"); is(p012.usable_for(service_invite(), "alice"), true, "0.12");
end);
test("the service's invite does not register a name above the ceiling", function ()
	is(p13.usable_for(service_invite(), "root"), false, "13"); is(p012.usable_for(service_invite(), "root"), false, "0.12");
end);
test("the service's invite whose effect is above the ceiling now is not used", function ()
	is(p13.usable_for(service_invite({ data = { roles = { "prosody:admin" } } }), "alice"), false, "role");
	is(p13.usable_for(service_invite({ jid = "bob@"..host, data = { allow_reset = "bob" } }), "bob"), false, "reset");
end);
test("an invite the service did not make is not held back", function ()
	local invite = { type = "register", jid = host, additional_data = { created_by = "root@"..host, roles = { "prosody:admin" } } };
	is(p13.usable_for(invite, "root"), true, "13"); is(p012.usable_for(invite, "root"), true, "0.12");
end);

-- The invite page: any invite within the ceiling, whoever made it, by its token.
test("the page sees an admin's own invite within the ceiling", function ()
	local own = { type = "register", jid = host, additional_data = { created_by = "root@"..host } };
	is(p13.landing_visible(own, false), true, "13"); is(p012.landing_visible(own, false), true, "0.12");
end);
test("the page sees an invite without additional data (made by prosodyctl or another module)", function ()
	local bare = { type = "register", jid = host };
	is(p13.landing_visible(bare, false), true, "13"); is(p012.landing_visible(bare, false), true, "0.12");
end);
test("the page sees a contact invite, whoever's", function ()
	local invite = { type = "roster", jid = "root@"..host };
	is(p13.landing_visible(invite, false), true, "13"); is(p012.landing_visible(invite, false), true, "0.12");
end);
test("the page does not see an invite above the ceiling, the service's or an admin's", function ()
	local admin_role = { type = "register", jid = host, additional_data = { created_by = "root@"..host,
		roles = { "prosody:admin" } } };
	is(p13.landing_visible(admin_role, false), false, "13: admin role");
	local reset = { type = "register", jid = "root@"..host, additional_data = { allow_reset = "root" } };
	is(p13.landing_visible(reset, false), false, "13: reset of an admin");
	is(p012.landing_visible(reset, false), false, "0.12: reset of an admin");
	local named = { type = "register", jid = "root@"..host, additional_data = { created_by = "root@"..host } };
	is(p13.landing_visible(named, false), false, "13: an admin's name");
	is(p012.landing_visible(named, false), false, "0.12: an admin's name");
	is(p13.landing_visible(service_invite({ data = { allow_reset = "bob" } }), false), false, "13: promoted");
end);
test("an admin calling the page's commands sees every invite", function ()
	local reset = { type = "register", jid = "root@"..host, additional_data = { allow_reset = "root" } };
	is(p13.landing_visible(reset, true), true, "13"); is(p012.landing_visible(reset, true), true, "0.12");
end);

-- The invite page registering through an invite.
test("the page registers a name under the ceiling through an admin's invite", function ()
	local own = { type = "register", jid = host, additional_data = { created_by = "root@"..host } };
	is(p13.redeemable_for(own, "alice", false), true, "13"); is(p012.redeemable_for(own, "alice", false), true, "0.12");
end);
test("the page does not register a name above the ceiling, whoever made the invite", function ()
	local own = { type = "register", jid = host, additional_data = { created_by = "root@"..host } };
	is(p13.redeemable_for(own, "root", false), false, "13: admin's invite");
	is(p012.redeemable_for(own, "root", false), false, "0.12: admin's invite");
	is(p13.redeemable_for(service_invite(), "root", false), false, "13: service's invite");
	is(p012.redeemable_for(service_invite(), "root", false), false, "0.12: service's invite");
end);
test("the page does not use an invite whose effect is above the ceiling now", function ()
	local admin_role = { type = "register", jid = host, additional_data = { roles = { "prosody:admin" } } };
	is(p13.redeemable_for(admin_role, "alice", false), false, "role");
	is(p13.redeemable_for(service_invite({ jid = "bob@"..host, data = { allow_reset = "bob" } }), "bob", false),
		false, "reset of a promoted account");
end);
test("an admin calling the page's commands may register any name", function ()
	is(p13.redeemable_for(service_invite(), "root", true), true, "13");
	is(p012.redeemable_for(service_invite(), "root", true), true, "0.12");
end);

-- The feed (the redemptions command, issue 30).
test("the feed: registrations and expiries of the service's invites, and every host event", function ()
	local service_record = { token = "t", created_by = service };
	local admin_record = { token = "t", created_by = "root@"..host };
	is(p13.feed_visible(service_record, false, false), true, "service's registration");
	is(p13.feed_visible(admin_record, false, true), false, "admin's registration");
	is(p13.feed_visible(admin_record, true, true), true, "admin reads the admin's");
	is(p13.feed_visible({ kind = "expired", created_by = service }, false, true), true, "service's expiry");
	is(p13.feed_visible({ kind = "expired", created_by = "root@"..host }, false, true), false, "admin's expiry");
	for _, kind in ipairs({ "paused", "resumed", "budget_exhausted" }) do
		is(p13.feed_visible({ kind = kind, by = "root@"..host }, false, true), true, kind);
	end
end);
test("the feed: a record with a kind only for a caller that asks for kinds (older ones count all)", function ()
	for _, kind in ipairs({ "expired", "paused", "resumed", "budget_exhausted" }) do
		is(p13.feed_visible({ kind = kind, created_by = service }, false, false), false, kind);
		is(p13.feed_visible({ kind = kind, created_by = service }, true, false), false, kind.." (admin)");
	end
end);

-- Lists as mod_invites keeps them.
test("names: a list stays, a set becomes a sorted list, anything else none", function ()
	is(table.concat(p13.names({ "b", "a" }), ","), "b,a", "list");
	local set = {};
	for c in ("qwertyuiopasdfghjklzxcvbnm"):gmatch(".") do set["role:"..c] = true; end
	local sorted = p13.names(set);
	is(#sorted, 26, "set size");
	for i = 2, #sorted do assert(sorted[i - 1] < sorted[i], "set not sorted"); end
	is(#p13.names("x"), 0, "string"); is(#p13.names(nil), 0, "nil");
end);

harness.done("policy.lib.lua");
