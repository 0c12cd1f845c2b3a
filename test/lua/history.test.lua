-- Unit tests of mod_invites_manage's history (history.lib.lua), without a Prosody: plain Lua
-- asserts with a stand-in `module`, archive store, util.stanza and util.json, run by `npm run
-- test:lua`. A revoked invite keeps who revoked it (revoked_by); a used one names nobody.

local here = arg and arg[0] and arg[0]:match("^(.*)/[^/]*$") or ".";
local library = here.."/../../prosody-config/modules/mod_invites_manage/history.lib.lua";

-- util.json and util.stanza, near enough: an item holds a copy of the table it was given.
local function copy(t)
	if type(t) ~= "table" then return t; end
	local c = {};
	for k, v in pairs(t) do c[k] = copy(v); end
	return c;
end
package.preload["util.json"] = function () return { encode = copy, decode = copy }; end
package.preload["util.stanza"] = function ()
	local item = {};
	item.__index = item;
	function item:text(value) self.value = value; return self; end
	function item:get_text() return self.value; end
	return { stanza = function (name) return setmetatable({ name = name }, item); end,
		is_stanza = function (s) return getmetatable(s) == item; end };
end

-- One archive store per name, in memory: key = { value, when, with }.
local stores = {};
local function archive()
	local items = {};
	return {
		items = items,
		get = function (_, _, key)
			local i = items[key];
			if i then return i.value, i.when, i.with; end
		end,
		set = function (_, _, key, value, when, with)
			if not items[key] then return nil, "item-not-found"; end
			items[key] = { value = value, when = when, with = with };
			return true;
		end,
		append = function (_, _, key, value, when, with)
			items[key] = { value = value, when = when, with = with };
			return key;
		end,
		delete = function () return true; end,
	};
end
_G.module = {
	get_option_number = function (_, _, default) return default; end,
	open_store = function (_, name) stores[name] = stores[name] or archive(); return stores[name]; end,
	log = function () end,
	add_timer = function () end,
};
local history = assert(loadfile(library))();
local kept = stores.invites_manage_history.items;

local harness = dofile(here.."/harness.lua");
local test, is = harness.test, harness.is;

local function invite(token)
	return { token = token, type = "register", jid = "example.org", created_at = os.time(), expires = os.time() + 60,
		additional_data = { source = "invites-api/K1", created_by = "invites.example.org" } };
end

test("revoked through the service: the history keeps who asked", function ()
	history.opened(invite("a"));
	history.closed(invite("a"), "revoked", "invites-api/K1");
	local found, state = history.lookup("a", false);
	is(state, "revoked", "state");
	is(found.revoked_by, "invites-api/K1", "revoked_by");
	is(found.additional_data.source, "invites-api/K1", "the rest kept");
end);

test("revoked by an admin: the admin's JID, and the changes it had stay", function ()
	history.opened(invite("b"));
	history.changed(invite("b"), { at = 1, by = "invites.example.org", what = "note" });
	history.closed(invite("b"), "revoked", "root@example.org");
	local found = history.lookup("b", false);
	is(found.revoked_by, "root@example.org", "revoked_by");
	is(#found.changes, 1, "changes");
end);

test("revoked, made before the history existed: its item names who revoked it", function ()
	history.closed(invite("c"), "revoked", "invites-api/alice@example.org");
	is(kept.c.with, "revoked", "state");
	is(history.lookup("c", false).revoked_by, "invites-api/alice@example.org", "revoked_by");
end);

test("used up: revoked by nobody", function ()
	history.opened(invite("d"));
	history.closed(invite("d"), "used");
	local found, state = history.lookup("d", false);
	is(state, "used", "state");
	is(found.revoked_by, nil, "revoked_by");
end);

harness.done("history.lib.lua");
