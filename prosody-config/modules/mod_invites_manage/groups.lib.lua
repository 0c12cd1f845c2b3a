-- Why the module keeps groups of its own rather than Prosody's mod_groups_internal and
-- mod_invites_groups: neither Prosody 0.12 nor 13 ships them (only mod_groups, whose groups are a
-- file the admin edits), so they would be community modules to install beside every Prosody the
-- module runs on; and they promise less than this does: a member deleted by 0.12's `prosodyctl
-- deluser`, in a process of its own, would stay in the group and in its members' rosters, and a
-- newcomer registering the freed name would inherit them. Moving would also change the stores the
-- groups are kept in. So groups stay here, a library of the module, loaded with module:require.
--
-- The module's groups: a group invite puts each account it registers in its groups, and everyone
-- in a group gets everyone else in their roster; a deleted account leaves its groups and every
-- roster this put it in, so that a newcomer who registers the freed name inherits nothing.
--
-- Deletion is learnt of two ways. In the server (Prosody 13's prosodyctl, shell and admin
-- command; 0.12's admin command) user-deleted fires here. 0.12's `prosodyctl deluser` runs in a
-- process of its own, where none of this runs: it purges the account's stores there, memberships
-- among them, so a listed member without its memberships record is a deleted account. That is
-- checked at each registration, at each group join, at the login of a name whose roster the
-- server holds in its cache, and every hour.
--
-- Rosters are changed through rostermanager, as the running server holds them: an online user's
-- in its session, an offline user's in the host's roster cache (0.12 and 13 keep one, filled by
-- load_roster, which nothing clears when an account is deleted), both saved to storage.

local rostermanager = require "core.rostermanager";
local usermanager = require "core.usermanager";

local group_members = module:open_store("invites_manage_groups"); -- group id -> { username = true }
-- Per account, the groups it joined: { group id = true }. Purged with the account, by whichever
-- process deletes it.
local memberships = module:open_store("invites_manage_memberships");
local state = module:open_store("invites_manage_state");

-- How often listed members are checked for accounts deleted out of the server's sight.
local check_interval = 3600;

return function (declared) -- invites_manage_groups: id = display name
	local groups = {};

	-- Whether `username` is recorded as a member of the group: nil (and an error) when the record
	-- could not be read, which must not pass for a deleted account.
	local function is_member(username, group_id)
		local mine, err = memberships:get(username);
		if mine == nil and err then return nil, err; end
		return type(mine) == "table" and mine[group_id] == true;
	end

	-- COMPAT: members recorded before memberships existed get their record once, if their account is
	-- still there; without it every one of them would pass for a deleted account.
	local adopted = false;
	-- Writes nothing while no group has a member: a fresh host's storage is not touched at startup,
	-- when an admin's prosodyctl (another process, on SQLite with no busy timeout) may be writing.
	local function adopt_earlier_members()
		if adopted or next(declared) == nil then return; end
		if state:get("memberships") then adopted = true; return; end
		local any = false;
		for group_id in pairs(declared) do
			for member in pairs(group_members:get(group_id) or {}) do
				any = true;
				if usermanager.user_exists(member, module.host) then
					local mine = memberships:get(member) or {};
					mine[group_id] = true;
					memberships:set(member, mine);
				end
			end
		end
		if any then adopted = state:set("memberships", { adopted = os.time() }) and true or false; end
	end

	-- The roster the host's cache holds for an offline account, if any.
	local function cached_roster(username)
		local cache = prosody.hosts[module.host].roster_cache;
		return cache and cache:get(username.."@"..module.host);
	end

	-- A deleted account's roster may stay in the host's roster cache, where a newcomer of the same
	-- name would find it at login: it is dropped, so that the next load reads storage.
	local function forget_cached_roster(username)
		local cache = prosody.hosts[module.host].roster_cache;
		if cache then cache:set(username.."@"..module.host, nil); end
	end

	-- Puts `contact` into `username`'s roster with a mutual subscription, in the given roster group.
	local function add_contact(username, contact, group_name)
		local contact_jid = contact.."@"..module.host;
		local roster = rostermanager.load_roster(username, module.host);
		local item = roster[contact_jid] or {};
		item.subscription, item.ask = "both", nil;
		item.groups = item.groups or {};
		item.groups[group_name] = true;
		roster[contact_jid] = item;
		if rostermanager.save_roster(username, module.host, roster, contact_jid) then
			rostermanager.roster_push(username, module.host, contact_jid);
		else
			module:log("warn", "Could not add %s to the roster of %s", contact_jid, username);
		end
	end

	-- Takes a deleted account out of `username`'s roster, whatever groups its item had: the JID
	-- now names nobody, or a newcomer, who must not pass for the contact it was.
	local function remove_contact(username, contact)
		local contact_jid = contact.."@"..module.host;
		local roster = rostermanager.load_roster(username, module.host);
		local pending = roster[false] and roster[false].pending;
		if roster[contact_jid] == nil and not (pending and pending[contact_jid]) then return; end
		roster[contact_jid] = nil;
		if pending then pending[contact_jid] = nil; end
		if rostermanager.save_roster(username, module.host, roster, contact_jid) then
			rostermanager.roster_push(username, module.host, contact_jid);
		else
			module:log("warn", "Could not remove %s from the roster of %s", contact_jid, username);
		end
	end

	-- A deleted account leaves every group that lists it, and the rosters of their members.
	function groups.depart(username)
		for group_id in pairs(declared) do
			local members = group_members:get(group_id);
			if members and members[username] then
				members[username] = nil;
				for member in pairs(members) do
					if is_member(member, group_id) then remove_contact(member, username); end
				end
				if group_members:set(group_id, members) then
					module:log("info", "%s@%s was deleted: out of group %s and its members' rosters", username, module.host, group_id);
				else
					module:log("error", "Could not remove %s from group %s", username, group_id);
				end
			end
		end
		forget_cached_roster(username);
	end

	-- Whether `username` is listed in a group without being its member any more: the account was
	-- deleted where no hook of ours ran (its name perhaps registered again since).
	local function deleted_unseen(username)
		adopt_earlier_members();
		for group_id in pairs(declared) do
			local members = group_members:get(group_id);
			if members and members[username] and is_member(username, group_id) == false then return true; end
		end
		return false;
	end

	-- Every listed member deleted out of sight leaves.
	function groups.check_all()
		adopt_earlier_members();
		local gone = {};
		for group_id in pairs(declared) do
			for member in pairs(group_members:get(group_id) or {}) do
				if is_member(member, group_id) == false then gone[member] = true; end
			end
		end
		for username in pairs(gone) do groups.depart(username); end
	end

	-- An account just registered: whatever a deleted account of that name left must not be its.
	-- Runs before anything else puts a contact into its roster (a contact invite, a group join).
	function groups.registered(username)
		if deleted_unseen(username) then groups.depart(username); end
		forget_cached_roster(username);
	end

	-- A login whose roster the host holds in its cache, not yet in a session: a deleted member's
	-- name registered again outside the server (prosodyctl) would otherwise get the old roster.
	function groups.logging_in(username)
		if cached_roster(username) and deleted_unseen(username) then groups.depart(username); end
	end

	-- Puts a newly registered account into the groups (ids), and everyone there into each other's roster.
	function groups.join(username, group_ids)
		adopt_earlier_members();
		-- From the first member on, every member is recorded with memberships: nothing left to adopt.
		if not adopted and next(declared) ~= nil then
			adopted = state:set("memberships", { adopted = os.time() }) and true or false;
		end
		local mine = memberships:get(username) or {};
		for _, group_id in ipairs(group_ids) do
			local group_name = declared[group_id];
			if group_name then
				for member in pairs(group_members:get(group_id) or {}) do
					if member ~= username and is_member(member, group_id) == false then groups.depart(member); end
				end
				local members = group_members:get(group_id) or {};
				for member in pairs(members) do
					if member ~= username then
						add_contact(username, member, group_name);
						add_contact(member, username, group_name);
					end
				end
				members[username], mine[group_id] = true, true;
				if not (group_members:set(group_id, members) and memberships:set(username, mine)) then
					module:log("error", "Could not record %s as a member of group %s", username, group_id);
				end
			else
				module:log("warn", "Invite names group %s, which is not in invites_manage_groups", group_id);
			end
		end
	end

	-- After startup (a timer runs once the server is up), then every check_interval.
	module:add_timer(1, function ()
		groups.check_all();
		return check_interval;
	end);

	return groups;
end
