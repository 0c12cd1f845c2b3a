-- Unit tests of mod_invites_manage's people library (people.lib.lua), without a Prosody: plain Lua
-- asserts, run by `npm run test:lua`. What the person command answers of an account on 13 (roles,
-- disabled accounts) and on 0.12 (admins), which JIDs it takes, and whose invite is whose.

local here = arg and arg[0] and arg[0]:match("^(.*)/[^/]*$") or ".";
local library = here.."/../../prosody-config/modules/mod_invites_manage/people.lib.lua";
local new_people = assert(loadfile(library))();

local host = "example.org";

-- util.jid.prepped_split, near enough: lower-cases, refuses a node with a space (nodeprep would).
local function split(j)
	local node, domain, resource = j:match("^([^@/]+)@([^@/]+)/?(.*)$");
	if not node then
		domain, resource = j:match("^([^@/]+)/?(.*)$");
		if not domain then return nil; end
	end
	if node and node:find(" ", 1, true) then return nil; end
	return node and node:lower(), domain:lower(), resource ~= "" and resource or nil;
end

-- Accounts as username = { role, enabled }; `admins` (0.12) a list; `failing`: is_enabled errs.
local function server(version, accounts, admins, failing)
	local admin_set = {};
	for _, name in ipairs(admins or {}) do admin_set[name] = true; end
	return new_people({
		host = host, have_roles = version == "13", split = split,
		user_exists = function (username) return accounts[username] ~= nil; end,
		is_enabled = version == "13" and function (username)
			if failing then return nil, "storage down"; end
			return accounts[username][2] ~= false;
		end or nil,
		role_of = function (username)
			assert(version == "13", "role_of asked on 0.12");
			return accounts[username][1];
		end,
		is_admin = function (username)
			assert(version == "0.12", "is_admin asked on 13");
			return admin_set[username] == true;
		end,
	});
end

local accounts = {
	alice = { "prosody:member" }, root = { "prosody:admin" }, op = { "prosody:operator" },
	gone = { "prosody:member", false }, lead = { "example:team-lead" },
};
local p13, p012 = server("13", accounts), server("0.12", accounts, { "root" });

local harness = dofile(here.."/harness.lua");
local test, is = harness.test, harness.is;

local function facts_of(people, username)
	local facts = assert(people.facts(username));
	return ("%s %s %s"):format(tostring(facts.exists), tostring(facts.enabled), tostring(facts.role));
end

-- Which JIDs the command takes.
test("a bare JID of the host names its account", function ()
	is(p13.username_of("alice@"..host), "alice");
	is(p13.username_of("Alice@EXAMPLE.org"), "alice", "prepped");
end);
test("another host, a full JID, a domain, a JID that does not prep, no string: nothing", function ()
	is(p13.username_of("alice@other.org"), nil, "another host");
	is(p13.username_of("alice@"..host.."/phone"), nil, "full JID");
	is(p13.username_of(host), nil, "the host itself");
	is(p13.username_of("al ice@"..host), nil, "nodeprep refuses");
	is(p13.username_of(nil), nil, "nil");
end);

-- What it answers.
test("13: an account's primary role, enabled", function ()
	is(facts_of(p13, "alice"), "true true prosody:member");
	is(facts_of(p13, "root"), "true true prosody:admin");
	is(facts_of(p13, "op"), "true true prosody:operator");
	is(facts_of(p13, "lead"), "true true example:team-lead", "a custom role");
end);
test("13: a disabled account exists, disabled", function ()
	is(facts_of(p13, "gone"), "true false prosody:member");
end);
test("an account that does not exist: no role, not enabled", function ()
	is(facts_of(p13, "nobody"), "false false nil");
	is(facts_of(p012, "nobody"), "false false nil");
end);
test("0.12: an admin is prosody:admin, anyone else prosody:registered, always enabled", function ()
	is(facts_of(p012, "root"), "true true prosody:admin");
	is(facts_of(p012, "alice"), "true true prosody:registered");
	is(facts_of(p012, "gone"), "true true prosody:registered", "no disabled accounts on 0.12");
end);
test("13: the server cannot say whether it is enabled: nil and the error", function ()
	local facts, err = server("13", accounts, nil, true).facts("alice");
	is(facts, nil, "facts"); is(err, "storage down", "error");
end);
test("13's fallback answering without a flag (a non-boolean): enabled", function ()
	local people = new_people({ host = host, have_roles = true, split = split,
		user_exists = function () return true; end, is_enabled = function () return {}; end,
		role_of = function () return "prosody:registered"; end });
	is(facts_of(people, "x"), "true true prosody:registered");
end);

-- Whose invite it is.
local function invite(source, fields)
	local t = { type = "register", jid = host, additional_data = { source = source } };
	for k, v in pairs(fields or {}) do t[k] = v; end
	return t;
end

test("a person's invite through invites-api names them", function ()
	is(p13.maker_of(invite("invites-api/alice@"..host)), "alice");
end);
test("a key's invite, an admin's own, another host's person: nobody of this host", function ()
	is(p13.maker_of(invite("invites-api/Zm9vYmFy")), nil, "a key");
	is(p13.maker_of(invite("adhoc/invites."..host)), nil, "made through the commands");
	is(p13.maker_of(invite("root@"..host.."/laptop")), nil, "mod_invites_adhoc's source");
	is(p13.maker_of(invite("invites-api/alice@other.org")), nil, "another host");
	is(p13.maker_of(invite(nil)), nil, "no source");
	is(p13.maker_of({ type = "register", jid = host }), nil, "no additional data");
end);
test("Prosody's own user invites: the inviter, or a contact invite's JID", function ()
	is(p13.maker_of(invite(nil, { inviter = "bob" })), "bob", "a validated invite's inviter");
	is(p13.maker_of(invite(nil, { inviter = "bob@"..host })), "bob", "an inviter as a JID");
	is(p13.maker_of(invite("bob@"..host.."/phone", { type = "roster", jid = "bob@"..host })), "bob", "as stored");
end);

test("the maker is gone when the account no longer exists, or is disabled (13)", function ()
	is(p13.maker_gone(invite("invites-api/alice@"..host)), false, "alice is there");
	is(p13.maker_gone(invite("invites-api/nobody@"..host)), true, "deleted");
	is(p13.maker_gone(invite("invites-api/gone@"..host)), true, "disabled");
	is(p13.maker_gone(invite(nil, { type = "roster", jid = "nobody@"..host })), true, "a contact invite's");
	is(p012.maker_gone(invite("invites-api/nobody@"..host)), true, "0.12: deleted");
	is(p012.maker_gone(invite("invites-api/gone@"..host)), false, "0.12: no disabled accounts");
end);
test("no maker, or a key's invite: never gone", function ()
	is(p13.maker_gone(invite("invites-api/Zm9vYmFy")), false, "a key");
	is(p13.maker_gone(invite(nil)), false, "nobody");
end);
test("the server cannot say: gone (the invite waits)", function ()
	is(server("13", accounts, nil, true).maker_gone(invite("invites-api/alice@"..host)), true);
end);

harness.done("people.lib.lua");
