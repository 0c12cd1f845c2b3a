-- mod_invites_manage: make and manage invites (XEP-0401: Easy User Onboarding) through ad-hoc
-- commands (XEP-0050), with their input and results as data forms (XEP-0004).
--
-- Written for invites-api, which reaches Prosody as a component. Least privilege: the JIDs listed
-- in invites_manage_jids (and the host's admins) may use these commands and nothing more, so the
-- component does not need to be a Prosody admin, which would give it every admin command.
--
-- It also makes two promises of an invite hold when it is used, for every invite on the host:
-- an invite for a named account registers that account only, and an invite naming groups puts
-- the new account into their members' rosters (and theirs into its roster); a deleted account
-- leaves its groups and those rosters.
--
-- invites_manage_roles is the ceiling of what a JID of invites_manage_jids can ever obtain
-- (policy.lib.lua). Works unchanged on Prosody 0.12 and 13.
--
-- Split as Prosody splits its own invite feature: this file holds the options, the commands and
-- the hooks' wiring; beside it, policy.lib.lua (access, ceiling and visibility, with Lua unit
-- tests), forms.lib.lua (forms read and rendered), index.lib.lua (the listing index),
-- registration.lib.lua (use caps, registration records, the nudge: mod_invites_register's hooks),
-- history.lib.lua (what became of each invite), groups.lib.lua (groups and their rosters),
-- landing.lib.lua (the invite page's side of an invite: what it shows, the registration),
-- budget.lib.lua (the host's registration budget and pause), upkeep.lib.lua (changing a pending
-- invite), expiry.lib.lua (an event for each of the service's invites that expires), serial.lib.lua
-- (one count at a time), check.lib.lua (what `invites-api check` learns of the host) and
-- people.lib.lua (who an account is, and whether an invite's maker is still there).

local st = require "util.stanza";
local jid = require "util.jid";
local usermanager = require "core.usermanager";
local adhoc_new = module:require "adhoc".new;

-- Bare JIDs that may use these commands besides the host's admins, e.g. the invites-api component.
local manage_jids = module:get_option_set("invites_manage_jids", {});
-- The longest lifetime, in seconds, that an invite made here may be given.
local max_ttl = module:get_option_number("invites_manage_max_ttl", 86400 * 30);
-- The roles (Prosody 13) an invite from a JID of invites_manage_jids may give; the host's admins may
-- give any. Never admin by default: that would hand the component's holder an admin account.
local grantable_roles = module:get_option_set("invites_manage_roles",
	{ "prosody:guest", "prosody:registered", "prosody:member" });
-- The groups an invite may name, as id = display name; the name becomes the roster group.
local manage_groups = module:get_option("invites_manage_groups", {});
-- mod_invites' own option: an invite's lifetime when none is asked for (13 also takes "1 week").
local default_ttl = module.get_option_period and module:get_option_period("invite_expiry", 86400 * 7)
	or module:get_option_number("invite_expiry", 86400 * 7);

-- How often, in seconds, invites that expired are looked for, each to become one `expired` event of
-- the feed (expiry.lib.lua): an event comes at most this long (plus the sweep's own time) after.
local expiry_sweep = module:get_option_number("invites_manage_expiry_sweep", 15);

if type(manage_groups) ~= "table" then
	module:log("error", "invites_manage_groups must be a table of group id = display name; ignoring it");
	manage_groups = {};
end

module:depends("adhoc");
local invites = module:depends("invites");

local node_prefix = "xmpp:invites-api/mod_invites_manage#";
-- A password reset's lifetime when none is asked for: a reset link is for now, not for a week.
local default_reset_ttl = 86400;
-- A page of the list command: a stanza never carries every invite.
local default_page = 50;
-- Roles are Prosody 13's (0.12 has role sets that mod_invites_register would store unchecked).
local have_roles = usermanager.get_role_by_name ~= nil;

-- Prosody 13 deprecates is_admin() and logs a traceback on every call: ask its roles there instead.
local is_admin;
if module.may then
	module:default_permission("prosody:admin", ":manage");
	function is_admin(actor) return module:may(":manage", actor); end
else
	function is_admin(actor) return usermanager.is_admin(actor, module.host); end
end

local function lookup(items)
	local t = {};
	for item in items do t[item] = true; end
	return t;
end

local policy = module:require "policy"({
	have_roles = have_roles, grantable = lookup(grantable_roles), manage_jids = lookup(manage_jids),
	node_of = jid.node;
	role_of = function (username)
		local role = usermanager.get_user_role(username, module.host);
		return role and role.name, usermanager.get_user_secondary_roles(username, module.host);
	end;
	is_admin = function (username) return usermanager.is_admin(username.."@"..module.host, module.host); end;
	role_known = function (role)
		-- pcall: 13's mod_authz_internal raises an error for an unknown name instead of returning nil.
		local ok, known = pcall(usermanager.get_role_by_name, role, module.host);
		return ok and known ~= nil;
	end;
});
local above_ceiling, visible = policy.above_ceiling, policy.visible;
local people = module:require "people"({
	host = module.host, have_roles = have_roles, split = jid.prepped_split,
	user_exists = function (username) return usermanager.user_exists(username, module.host); end;
	-- COMPAT: 0.12 has no disabled accounts.
	is_enabled = usermanager.user_is_enabled and function (username)
		return usermanager.user_is_enabled(username, module.host);
	end or nil;
	role_of = function (username)
		local role = usermanager.get_user_role(username, module.host);
		return role and role.name or nil;
	end;
	is_admin = function (username) return usermanager.is_admin(username.."@"..module.host, module.host); end;
});
local history = module:require "history";
local groups = module:require "groups"(manage_groups);
local check = module:require "check";
-- Breaks the cycle: registration needs forms.unique, forms needs registration.uses_of.
local forms;
local registration = module:require "registration"({ invites = invites, history = history, groups = groups,
	policy = policy, people = people, manage_jids = manage_jids, unique = function (list) return forms.unique(list); end });
forms = module:require "forms"({ max_ttl = max_ttl, manage_groups = manage_groups, have_roles = have_roles,
	policy = policy, uses_of = registration.uses_of });
local token_store = module:open_store("invite_token", "map");
local index = module:require "index"({ invites = invites, token_store = token_store, policy = policy,
	used_up = registration.used_up });
local refuse, bad_request, invite_result = forms.refuse, forms.bad_request, forms.invite_result;
local budget = module:require "budget"({ history = history });
local landing = module:require "landing"({ invites = invites, token_store = token_store, history = history,
	policy = policy, registration = registration, manage_groups = manage_groups, refuse = refuse, budget = budget,
	people = people });
local upkeep = module:require "upkeep"({ token_store = token_store, history = history, registration = registration,
	refuse = refuse });
local expiry = module:require "expiry"({ history = history, policy = policy, sweep_every = expiry_sweep,
	nudge = registration.nudge });
local used_up = registration.used_up;

local function created(invite)
	if not invite then return refuse("wait", "internal-server-error", "could not create the invite"); end
	return invite_result(invite.token, invite);
end

-- Registers a command: checks the caller, answers cancel and a missing form, then hands the
-- checked request to `run(request, actor, privileged)`. A command without `blank` form takes no input.
-- `read` reads the form (forms.read_request unless given).
local function command(name, node, blank, run, read)
	read = read or forms.read_request;
	local function handler(_, data)
		local actor = jid.bare(data.from);
		local allowed, privileged = policy.standing(actor, is_admin(data.from));
		if not allowed then
			module:log("warn", "Refused %s to %s: neither in invites_manage_jids nor an admin", node, actor);
			return refuse("auth", "forbidden", "not allowed to manage invites on "..module.host);
		end
		if data.action == "cancel" or (data.form and data.form.attr.type == "cancel") then
			return { status = "canceled" };
		end
		if not data.form and blank then
			return { status = "executing", actions = { "complete" }, form = blank };
		end
		local request, err = read(data.form or st.stanza("x"), privileged);
		if not request then return err; end
		return run(request, actor, privileged);
	end
	module:provides("adhoc", adhoc_new(name, node_prefix..node, handler, "any"));
end

local function above_ceiling_refusal(username)
	return refuse("cancel", "not-allowed",
		"the account "..username.." is above invites_manage_roles: only an admin may do this");
end

command("Create an account invite", "create-account", forms.blank.account, function (request, actor, privileged)
	if request.username and usermanager.user_exists(request.username, module.host) then
		return refuse("cancel", "conflict", "user "..request.username.." already exists");
	end
	-- A name listed in `admins` but not registered yet must not be handed out.
	if request.username and not privileged and above_ceiling(request.username) then
		return above_ceiling_refusal(request.username);
	end
	return created(invites.create_account(request.username, forms.additional_data(request, actor), request.ttl));
end);

command("Create a group invite", "create-group", forms.blank.group, function (request, actor)
	if not request.groups then return bad_request("at least one group is required"); end
	-- Always with a ttl: mod_invites makes a group invite reusable only when given one.
	return created(invites.create_group(request.groups, forms.additional_data(request, actor), request.ttl or default_ttl));
end);

command("Create a password reset invite", "create-reset", forms.blank.reset, function (request, actor, privileged)
	local username = request.username;
	if not username then return bad_request("username is required"); end
	if not usermanager.user_exists(username, module.host) then
		return refuse("cancel", "item-not-found", "no user "..username.." on "..module.host);
	end
	-- Whoever holds a reset invite takes the account over: never one above the ceiling.
	if not privileged and above_ceiling(username) then return above_ceiling_refusal(username); end
	-- What invites.create_account_reset() does, plus the source, which it cannot record.
	local data = { allow_reset = username, source = request.source or ("adhoc/"..actor), created_by = actor,
		ref = request.ref };
	return created(invites.create_account(username, data, request.ttl or default_reset_ttl));
end);

-- What an invite made here may carry, so that a form offers only what these commands accept: the
-- groups (id and display name), the roles, the longest ttl and the default ones; and the landing
-- page of a made-up invite when mod_invites_page is loaded; and the enabled modules not loaded.
command("Invite options", "options", nil, function ()
	local form = forms.result("Invite options");
	for _, f in ipairs({ { "max-ttl", max_ttl }, { "default-ttl", default_ttl }, { "reset-ttl", default_reset_ttl } }) do
		form:tag("field", { var = f[1], type = "text-single" }):text_tag("value", ("%d"):format(math.floor(f[2]))):up();
	end
	local probe = check.invite_page_probe();
	if probe then form:tag("field", { var = "invite-page", type = "text-single" }):text_tag("value", probe):up(); end
	form:tag("field", { var = "roles", type = "text-multi", label = "Roles an invite may give" });
	for _, role in ipairs(policy.offered_roles()) do form:text_tag("value", role); end
	form:up();
	form:tag("field", { var = "modules-not-loaded", type = "text-multi", label = "Enabled modules not loaded" });
	for _, name in ipairs(check.modules_not_loaded()) do form:text_tag("value", name); end
	form:up();
	local ids = {};
	for id in pairs(manage_groups) do ids[#ids + 1] = id; end
	table.sort(ids);
	form:tag("reported")
		:tag("field", { var = "id", type = "text-single", label = "Group id" }):up()
		:tag("field", { var = "name", type = "text-single", label = "Group name" }):up()
		:up();
	for _, id in ipairs(ids) do
		form:tag("item")
			:tag("field", { var = "id" }):text_tag("value", id):up()
			:tag("field", { var = "name" }):text_tag("value", tostring(manage_groups[id])):up()
			:up();
	end
	return { status = "completed", other = form };
end);

-- The invite a token names, expired ones included (they stay stored until used or revoked), when
-- the caller may see it.
local function visible_invite(token, privileged)
	local invite = token_store:get(nil, token);
	if type(invite) ~= "table" or not visible(invite, privileged) then return nil; end
	return invite;
end

-- The invites the caller may see in one state, oldest first, one page at a time: `after` a cursor
-- the previous page gave as `next`, at most `max`. Pending ones come from mod_invites (through the
-- listing index); the others from the history (kept for invites_manage_history_days), where the
-- cursor is the last token.
command("List invites", "list", nil, function (request, _, privileged)
	local max = request.max or default_page;
	local page, err, cursor, stopped_at;
	if request.state == "pending" then
		local time, token;
		if request.after then
			time, token = request.after:match("^(%d+)%.([%w_%-]+)$");
			if not time then return bad_request("after is not a cursor this command gave"); end
			time = tonumber(time);
		end
		if privileged then page = index.full_page(time, token); else page, err = index.service_page(time, token, max); end
		cursor = index.cursor_of;
	else
		if request.after and not request.after:match("^[%w_%-]+$") then
			return bad_request("after is not a cursor this command gave");
		end
		page, err, stopped_at = history.page(request.state, request.after, max, function (invite)
			return visible(invite, privileged);
		end);
		if not page and err == "item-not-found" then
			return bad_request("after names an invite no longer in the history: start again without it");
		end
		cursor = function (p) return p.token; end
	end
	if not page then
		module:log("error", "Could not read invites: %s", err);
		return refuse("wait", "internal-server-error", "could not read the invites");
	end
	local form = forms.result("Invites");
	-- A history page may stop short, even empty, past invites the caller may not see: `next` then
	-- names the last one it examined, which an older invites-api passes on as it is.
	local next_cursor = #page > max and cursor(page[max]) or stopped_at;
	if next_cursor then
		form:tag("field", { var = "next", type = "text-single", label = "More after" }):text_tag("value", next_cursor):up();
	end
	form:tag("reported");
	for _, f in ipairs(forms.invite_fields) do form:tag("field", { var = f.var, type = f.type, label = f.label }):up(); end
	form:up();
	for i = 1, math.min(max, #page) do
		local p = page[i];
		local closed = p.state and p.state ~= "pending" and p.at;
		forms.add_invite_fields(form:tag("item"), forms.invite_values(p.token, p.invite, p.state, closed), true):up();
	end
	return { status = "completed", other = form };
end);

local function no_invite() return refuse("cancel", "item-not-found", "no invite with this id"); end

-- A pending invite as mod_invites has it, or one the history still holds, in whatever state.
command("Show an invite", "show", forms.blank.show, function (request, _, privileged)
	if not request.id then return bad_request("id is required"); end
	local invite = invites.get_account_invite_info(request.id);
	local state, closed = "pending", nil;
	if invite and not used_up(request.id, invite) then
		if not visible_invite(request.id, privileged) then return no_invite(); end
	else
		invite, state, closed = history.lookup(request.id, false);
		if not (invite and visible(invite, privileged)) then return no_invite(); end
	end
	local result = invite_result(request.id, invite, state, closed);
	result.other:tag("field", { var = "redemptions", type = "text-multi", label = "Registered (time, account)" });
	for _, line in ipairs(registration.redemptions_of(request.id)) do result.other:text_tag("value", line); end
	result.other:up();
	result.other:tag("field", { var = "changes", type = "text-multi", label = "Changed (time, by, for, what)" });
	for _, change in ipairs(history.changes_of(request.id)) do
		result.other:text_tag("value", ("%d %s %s %s"):format(change.at, change.by, change.actor or "-", change.what));
	end
	result.other:up();
	return result;
end);

-- A pending invite's new expiry, use cap or note (upkeep.lib.lua); its token and link stay. Answers
-- the invite as show does.
command("Change a pending invite", "update", forms.blank.update, function (request, actor, privileged)
	local invite = visible_invite(request.id, privileged);
	if not invite or invite.expires <= os.time() or used_up(request.id, invite) then
		return refuse("cancel", "item-not-found", "no pending invite with this id");
	end
	local changed, refusal = upkeep.update(request.id, invite, request, actor);
	if not changed then return refusal; end
	return invite_result(request.id, changed);
end, forms.read_update);

-- `actor` (optional) says who asked, e.g. invites-api/KEY_ID; the history keeps it as revoked_by,
-- else the JID that ran the command.
command("Revoke an invite", "revoke", forms.blank.revoke, function (request, actor, privileged)
	local invite = visible_invite(request.id, privileged);
	if not invite or used_up(request.id, invite) then
		return refuse("cancel", "item-not-found", "no pending invite with this id");
	end
	if not invites.delete_account_invite(request.id) then
		return refuse("wait", "internal-server-error", "could not revoke the invite");
	end
	invite.token, invite.revoked_by = request.id, request.actor or actor;
	history.closed(invite, "revoked", invite.revoked_by);
	-- The invite as it was, so that the caller can say whose invite it revoked.
	return invite_result(request.id, invite, "revoked", os.time());
end, forms.read_revoke);

-- Which invite let an account in, when, and who made it. A JID of invites_manage_jids sees it only
-- for an invite the service made, and only for an account under the ceiling.
command("Show how an account came in", "account", forms.blank.account_lookup, function (request, _, privileged)
	local username = request.username;
	if not username then return bad_request("username is required"); end
	local arrival = registration.arrival(username);
	if not (arrival and policy.arrival_visible(arrival, username, privileged)) then
		return refuse("cancel", "item-not-found", "no record of an invite for "..username);
	end
	local form = forms.result("Arrival");
	for _, f in ipairs({
		{ "jid", username.."@"..module.host }, { "id", arrival.token }, { "at", ("%d"):format(arrival.at) },
		{ "source", arrival.source }, { "ref", arrival.ref },
	}) do
		if f[2] then form:tag("field", { var = f[1], type = "text-single" }):text_tag("value", f[2]):up(); end
	end
	return { status = "completed", other = form };
end);

-- The registrations and resets through invites, in the order they happened, after a cursor this
-- command gave (`after`), at most `max`: how invites-api counts accounts per key and sends events,
-- catching up on whatever happened while it was away. A JID of invites_manage_jids reads only
-- those through the service's invites. With `partial` (invites-api from issue 26 on) one call
-- examines a bounded number of records, shown or not, and answers `next`, the cursor of the last
-- one it examined, and `more`: the caller's cursor then moves past records it may not see, which
-- are never read again. Without it (an older invites-api, whose cursor moves only to records it
-- is given) the list is filled as before.
local feed_fields = { "cursor", "id", "jid", "at", "source", "reset" };
-- With `kinds` (invites-api from issue 30 on) the feed also holds the host's other events, each
-- record with its kind: registered, reset, expired (expiry.lib.lua), paused, resumed,
-- budget_exhausted (budget.lib.lua); and the fields those carry. Without it (an older invites-api,
-- which would count any record as a registration) only registrations and resets, as before.
-- `groups` (one value each) tells the service's webhooks confined to circles whose invite it was.
local kinds_fields = { "kind", "ref", "actor", "expires", "count", "window", "resets-at", "groups" };

local function feed_kind(record)
	return record.kind or (record.reset and "reset" or "registered");
end

local function feed_values(entry)
	local record = entry.record;
	local kind = feed_kind(record);
	local function number(n) return n and ("%d"):format(n) or ""; end
	return { cursor = entry.cursor, id = record.token or "", jid = record.jid or "", at = number(entry.at),
		source = record.source or "", reset = record.reset and "true" or "false", kind = kind, ref = record.ref or "",
		actor = record.actor or record.by or "", expires = number(record.expires), count = number(record.count),
		window = number(record.window), ["resets-at"] = number(record.resets_at),
		groups = type(record.groups) == "table" and record.groups or {} };
end

command("Registrations through invites", "redemptions", nil, function (request, _, privileged)
	local when, key;
	if request.after then
		when, key = request.after:match("^(%d+)%.([%w_%-]+)$");
		if not when then return bad_request("after is not a cursor this command gave"); end
	end
	local function keep(record) return policy.feed_visible(record, privileged, request.kinds); end
	local list, err, examined_to, more = history.feed(tonumber(when), key, request.max or default_page, keep,
		request.partial);
	if not list then
		module:log("error", "Could not read the registration records: %s", err);
		return refuse("wait", "internal-server-error", "could not read the registration records");
	end
	local form = forms.result("Registrations");
	if examined_to then
		form:tag("field", { var = "next", type = "text-single", label = "Read on after" }):text_tag("value", examined_to):up();
	end
	form:tag("field", { var = "more", type = "boolean", label = "More to read" }):text_tag("value", more and "true" or "false"):up();
	local fields = { table.unpack(feed_fields) };
	if request.kinds then
		for _, name in ipairs(kinds_fields) do fields[#fields + 1] = name; end
	end
	form:tag("reported");
	for _, name in ipairs(fields) do
		form:tag("field", { var = name, type = name == "groups" and "text-multi" or "text-single" }):up();
	end
	form:up();
	for _, entry in ipairs(list) do
		local values = feed_values(entry);
		form:tag("item");
		for _, name in ipairs(fields) do
			form:tag("field", { var = name });
			local value = values[name];
			if type(value) == "table" then
				for _, one in ipairs(value) do form:text_tag("value", one); end
			else
				form:text_tag("value", value);
			end
			form:up();
		end
		form:up();
	end
	return { status = "completed", other = form };
end);

-- The host's registration budget and pause (budget.lib.lua): without a form, how they stand; with
-- one, any of count and window (or clear), paused. Either way the answer is the state now. A
-- person's client that executes it without a form is answered the state.
local budget_fields = { { "count" }, { "window" }, { "paused", "boolean" }, { "used" }, { "resets-at" }, { "by", "jid-single" },
	{ "actor" }, { "at" } };

local function budget_result(state)
	local function number(n) return n and ("%d"):format(n) or nil; end
	return forms.values_result("Registration budget", budget_fields, { count = number(state.count),
		window = number(state.window), paused = state.paused and "true" or "false", used = number(state.used),
		["resets-at"] = number(state.resets_at), by = state.by, actor = state.actor, at = number(state.at) });
end

command("Registration budget and pause", "budget", nil, function (request, actor)
	if request.limit == nil and request.paused == nil then return budget_result(budget.state()); end
	local state, failure = budget.set(request, actor, request.actor);
	if not state then
		module:log("error", "Could not set the registration budget: %s", failure);
		return refuse("wait", "internal-server-error", "could not set the registration budget");
	end
	module:log("info", "Registration budget set by %s (%s): %s, %s", actor, request.actor or "-",
		state.count and ("%d per %d s"):format(state.count, state.window) or "none", state.paused and "paused" or "open");
	return budget_result(state);
end, forms.read_budget);

-- The invite page's commands (landing.lib.lua), given a token: what its invite's page may show,
-- whether a name is free, and the registration. Only for an invite within the ceiling, whoever
-- made it: any other token is item-not-found; one no longer pending is gone.
local landing_fields = { { "state" }, { "kind" }, { "username" }, { "inviter", "jid-single" }, { "groups", "text-multi" },
	{ "uri" }, { "expires" }, { "uses-left" }, { "paused", "boolean" } };

command("What an invite's page shows", "landing", forms.blank.landing, function (request, _, privileged)
	local values, refusal = landing.show(request, privileged);
	if not values then return refusal; end
	return forms.values_result("Invite", landing_fields, values);
end, forms.read_door_request);

command("Whether a name is free for an invite", "name", forms.blank.name, function (request, _, privileged)
	local availability, refusal = landing.name(request, privileged);
	if not availability then return refusal; end
	return forms.values_result("User name", { { "availability" } }, { availability = availability });
end, forms.read_door_request);

command("Register through an invite", "redeem", forms.blank.redeem, function (request, _, privileged)
	local account, refusal = landing.redeem(request, privileged);
	if not account then return refusal; end
	return forms.values_result("Registered", { { "jid", "jid-single" } }, { jid = account });
end, forms.read_door_request);

-- Who an account of the host is (people.lib.lua), for the service's sign-in: whether it exists, is
-- enabled (always on 0.12) and its role (0.12: prosody:admin for an admin, else prosody:registered).
-- Nothing more: not its roster, its arrival, nor any other account's.
command("Who an account is", "person", forms.blank.person, function (request)
	local username = people.username_of(request.jid);
	if not username then return bad_request("jid must be a bare JID of "..module.host); end
	local facts, err = people.facts(username);
	if not facts then
		module:log("error", "Could not tell whether an account is enabled: %s", tostring(err));
		return refuse("wait", "internal-server-error", "could not read the account");
	end
	-- `jid`: the account's JID as Prosody preps it, so that the service names each person one way
	-- whatever case or Unicode form was typed (their quota, their circles and their invites' source).
	return forms.values_result("Person",
		{ { "jid", "jid-single" }, { "exists", "boolean" }, { "enabled", "boolean" }, { "role" } },
		{ jid = username.."@"..module.host, exists = facts.exists and "true" or "false",
			enabled = facts.enabled and "true" or "false", role = facts.role });
end, forms.read_person);

-- Each new invite goes into the history, and the service's into the listing index; after
-- mod_invites_page (0) and 13's mod_invites (-1) set its landing page from invites_page, one above
-- the ceiling gets Prosody's own page back (landing.lib.lua), and is kept so.
module:hook("invite-created", function (invite)
	landing.keep_own_page(invite);
	history.opened(invite);
	index.created(invite);
end, -10);

-- Registrations through invites (registration.lib.lua): the name checked before
-- mod_invites_register (priority 0) accepts it; a registration or reset handled before any other
-- handler, which keeps the invite in the event for them all.
module:hook("user-registering", registration.registering, 10);
module:hook("user-registered", registration.registered, 1000);
-- The host's budget and pause (budget.lib.lua), after every other handler of user-registering (a
-- registration refused for another reason takes no place); then, last, a refused registration's
-- places (an invite's use, the budget's) given back.
module:hook("user-registering", budget.registering, -1000);
module:hook("user-registering", function (event)
	registration.refused(event);
	budget.refused(event);
end, -100000);
-- After registration.registered, which keeps the invite in the event before anything waits (the
-- count's write may wait on storage, and a closed session keeps nothing).
module:hook("user-registered", budget.registered, 900);

-- An `expired` event for each of the service's invites that expires (expiry.lib.lua): first a second
-- after start (what expired while Prosody was down comes at once), then every expiry_sweep seconds.
module:add_timer(1, expiry.sweep);
module:hook("user-password-reset", registration.password_reset, 1000);

-- A deletion in the server (13's prosodyctl and shell, the admin command): after mod_roster (300),
-- which loads the account's roster to unsubscribe its contacts.
module:hook_global("user-deleted", function (event)
	if event.host == module.host then groups.depart(event.username); end
end, -100);

-- Before the session loads its roster (0.12's prosodyctl deletes and registers out of our sight).
module:hook("pre-resource-bind", function (event)
	local session = event.session;
	if not prosody.bare_sessions[session.username.."@"..session.host] then groups.logging_in(session.username); end
end);
