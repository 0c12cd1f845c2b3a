-- Registrations through invites, whoever made them (mod_invites_register's hooks, the way this
-- module keeps them): an invite for a named account registers that account only; a reusable
-- invite's uses are counted and capped at its max_uses; each registration and password reset is
-- recorded (history.lib.lua), each account's arrival kept, and the components of
-- invites_manage_jids nudged to read the records; a group invite's account joins its groups.

local st = require "util.stanza";
local jid = require "util.jid";
local usermanager = require "core.usermanager";

-- Uses of each reusable invite, which mod_invites does not count: token -> { uses = n }.
local uses_store = module:open_store("invites_manage_uses");
-- How each account came in, by username: purged with the account, so a record without it is
-- that of a deleted account.
local arrivals = module:open_store("invites_manage_arrivals");
-- The most registrations one show lists (a reusable invite may have many).
local shown_redemptions = 100;
local nudge_ns = "xmpp:invites-api/mod_invites_manage#redeemed";

-- Why user-registering refuses an invite that is no longer usable: the invite page's redeem
-- command answers these as the invite being gone.
local no_longer_valid = "This invite is no longer valid";
local used_up_reason = "This invite has been used as many times as it may be";

-- `needs`: invites (mod_invites), history, groups, policy, people, manage_jids (the set), unique (forms).
return function (needs)
	local registration = { invite_gone_reasons = { [no_longer_valid] = true, [used_up_reason] = true } };
	local invites, history, groups, policy = needs.invites, needs.history, needs.groups, needs.policy;

	-- The count of each reusable invite's uses, by token, as stored: read once, then kept here (this
	-- process alone writes it), so that every check and every count after that is one step that
	-- never waits on storage. Otherwise the invite page's redeem (outside any async runner, it never
	-- waits) could slip in while an in-band registration waits between reading the count and taking
	-- its place, or between reading it and writing it back plus one, as budget.lib.lua's window.
	-- One small record per reusable invite asked about, for the process's life.
	local counts = {};
	local function count_of(token)
		local record = counts[token];
		if record == nil then
			local stored = uses_store:get(token);
			-- Another registration may have read (and counted) it while this read waited.
			record = counts[token];
			if record == nil then
				record = { uses = type(stored) == "table" and tonumber(stored.uses) or 0 };
				counts[token] = record;
			end
		end
		return record;
	end

	function registration.uses_of(token) return count_of(token).uses; end
	local uses_of = registration.uses_of;

	-- A reusable invite that reached its max_uses: mod_invites keeps it until it expires, but it is
	-- used, not pending.
	function registration.used_up(token, invite)
		local max_uses = invite.reusable and (invite.additional_data or {}).max_uses;
		return max_uses ~= nil and uses_of(token) >= max_uses;
	end

	-- Tells each connected component of invites_manage_jids that a registration (or, from the expiry
	-- sweep, an expiry) was recorded, so that it reads the records now rather than at its next poll.
	-- The records are the truth: a component that is down reads them when it is back.
	local function nudge()
		for manage_jid in needs.manage_jids do
			local host = prosody.hosts[manage_jid];
			local component = host and host.modules and host.modules.component;
			if component and component.connected then
				module:send(st.message({ from = module.host, to = manage_jid, type = "headline" })
					:tag("redeemed", { xmlns = nudge_ns }));
			end
		end
	end

	registration.nudge = nudge;

	local function record_redemption(invite, username, reset)
		history.prune_due();
		local data, now = invite.additional_data or {}, os.time();
		history.redeemed(invite, username, reset, now);
		-- A reset is no arrival: the account came in earlier, through whatever it came in by.
		if not reset then
			arrivals:set(username, { token = invite.token, at = now, source = data.source, created_by = data.created_by,
				ref = data.ref });
		end
		nudge();
	end

	-- How an account came in, if it still exists and its record was kept.
	function registration.arrival(username)
		local arrival = usermanager.user_exists(username, module.host) and arrivals:get(username);
		return type(arrival) == "table" and arrival or nil;
	end

	-- Whether the account a record names is still the one that registered then (not deleted since,
	-- its name perhaps taken again by someone else).
	local function still_there(record)
		local username = jid.node(record.jid);
		if record.reset then return usermanager.user_exists(username, module.host); end
		local arrival = arrivals:get(username);
		return type(arrival) == "table" and arrival.token == record.token;
	end

	-- "TIME JID", or "TIME JID deleted", of the first registrations through an invite, oldest first.
	function registration.redemptions_of(token)
		local list = {};
		for _, entry in ipairs(history.redemptions_of(token, shown_redemptions)) do
			list[#list + 1] = ("%d %s%s"):format(entry.at, entry.record.jid, still_there(entry.record) and "" or " deleted");
		end
		return list;
	end

	-- Registrations under way through a capped invite, by token: { username = true }. A use is counted
	-- when the account exists (user-registered); a registration that never completes (a taken name, a
	-- failure) gives its place back after a minute. Held in memory because registrations overlap when
	-- an auth or storage backend waits on I/O (it yields, and Prosody serves other sessions between
	-- user-registering and user-registered); without it they would all see the cap not yet reached.
	local under_way = {};

	-- Per token, one write of the count at a time (serial.lib.lua): a later one never lands first.
	local one_at_a_time = module:require "serial"();

	local function release_use(token, username)
		local holders = under_way[token];
		if not holders then return; end
		holders[username] = nil;
		if next(holders) == nil then under_way[token] = nil; end
	end

	-- The count may wait on storage the first time only; the check and the place taken are one step.
	local function reserve_use(token, username, max_uses)
		local taken = count_of(token).uses;
		local holders = under_way[token] or {};
		for holder in pairs(holders) do
			if holder ~= username then taken = taken + 1; end
		end
		if taken >= max_uses then return false; end
		holders[username], under_way[token] = true, holders;
		module:add_timer(60, function () release_use(token, username); end);
		return true;
	end

	-- Counts a use once the account exists and gives its place back, in one step; then stores the
	-- count (the record is changed in place: a write still waiting on storage writes the latest
	-- count too). Returns the uses now.
	local function count_use(token, username)
		local record = count_of(token);
		record.uses = record.uses + 1;
		local uses = record.uses;
		release_use(token, username);
		if not one_at_a_time(token, function () return uses_store:set(token, record); end) then
			module:log("error", "Could not count a use of a reusable invite (by %s)", username);
		end
		return uses;
	end

	-- Registration through an invite, whoever made it.
	local function validated_invite(event)
		return event.validated_invite or (event.session and event.session.validated_invite);
	end

	-- A client told it is registered may close its stream while the handlers of user-registered or
	-- user-password-reset yield (a storage or auth backend waiting on I/O), and a closed session keeps
	-- nothing: the invite goes into the event before anything yields, for every handler (those of
	-- mod_invites_register too).
	local function keep_invite(event)
		event.validated_invite = validated_invite(event);
		return event.validated_invite;
	end

	-- user-registering, before mod_invites_register (which accepts any name): an invite for a named
	-- account must register that account only (neither 0.12 nor 13 checks), the ceiling holds at
	-- use, a capped invite takes no more than max_uses, and an invite whose maker's account is gone
	-- (people.lib.lua) is no longer valid.
	function registration.registering(event)
		local invite = validated_invite(event);
		if not invite then return; end
		local info = invites.get_account_invite_info(invite.token);
		if not info then
			-- The session checked the token earlier; since then it expired, was used or was revoked.
			event.allowed, event.reason = false, no_longer_valid;
			return;
		end
		-- Whoever made it left (deleted, or disabled on 13): nobody vouches for the newcomer any more.
		if needs.people.maker_gone(info) then
			event.allowed, event.reason = false, no_longer_valid;
			return;
		end
		-- Contact invites name the inviter's JID, not the new account's.
		local reserved = info.type == "register" and jid.node(info.jid);
		if reserved and reserved ~= event.username then
			event.allowed, event.reason = false, "This invite is for the account "..reserved.." only";
			return;
		end
		-- A reset registers under the reset account's own name.
		if not policy.usable_for(info, event.username) then
			event.allowed, event.reason = false, "This invite cannot be used for the account "..event.username;
			return;
		end
		-- A taken name cannot become an account (it fails after this hook): it takes no place.
		local max_uses = info.reusable and (info.additional_data or {}).max_uses;
		if max_uses and usermanager.user_exists(event.username, module.host) then return; end
		if max_uses and not reserve_use(invite.token, event.username, max_uses) then
			event.allowed, event.reason = false, used_up_reason;
			return;
		end
		if max_uses then event.invites_manage_use = invite.token; end
	end

	-- user-registering, after every other handler: a registration another handler refused (the
	-- host's budget, say) gives back the place it took at once, not after a minute.
	function registration.refused(event)
		if event.allowed == false and event.invites_manage_use then
			release_use(event.invites_manage_use, event.username);
			event.invites_manage_use = nil;
		end
	end

	-- user-registered, before any other handler: the invite is kept in the event; a deleted account
	-- of that name leaves its groups and the cached roster before anything puts a contact into the
	-- new account's roster; then, for an account an invite let in, a use of a reusable invite is
	-- counted, the registration recorded, and the account put into the invite's groups.
	function registration.registered(event)
		local invite = keep_invite(event);
		groups.registered(event.username);
		if not invite then return; end
		local finished = true;
		if invite.reusable then
			local uses = count_use(invite.token, event.username);
			local max_uses = (invite.additional_data or {}).max_uses;
			finished = max_uses ~= nil and uses >= max_uses;
		end
		record_redemption(invite, event.username, false);
		if finished then history.closed(invite, "used"); end
		local group_ids = invite.additional_data and invite.additional_data.groups;
		if group_ids then groups.join(event.username, needs.unique(policy.names(group_ids))); end
	end

	-- user-password-reset, before any other handler: a password reset through an invite (in-band
	-- registration fires this, not user-registered).
	function registration.password_reset(event)
		local invite = keep_invite(event);
		if invite then
			record_redemption(invite, event.username, true);
			history.closed(invite, "used");
		end
	end

	return registration;
end
