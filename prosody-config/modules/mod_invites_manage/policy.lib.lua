-- Who may use mod_invites_manage's commands, and the ceiling and visibility rules: the security
-- core of the module, on Prosody 0.12 and 13.
--
-- invites_manage_roles is the ceiling of what a JID of invites_manage_jids can ever obtain: no
-- invite giving a role above it, no reset of (nor name reserved for) an account above it, and no
-- sight of such an invite. Such a JID lists and manages only the invites made by JIDs of
-- invites_manage_jids: an admin's own invites stay the admin's. The invite page's commands are the
-- exception: given a token, they see any invite within the ceiling (landing_visible).
--
-- Pure: it requires nothing and touches no `module`, so that test/lua/policy.test.lua runs it with
-- plain Lua. What it asks of the server comes in `server`:
--   have_roles       true on Prosody 13 (roles), false on 0.12 (admins, and no roles to give)
--   grantable        invites_manage_roles, as { role name = true }
--   manage_jids      invites_manage_jids, as { bare JID = true }
--   role_of(name)    13: the account's primary role name (nil without one) and its secondary roles,
--                    as { role name = anything }; for a name with no account too
--   is_admin(name)   0.12: whether the name is an admin of the host (listed in `admins`)
--   role_known(role) 13: whether the host knows a role of that name
--   node_of(jid)     the node of a JID (util.jid.node)

return function (server)
	local policy = {};
	local grantable, manage_jids = server.grantable, server.manage_jids;

	-- Group and role lists as mod_invites keeps them; older invites may hold sets ({ name = true }).
	function policy.names(t)
		if type(t) ~= "table" then return {}; end
		if t[1] ~= nil then return t; end
		local list = {};
		for name in pairs(t) do list[#list + 1] = name; end
		table.sort(list);
		return list;
	end

	-- Whether a caller may use the commands, and whether as privileged (an admin of the host, who
	-- may give any role and sees everything). A JID of invites_manage_jids stays under the ceiling
	-- even if it is an admin too (say while moving from drop-in, with the component still in
	-- `admins`): the service never gets more.
	function policy.standing(actor, admin)
		if manage_jids[actor] then return true, false; end
		return admin, admin;
	end

	-- Whether an account (existing or not) ranks above what invites_manage_jids may hand out: on 13 a
	-- primary or secondary role outside invites_manage_roles, on 0.12 an admin of the host. A name
	-- listed in `admins` counts even before its account exists.
	function policy.above_ceiling(username)
		if not server.have_roles then return server.is_admin(username); end
		local role, secondary = server.role_of(username);
		if not (role and grantable[role]) then return true; end
		for name in pairs(secondary or {}) do
			if not grantable[name] then return true; end
		end
		return false;
	end

	-- Why an invite may not give these roles (a list, or nil for none): the error condition and its
	-- text; nil when it may. On 0.12 an invite gives no roles at all (mod_invites_register would
	-- store them unchecked).
	function policy.roles_refusal(roles, privileged)
		if not roles then return nil; end
		if not server.have_roles then return "feature-not-implemented", "roles need Prosody 13"; end
		for _, role in ipairs(roles) do
			if not server.role_known(role) then return "bad-request", "unknown role "..role; end
			if not privileged and not grantable[role] then
				return "bad-request", "role "..role.." is not in invites_manage_roles";
			end
		end
		return nil;
	end

	-- The roles an invite from a JID of invites_manage_jids may give that the host knows, sorted;
	-- none on 0.12.
	function policy.offered_roles()
		local list = {};
		if not server.have_roles then return list; end
		for role in pairs(grantable) do
			if server.role_known(role) then list[#list + 1] = role; end
		end
		table.sort(list);
		return list;
	end

	-- Whether an invite's data (or an arrival, which carries the same two fields) says it was made
	-- through a JID of invites_manage_jids (invites-api). Invites made before created_by existed are
	-- recognised by the source invites-api gave them.
	function policy.made_by_service(data)
		data = data or {};
		if data.created_by then return manage_jids[data.created_by] == true; end
		return type(data.source) == "string" and data.source:sub(1, 12) == "invites-api/";
	end

	-- Whether an invite's effect stays within invites_manage_roles: the roles it gives, the account
	-- it resets, the name it reserves (checked now: an account may have been promoted since).
	function policy.within_ceiling(invite)
		local data = invite.additional_data or {};
		for _, role in ipairs(policy.names(data.roles)) do
			if not grantable[role] then return false; end
		end
		if type(data.allow_reset) == "string" and policy.above_ceiling(data.allow_reset) then return false; end
		local reserved = invite.type == "register" and server.node_of(invite.jid);
		return not (reserved and policy.above_ceiling(reserved));
	end

	-- What the caller may see and revoke: an admin everything; a JID of invites_manage_jids only the
	-- service's invites whose effect is within the ceiling.
	function policy.visible(invite, privileged)
		return privileged or (policy.made_by_service(invite.additional_data) and policy.within_ceiling(invite));
	end

	-- What the invite page (invites-api, through a JID of invites_manage_jids) may learn of a token
	-- and do with it: any invite whose effect is within the ceiling, whoever made it, an admin's own
	-- included (invites_page sends every invite of the host to the page); an admin sees every one.
	-- An invite above the ceiling is for Prosody's own page only (mod_invites_manage puts it back).
	function policy.landing_visible(invite, privileged)
		return privileged or policy.within_ceiling(invite);
	end

	-- Whether the invite page may register (or reset) `username` through an invite now. Stricter than
	-- usable_for, whoever made the invite: here the service itself registers, so neither the invite's
	-- effect nor the name may be above the ceiling (a name listed in `admins` and not registered yet).
	function policy.redeemable_for(invite, username, privileged)
		return privileged or (policy.within_ceiling(invite) and not policy.above_ceiling(username));
	end

	-- Whether the caller may see how an account came in: an admin always; a JID of
	-- invites_manage_jids for an invite the service made, and an account under the ceiling.
	function policy.arrival_visible(arrival, username, privileged)
		return privileged or (policy.made_by_service(arrival) and not policy.above_ceiling(username));
	end

	-- The host's events of the feed that concern no invite: a JID of invites_manage_jids reads them all.
	local host_events = { paused = true, resumed = true, budget_exhausted = true };

	-- Whether a record of the feed (the redemptions command) goes to the caller: a registration or
	-- reset (no `kind`) or an expiry through an invite the service made, or a host's event; an admin
	-- reads all. A record with a `kind` only when the caller asked for kinds (`kinds`): an older
	-- invites-api would count any record as a registration.
	function policy.feed_visible(record, privileged, kinds)
		if record.kind and not kinds then return false; end
		return privileged or host_events[record.kind] == true or policy.made_by_service(record);
	end

	-- Whether an invite may register (or reset) `username` now. Checked again at use: the account
	-- may have been promoted, or the name listed in `admins`, since the invite was made. Invites
	-- the service did not make are not its to hold back.
	function policy.usable_for(invite, username)
		if not policy.made_by_service(invite.additional_data) then return true; end
		return policy.within_ceiling(invite) and not policy.above_ceiling(username);
	end

	return policy;
end
