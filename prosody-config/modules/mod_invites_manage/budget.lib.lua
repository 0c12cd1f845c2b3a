-- The host's registration budget and pause (issue 30), enforced where every registration on the
-- host passes: user-registering, which in-band registration (mod_register_ibr, through an invite or
-- open), web registration (mod_invites_register_web) and the invite page's redeem command
-- (landing.lib.lua) all fire before an account exists.
--
-- A budget is at most `count` registrations per `window` seconds, in fixed windows aligned to
-- multiples of the window since the Unix epoch: "50 a day" (86400) starts again at 00:00 UTC. While
-- paused, no registration is admitted. Both are kept in Prosody's storage, and so is the count of
-- the current window: a restart, the service's instances and an admin's client see the same.
--
-- A place is taken at user-registering, after every other handler had its say (so a registration
-- refused for any other reason takes none), and counted at user-registered, as registration.lib.lua
-- does for an invite's use cap: overlapping registrations (a backend that yields) each see the
-- places the others hold. A registration that then fails (the account not created) gives its place
-- back after a minute. A password reset through an invite is no registration: it is never refused
-- nor counted here. Without a budget nothing is counted.

local usermanager = require "core.usermanager";
local datetime = require "util.datetime";

local store = module:open_store("invites_manage_budget");
-- Why a registration is refused: the invite page and in-band clients show these texts.
local paused_reason = "registrations are paused";
local used_up_reason = "the registration budget is used up until ";
-- How long a place taken by a registration that never completes is held.
local hold_seconds = 60;

-- `needs`: history (history.lib.lua, for the feed's events).
return function (needs)
	local budget = {};
	local history = needs.history;
	local one_at_a_time = module:require "serial"();
	-- Registrations under way, by username: { start = window start }. In memory: a restart ends every
	-- registration under way.
	local under_way = {};

	-- The settings and the current window's count, as stored, read once and then kept here: this
	-- process alone writes them, and every check reads them without waiting on storage, so that
	-- nothing can slip between a registration's check and the place it takes (the invite page's
	-- redeem runs outside any async runner and never waits; an in-band registration may).
	local kept = {};
	local function load(key, default)
		if kept[key] == nil then
			local value = store:get(key);
			-- Another registration may have loaded (and changed) it while this read waited.
			if kept[key] == nil then kept[key] = type(value) == "table" and value or default; end
		end
		return kept[key];
	end
	local function settings() return load("settings", {}); end
	local function window_record() return load("window", { start = 0, used = 0 }); end

	-- Writes what is kept now, one write at a time: a later write never lands before an earlier one.
	local function save(key)
		return one_at_a_time("budget-"..key, function () return store:set(key, kept[key]); end);
	end

	local function window_start(now, window) return now - now % window; end

	-- The state as the budget command answers it: { count, window, paused, used, resets_at, by, at }.
	function budget.state(now)
		local s, state = settings(), {};
		now = now or os.time();
		state.paused, state.by, state.at, state.actor = s.paused == true, s.by, s.at, s.actor;
		if s.count then
			local start = window_start(now, s.window);
			local counted = window_record();
			state.count, state.window = s.count, s.window;
			state.used = counted.start == start and counted.used or 0;
			state.resets_at = start + s.window;
		else
			state.used = 0;
		end
		return state;
	end

	function budget.paused() return settings().paused == true; end

	-- Whether the registration in the event is a password reset (never counted nor refused here).
	local function is_reset(event)
		if event.allow_reset then return true; end
		local invite = event.validated_invite or (event.session and event.session.validated_invite);
		local data = invite and invite.additional_data;
		return type(data) == "table" and data.allow_reset ~= nil;
	end

	local function held_in(start, username)
		local held = 0;
		for name, place in pairs(under_way) do
			if place.start == start and name ~= username then held = held + 1; end
		end
		return held;
	end

	-- The refusal of a registration now, or nil after taking its place.
	local function take_place(username)
		local s = settings();
		if s.paused then return paused_reason; end
		if not s.count then return nil; end
		-- A taken name cannot become an account (it fails after this hook): it takes no place.
		if usermanager.user_exists(username, module.host) then return nil; end
		local now = os.time();
		local start = window_start(now, s.window);
		local counted = window_record();
		local used = counted.start == start and counted.used or 0;
		if used + held_in(start, username) >= s.count then
			return used_up_reason..datetime.datetime(start + s.window);
		end
		local place = { start = start };
		under_way[username] = place;
		module:add_timer(hold_seconds, function ()
			if under_way[username] == place then under_way[username] = nil; end
		end);
		return nil;
	end

	-- user-registering, after every other handler (a refused registration takes no place).
	function budget.registering(event)
		if event.allowed == false or is_reset(event) then return; end
		local refusal = take_place(event.username);
		if refusal then
			event.allowed, event.reason = false, refusal;
			-- What mod_register_ibr answers an in-band client (its COMPAT path), and redeem too.
			event.error_type, event.error_condition = "wait", "policy-violation";
		else
			event.invites_manage_budget = under_way[event.username];
		end
	end

	-- Whether a refusal's text is this file's (the invite page's redeem answers these apart).
	function budget.refusal(reason)
		return type(reason) == "string" and (reason == paused_reason or reason:sub(1, #used_up_reason) == used_up_reason);
	end

	-- user-registered: the place held becomes a registration of its window. A window already over
	-- when the account was made (its successor counting already) keeps what it had.
	function budget.registered(event)
		local place = under_way[event.username];
		if not place then return; end
		under_way[event.username] = nil;
		local counted = window_record();
		if counted.start > place.start then return; end
		local used = (counted.start == place.start and counted.used or 0) + 1;
		-- Changed in place: a write still waiting on storage then writes the latest count too.
		counted.start, counted.used = place.start, used;
		local s = settings();
		-- The registration that took the last place of its window: once per window.
		if s.count and used == s.count then
			history.event({ kind = "budget_exhausted", count = s.count, window = s.window,
				resets_at = place.start + s.window }, nil, ("budget-%d"):format(place.start));
		end
		if not save("window") then
			module:log("error", "Could not store a registration's count against the budget (%s)", event.username);
		end
	end

	-- user-registering, last: a registration another handler refused after this one gives its place back.
	function budget.refused(event)
		local place = event.invites_manage_budget;
		if event.allowed == false and place and under_way[event.username] == place then under_way[event.username] = nil; end
	end

	-- Sets any of: `limit` ({ count, window }, or false to remove it), `paused`. `by` is the JID that
	-- ran the command, `actor` who it says asked (e.g. invites-api/KEY_ID). A switch of the pause is
	-- an event of the feed.
	function budget.set(change, by, actor)
		local s = {};
		for k, v in pairs(settings()) do s[k] = v; end
		local was_paused = s.paused == true;
		if change.limit then s.count, s.window = change.limit.count, change.limit.window;
		elseif change.limit == false then s.count, s.window = nil, nil; end
		if change.paused ~= nil then s.paused = change.paused or nil; end
		s.by, s.actor, s.at = by, actor, os.time();
		local previous = kept.settings;
		kept.settings = s;
		local ok, err = save("settings");
		if not ok then
			kept.settings = previous;
			return nil, err;
		end
		if change.paused ~= nil and change.paused ~= was_paused then
			history.event({ kind = change.paused and "paused" or "resumed", by = by, actor = actor }, s.at);
		end
		return budget.state();
	end

	-- Read now, outside any runner: a registration's handlers then never wait on these reads (a
	-- session closed while they waited would lose its invite before user-registered).
	settings(); window_record();

	return budget;
end
