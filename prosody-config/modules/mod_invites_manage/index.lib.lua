-- The listing index: the pending invites the list command shows, one page at a time.
--
-- Invites are listed oldest first, ties by token; a page's cursor is its last invite's
-- "created.token" (tokens are base64url, so the dot is unambiguous). The service's invites are
-- kept as { token, created_at }, in list order: read from storage on the first list after a
-- (re)load, then kept up to date by invite-created; used, revoked and expired ones leave it when a
-- page meets them. So a page costs what it shows, not the number of invites.

-- `needs`: invites (mod_invites), token_store (its invite_token map store), policy, used_up.
return function (needs)
	local index = {};
	local invites, token_store, policy, used_up = needs.invites, needs.token_store, needs.policy, needs.used_up;
	local service_index;

	local function precedes(a_time, a_token, b_time, b_token)
		return a_time < b_time or (a_time == b_time and a_token < b_token);
	end

	function index.cursor_of(p) return ("%d.%s"):format(p.invite.created_at or 0, p.token); end

	local function build_index()
		local list = {};
		for token, invite in invites.pending_account_invites() do
			if policy.made_by_service(invite.additional_data) then
				list[#list + 1] = { token = token, created_at = invite.created_at or 0 };
			end
		end
		table.sort(list, function (a, b) return precedes(a.created_at, a.token, b.created_at, b.token); end);
		return list;
	end

	-- The first position of the index after the cursor (all of it without one), by bisection.
	local function position_after(list, time, token)
		if not time then return 1; end
		local low, high = 1, #list + 1;
		while low < high do
			local middle = (low + high) // 2;
			local entry = list[middle];
			if precedes(time, token, entry.created_at, entry.token) then high = middle; else low = middle + 1; end
		end
		return low;
	end

	-- invite-created: the service's new invite takes its place, once the index is built.
	function index.created(invite)
		if not (service_index and policy.made_by_service(invite.additional_data)) then return; end
		local entry = { token = invite.token, created_at = invite.created_at or 0 };
		table.insert(service_index, position_after(service_index, entry.created_at, entry.token), entry);
	end

	-- Up to `max` + 1 of the service's pending invites under the ceiling, after the cursor.
	function index.service_page(time, token, max)
		service_index = service_index or build_index();
		local page, now, i = {}, os.time(), position_after(service_index, time, token);
		while i <= #service_index and #page <= max do
			local entry = service_index[i];
			local invite, err = token_store:get(nil, entry.token);
			if err then return nil, err; end
			if type(invite) ~= "table" or invite.expires <= now or used_up(entry.token, invite) then
				table.remove(service_index, i); -- used, revoked or expired: never pending again
			else
				if policy.within_ceiling(invite) then page[#page + 1] = { token = entry.token, invite = invite }; end
				i = i + 1;
			end
		end
		return page;
	end

	-- Every pending invite after the cursor, for an admin's own client: his list is not the service's.
	function index.full_page(time, token)
		local pending = {};
		for t, invite in invites.pending_account_invites() do
			if (not time or precedes(time, token, invite.created_at or 0, t)) and not used_up(t, invite) then
				pending[#pending + 1] = { token = t, invite = invite };
			end
		end
		table.sort(pending, function (a, b)
			return precedes(a.invite.created_at or 0, a.token, b.invite.created_at or 0, b.token);
		end);
		return pending;
	end

	return index;
end
