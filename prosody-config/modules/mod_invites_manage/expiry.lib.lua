-- An `expired` event in the feed for every invite made through invites_manage_jids (the service)
-- that expired before it was used up or revoked: exactly one per invite, across restarts.
--
-- The history (history.lib.lua) already is the expiry index: each invite not yet used up nor
-- revoked is an item "open" whose `when` is its expiry. Every `sweep_every` seconds the items whose
-- expiry lies between the last sweep's end and now are read (one indexed range query, then pages
-- of `batch`), each gets its event under the key "expired-TOKEN" (history.event writes a key
-- once), and the sweep's end is stored. A restart between the events and that store sweeps the
-- same range again and writes nothing twice. A sweep that wrote events nudges the service once
-- (registration.lib.lua's nudge), so that it reads them now, not at its next pass. The first sweep
-- ever (a second after the first start of this version) starts at its own time: invites that
-- expired before get no event.

local sweep_store = module:open_store("invites_manage_expiry");
local batch = 200;

-- `needs`: history, policy, sweep_every (seconds), nudge (tells the service to read the feed).
return function (needs)
	local expiry = {};
	local history, policy = needs.history, needs.policy;
	local sweeping = false;

	local function event_of(token, invite)
		local data = invite.additional_data or {};
		return { kind = "expired", token = token, expires = invite.expires, created_by = data.created_by,
			source = data.source, ref = data.ref, groups = data.groups };
	end

	-- Sweeps the invites that expired since the last sweep; answers when to sweep again.
	function expiry.sweep()
		if sweeping then return needs.sweep_every; end
		sweeping = true;
		local now = os.time();
		local last = sweep_store:get("swept");
		local from = type(last) == "table" and tonumber(last.to);
		local written = 0;
		if from then
			local started = os.clock();
			local ok, err = history.expired_between(from + 1, now, batch, function (token, invite)
				if policy.made_by_service(invite.additional_data) then
					history.event(event_of(token, invite), nil, "expired-"..token);
					written = written + 1;
				end
			end);
			if not ok then
				module:log("warn", "Could not sweep expired invites: %s", err);
				sweeping = false;
				if written > 0 then needs.nudge(); end
				return needs.sweep_every;
			end
			if written > 0 then
				module:log("info", "Expired invites: %d events in %.3f s of CPU", written, os.clock() - started);
			end
		end
		if not sweep_store:set("swept", { to = now }) then module:log("warn", "Could not record the expiry sweep"); end
		sweeping = false;
		-- Once per sweep, not per event: the service reads them all in one pass.
		if written > 0 then needs.nudge(); end
		return needs.sweep_every;
	end

	return expiry;
end
