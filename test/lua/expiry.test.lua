-- Unit tests of mod_invites_manage's expiry sweep (expiry.lib.lua), without a Prosody: plain Lua
-- asserts with a stand-in `module` and history, run by `npm run test:lua`. A sweep that wrote
-- expired events nudges the service once, however many it wrote; one that wrote none does not.

local here = arg and arg[0] and arg[0]:match("^(.*)/[^/]*$") or ".";
local library = here.."/../../prosody-config/modules/mod_invites_manage/expiry.lib.lua";

-- The module's stand-in: one keyval store in memory, log lines kept.
local stored, logged = {}, {};
_G.module = {
	open_store = function () return { get = function (_, key) return stored[key]; end,
		set = function (_, key, value) stored[key] = value; return true; end }; end,
	log = function (_, level, fmt, ...) logged[#logged + 1] = level..": "..fmt:format(...); end,
};
local new_expiry = assert(loadfile(library))();

local service = "invites.example.org";
-- Invites still open in the history, by expiry: { token, when, created_by }.
local open = {};
local events, nudges = {}, 0;
local fail_after; -- the sweep's read fails after this many invites
local history = {
	expired_between = function (start, stop, _, each)
		local seen = 0;
		for _, item in ipairs(open) do
			if item.when >= start and item.when <= stop then
				if fail_after and seen >= fail_after then return nil, "storage down"; end
				seen = seen + 1;
				each(item.token, { expires = item.when, additional_data = { created_by = item.created_by } });
			end
		end
		return true;
	end,
	event = function (record, _, key)
		events[#events + 1] = { record = record, key = key };
		return true;
	end,
};
local policy = { made_by_service = function (data) return data.created_by == service; end };
local expiry = new_expiry({ history = history, policy = policy, sweep_every = 15,
	nudge = function () nudges = nudges + 1; end });

local harness = dofile(here.."/harness.lua");
local is = harness.is;
-- Each test starts with no invites, events nor nudges.
local function test(name, fn)
	events, nudges, open, fail_after = {}, 0, {}, nil;
	harness.test(name, fn);
end

test("the first sweep ever writes nothing and nudges nothing", function ()
	stored.swept = nil;
	is(expiry.sweep(), 15, "next sweep");
	is(#events, 0, "events"); is(nudges, 0, "nudges");
	assert(stored.swept and stored.swept.to, "the sweep's end stored");
end);

test("three of the service's invites expired: three events, one nudge", function ()
	local now = os.time();
	stored.swept = { to = now - 10 };
	for i = 1, 3 do open[i] = { token = "t"..i, when = now - 5, created_by = service }; end
	-- Someone else's invite: no event, and alone it would nudge nothing.
	open[4] = { token = "admin", when = now - 5, created_by = "root@example.org" };
	expiry.sweep();
	is(#events, 3, "events"); is(nudges, 1, "nudges");
	is(events[1].key, "expired-t1", "key");
end);

test("only others' invites expired, or none: no nudge", function ()
	local now = os.time();
	stored.swept = { to = now - 10 };
	open[1] = { token = "admin", when = now - 5, created_by = "root@example.org" };
	expiry.sweep();
	is(#events, 0, "events"); is(nudges, 0, "nudges");
	expiry.sweep();
	is(nudges, 0, "nudges of an empty sweep");
end);

test("a sweep that fails after writing some still nudges, once; its range is swept again", function ()
	local now = os.time();
	stored.swept = { to = now - 10 };
	for i = 1, 3 do open[i] = { token = "t"..i, when = now - 5, created_by = service }; end
	fail_after = 2;
	expiry.sweep();
	is(#events, 2, "events"); is(nudges, 1, "nudges");
	is(stored.swept.to, now - 10, "the sweep's end not moved");
end);

harness.done("expiry.lib.lua");
