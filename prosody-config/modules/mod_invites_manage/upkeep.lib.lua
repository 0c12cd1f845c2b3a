-- A pending invite's upkeep (issue 30): a new expiry (a lifetime from now), use cap or note, in
-- mod_invites' own store, keeping the token and so the link and its page. The history keeps the
-- invite as it is now, its expiry (its `when`, what the expiry sweep reads) and the change: when,
-- by which JID, for whom (`actor`), what. The listing index holds tokens and creation times only,
-- which do not change.

-- `needs`: invites (mod_invites), token_store (its store), history, registration, refuse (forms).
return function (needs)
	local upkeep = {};
	local token_store, history, registration, refuse = needs.token_store, needs.history, needs.registration, needs.refuse;

	local function bad_request(text) return refuse("modify", "bad-request", text); end

	-- What a change did, as words: "expires=T", "max_uses=N" or "max_uses=none", "note" or "no-note".
	local function described(request, invite)
		local parts = {};
		if request.ttl then parts[#parts + 1] = ("expires=%d"):format(invite.expires); end
		if request.max_uses or request.remove.max_uses then parts[#parts + 1] = "max_uses="..(request.max_uses or "none"); end
		if request.note or request.remove.note then parts[#parts + 1] = request.note and "note" or "no-note"; end
		return table.concat(parts, " ");
	end

	-- Applies the request to `invite` (pending, the caller's to see); the invite as it is now, or nil
	-- and the refusal.
	function upkeep.update(token, invite, request, by)
		local remove = request.remove;
		if not (request.ttl or request.max_uses or request.note or remove.max_uses or remove.note) then
			return nil, bad_request("nothing to change: give ttl, max_uses or note");
		end
		local data = invite.additional_data or {};
		if request.max_uses or remove.max_uses then
			if not invite.reusable then return nil, bad_request("max_uses is for reusable invites only"); end
			local uses = registration.uses_of(token);
			if request.max_uses and request.max_uses <= uses then
				return nil, bad_request(("max_uses must be above the %d uses it has"):format(uses));
			end
			data.max_uses = request.max_uses;
		end
		if request.note or remove.note then data.note = request.note; end
		if request.ttl then invite.expires = os.time() + request.ttl; end
		invite.additional_data, invite.token = data, token;
		local ok, err = token_store:set(nil, token, invite);
		if not ok then
			module:log("error", "Could not change an invite: %s", err);
			return nil, refuse("wait", "internal-server-error", "could not change the invite");
		end
		-- A contact invite's expiry is also kept under its user (mod_invites' roster side).
		if request.ttl and invite.type == "roster" then
			token_store:set((invite.jid or ""):match("^([^@]+)@"), token, invite.expires);
		end
		history.changed(invite, { at = os.time(), by = by, actor = request.actor, what = described(request, invite) });
		return invite;
	end

	return upkeep;
end
