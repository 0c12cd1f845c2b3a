-- People, not keys (invites-api's issue 29): who an account is, as the service asks it when a
-- person signs in (the `person` command: whether it exists, is enabled, and its role, nothing
-- more), and whether the person who made an invite is still there: an invite made by an account
-- since deleted (or, on 13, disabled) registers no one.
--
-- Pure: it requires nothing and touches no `module`, so that test/lua/people.test.lua runs it with
-- plain Lua. What it asks of the server comes in `server`:
--   host              module.host
--   have_roles        true on Prosody 13 (roles), false on 0.12 (admins)
--   split(jid)        util.jid.prepped_split: node, host, resource; nil for a JID that does not prep
--   user_exists(name) whether the account exists
--   is_enabled(name)  13: usermanager.user_is_enabled (true, false, or nil and an error); nil on 0.12
--   role_of(name)     13: the name of the account's primary role
--   is_admin(name)    0.12: whether the account is an admin of the host

-- What invites-api puts before the id of whoever made an invite (a key's id, or a person's JID).
local service_prefix = "invites-api/";

return function (server)
	local people = {};

	-- The username a bare JID of this host names; nil for anything else: another host, a full JID,
	-- a JID without a node, one that does not prep.
	function people.username_of(bare)
		if type(bare) ~= "string" then return nil; end
		local node, host, resource = server.split(bare);
		if not node or node == "" or host ~= server.host or resource then return nil; end
		return node;
	end

	-- The role as the service reads it: 13's primary role; on 0.12, admin or registered.
	local function role_of(username)
		if not server.have_roles then
			return server.is_admin(username) and "prosody:admin" or "prosody:registered";
		end
		return server.role_of(username);
	end

	-- What the person command answers of an account: { exists, enabled, role } (no role for an
	-- account that does not exist); nil and the error when the server could not say whether it is
	-- enabled.
	function people.facts(username)
		if not server.user_exists(username) then return { exists = false, enabled = false }; end
		local enabled = true;
		if server.is_enabled then
			local err;
			enabled, err = server.is_enabled(username);
			if enabled == nil then return nil, err or "unknown error"; end
		end
		-- 13's fallback may answer the account's info without `enabled`: no flag, not disabled.
		return { exists = true, enabled = enabled ~= false, role = role_of(username) };
	end

	-- The username of the person of this host who made an invite (as mod_invites stores it, or as
	-- mod_invites.get() validates it), or nil when no person did: invites-api's source for a person
	-- (`invites-api/USER@HOST`; a key's id never holds "@"), or Prosody's own inviter (a user's
	-- contact invite, which registers an account when allow_user_invites lets it).
	function people.maker_of(invite)
		local data = invite.additional_data or {};
		local source = data.source;
		if type(source) == "string" and source:sub(1, #service_prefix) == service_prefix
			and source:find("@", #service_prefix + 1, true) then
			return people.username_of(source:sub(#service_prefix + 1));
		end
		if type(invite.inviter) == "string" and invite.inviter ~= "" then
			return invite.inviter:find("@", 1, true) and people.username_of(invite.inviter) or invite.inviter;
		end
		if invite.type == "roster" and type(invite.jid) == "string" then return people.username_of(invite.jid); end
		return nil;
	end

	-- Whether the person who made an invite is gone: the account no longer exists, or is disabled
	-- (13). An account the server cannot tell about counts as gone: the invite waits for it.
	function people.maker_gone(invite)
		local username = people.maker_of(invite);
		if not username then return false; end
		local facts = people.facts(username);
		return not (facts and facts.exists and facts.enabled);
	end

	return people;
end
