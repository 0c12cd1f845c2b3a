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
-- leaves its groups and those rosters (groups.lib.lua).
--
-- invites_manage_roles is the ceiling of what a JID of invites_manage_jids can ever obtain: no
-- invite giving a role above it, no reset of (nor name reserved for) an account above it, and no
-- sight of such an invite. Such a JID sees only the invites made by JIDs of invites_manage_jids:
-- an admin's own invites stay the admin's.
--
-- Works unchanged on Prosody 0.12 and 13.

local async = require "util.async";
local st = require "util.stanza";
local dataforms = require "util.dataforms";
local jid = require "util.jid";
local nodeprep = require "util.encodings".stringprep.nodeprep;
local usermanager = require "core.usermanager";
local modulemanager = require "core.modulemanager";
local configmanager = require "core.configmanager";
local set = require "util.set";
local url_escape = require "util.http".urlencode;
local render_url = require "util.interpolation".new("%b{}", url_escape);
local adhoc_new = module:require "adhoc".new;
local history = module:require "history";

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

if type(manage_groups) ~= "table" then
	module:log("error", "invites_manage_groups must be a table of group id = display name; ignoring it");
	manage_groups = {};
end

module:depends("adhoc");
local invites = module:depends("invites");

local node_prefix = "xmpp:invites-api/mod_invites_manage#";
local max_note_length = 1000;
-- Each listed once: a registration does roster work per group, so the list is short and unique.
local max_groups, max_roles = 32, 16;
-- The most uses a reusable invite may be capped at.
local max_max_uses = 1000000;
-- A password reset's lifetime when none is asked for: a reset link is for now, not for a week.
local default_reset_ttl = 86400;
-- A page of the list command: a stanza never carries every invite.
local default_page, max_page = 50, 200;
-- What the list command lists: pending invites, or those of the history in another state.
local states = { pending = true, used = true, expired = true, revoked = true };
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

local function refuse(type, condition, text)
	return { status = "error", error = { type = type, condition = condition, text = text } };
end

local function bad_request(text) return refuse("modify", "bad-request", text); end

-- Whether a value is text XML 1.0 allows: valid UTF-8 (no surrogates) without U+FFFE or U+FFFF.
-- Prosody's parser closes a stream on such characters, so they reach here only from elsewhere;
-- refused anyway, so that nothing stored here can break a stanza it is later sent in.
local function xml_text(value)
	return utf8.len(value) ~= nil and not value:find("\239\191[\190\191]");
end

-- The list without repeats, in first-seen order.
local function unique(list)
	local seen, result = {}, {};
	for _, item in ipairs(list) do
		if not seen[item] then seen[item], result[#result + 1] = true, item; end
	end
	return result;
end

-- Whether an account (existing or not) ranks above what invites_manage_jids may hand out: on 13 a
-- primary or secondary role outside invites_manage_roles, on 0.12 an admin of the host. A name
-- listed in `admins` counts even before its account exists.
local function above_ceiling(username)
	if not have_roles then return usermanager.is_admin(username.."@"..module.host, module.host); end
	local role = usermanager.get_user_role(username, module.host);
	if not (role and grantable_roles:contains(role.name)) then return true; end
	for name in pairs(usermanager.get_user_secondary_roles(username, module.host) or {}) do
		if not grantable_roles:contains(name) then return true; end
	end
	return false;
end

-- Values of a submitted form by field name, each a list (multi fields carry several <value>s).
-- Read by hand, not with a layout: the service sends fields without types.
local function read_form(form)
	local values = {};
	for field in form:childtags("field") do
		if field.attr.var then
			local list = {};
			for value in field:childtags("value") do
				local text = value:get_text();
				if text ~= "" then list[#list + 1] = text; end
			end
			values[field.attr.var] = list;
		end
	end
	return values;
end

-- The request carried by a form, every field checked; or nil and the error to answer with.
-- `privileged`: the caller is an admin of the host, who may give any role.
local function read_request(form, privileged)
	local values = read_form(form);
	for name, list in pairs(values) do
		for _, value in ipairs(list) do
			if value:find("%c") then return nil, bad_request(name.." must not contain control characters"); end
			if not xml_text(value) then
				return nil, bad_request(name.." must not contain a character XML 1.0 forbids");
			end
		end
	end
	local function single(name) return values[name] and values[name][1]; end
	local function multi(name) return values[name] and values[name][1] and unique(values[name]); end

	local request = { note = single("note"), source = single("source"), id = single("id"), after = single("after"),
		state = single("state") or "pending", partial = single("partial") == "true" };
	if not states[request.state] then return nil, bad_request("state must be pending, used, expired or revoked"); end
	local max = single("max");
	if max then
		request.max = max:match("^%d+$") and tonumber(max);
		if not request.max or request.max < 1 or request.max > max_page then
			return nil, bad_request(("max must be a whole number from 1 to %d"):format(max_page));
		end
	end
	local username = single("username");
	if username then
		-- Strict, as in-band registration is: an invite for a name it would refuse is no use.
		request.username = nodeprep(username, true);
		if not request.username or request.username == "" then
			return nil, bad_request("username is not a valid user name");
		end
	end
	local ttl = single("ttl");
	if ttl then
		request.ttl = ttl:match("^%d+$") and tonumber(ttl);
		if not request.ttl or request.ttl < 1 or request.ttl > max_ttl then
			return nil, bad_request(("ttl must be a whole number of seconds from 1 to %d"):format(max_ttl));
		end
	end
	local max_uses = single("max_uses");
	if max_uses then
		request.max_uses = max_uses:match("^%d+$") and tonumber(max_uses);
		if not request.max_uses or request.max_uses < 1 or request.max_uses > max_max_uses then
			return nil, bad_request(("max_uses must be a whole number from 1 to %d"):format(max_max_uses));
		end
	end
	request.groups = multi("groups");
	if request.groups and #request.groups > max_groups then
		return nil, bad_request(("at most %d groups"):format(max_groups));
	end
	for _, group in ipairs(request.groups or {}) do
		if not manage_groups[group] then return nil, bad_request("unknown group "..group); end
	end
	request.roles = multi("roles");
	if request.roles and #request.roles > max_roles then
		return nil, bad_request(("at most %d roles"):format(max_roles));
	end
	if request.roles and not have_roles then
		return nil, refuse("cancel", "feature-not-implemented", "roles need Prosody 13");
	end
	for _, role in ipairs(request.roles or {}) do
		-- pcall: 13's mod_authz_internal raises an error for an unknown name instead of returning nil.
		local ok, known = pcall(usermanager.get_role_by_name, role, module.host);
		if not (ok and known) then return nil, bad_request("unknown role "..role); end
		if not privileged and not grantable_roles:contains(role) then
			return nil, bad_request("role "..role.." is not in invites_manage_roles");
		end
	end
	if request.note and (utf8.len(request.note) or #request.note) > max_note_length then
		return nil, bad_request(("note must be at most %d characters"):format(max_note_length));
	end
	return request;
end

-- What mod_invites keeps with the invite; nil entries simply stay out of it. `created_by` is the
-- JID that ran the command, never taken from the form: it decides who may see the invite.
local function additional_data(request, actor)
	return {
		roles = request.roles, groups = request.groups, note = request.note;
		source = request.source or ("adhoc/"..actor), created_by = actor, max_uses = request.max_uses;
	};
end

-- Group and role lists as mod_invites keeps them; older invites may hold sets ({ name = true }).
local function names(t)
	if type(t) ~= "table" then return {}; end
	if t[1] ~= nil then return t; end
	local list = {};
	for name in pairs(t) do list[#list + 1] = name; end
	table.sort(list);
	return list;
end

-- The fields describing an invite, in the order results and <reported/> list them.
local invite_fields = {
	{ var = "id", type = "text-single", label = "Invite id (token)" };
	{ var = "type", type = "text-single", label = "Type" };
	{ var = "reusable", type = "boolean", label = "Reusable" };
	{ var = "inviter", type = "text-single", label = "Inviter" };
	{ var = "jid", type = "jid-single", label = "Account or host" };
	{ var = "uri", type = "text-single", label = "Invite URI" };
	{ var = "landing-url", type = "text-single", label = "Invite web page" };
	{ var = "created", type = "text-single", label = "Created (Unix time)" };
	{ var = "expires", type = "text-single", label = "Expires (Unix time)" };
	{ var = "groups", type = "text-multi", label = "Groups" };
	{ var = "roles", type = "text-multi", label = "Roles" };
	{ var = "reset", type = "boolean", label = "Password reset" };
	{ var = "note", type = "text-single", label = "Note" };
	{ var = "source", type = "text-single", label = "Made by" };
	{ var = "uses", type = "text-single", label = "Accounts registered with it" };
	{ var = "max-uses", type = "text-single", label = "At most this many accounts" };
	{ var = "state", type = "text-single", label = "pending, used, expired or revoked" };
	{ var = "closed", type = "text-single", label = "Used up, revoked or expired at (Unix time)" };
};

-- Uses of each reusable invite, which mod_invites does not count: token -> { uses = n }.
local uses_store = module:open_store("invites_manage_uses");
local function uses_of(token)
	local record = uses_store:get(token);
	return type(record) == "table" and tonumber(record.uses) or 0;
end

-- `state` and `closed` (a time) come from the history; a pending invite has no `closed`.
local function invite_values(token, invite, state, closed)
	local data = invite.additional_data or {};
	return {
		state = state or "pending", closed = closed and ("%d"):format(closed);
		-- A single-use invite has had its one use once it is used.
		uses = ("%d"):format(invite.reusable and uses_of(token) or (state == "used" and 1 or 0));
		["max-uses"] = data.max_uses and ("%d"):format(data.max_uses);
		id = token, type = invite.type, jid = invite.jid, uri = invite.uri;
		reusable = invite.reusable and "true" or "false";
		inviter = invite.inviter or (invite.type == "roster" and jid.node(invite.jid) or nil);
		["landing-url"] = invite.landing_page;
		created = invite.created_at and ("%d"):format(invite.created_at);
		expires = ("%d"):format(invite.expires or 0);
		groups = names(data.groups), roles = names(data.roles);
		reset = data.allow_reset and "true" or "false";
		note = data.note, source = data.source;
	};
end

-- Adds one <field/> per property; `complete` gives absent ones an empty value, as a table's
-- <item/>s must carry every field of its <reported/> (XEP-0004).
local function add_invite_fields(parent, values, complete)
	for _, field in ipairs(invite_fields) do
		local value = values[field.var];
		if field.type == "text-multi" then
			parent:tag("field", { var = field.var, type = field.type });
			for _, v in ipairs(value) do parent:text_tag("value", v); end
			parent:up();
		elseif value or complete then
			parent:tag("field", { var = field.var, type = field.type }):text_tag("value", value or ""):up();
		end
	end
	return parent;
end

-- Whether an invite's data (or an arrival, which carries the same two fields) says it was made
-- through a JID of invites_manage_jids (invites-api). Invites made before created_by existed are
-- recognised by the source invites-api gave them.
local function made_by_service(data)
	data = data or {};
	if data.created_by then return manage_jids:contains(data.created_by); end
	return type(data.source) == "string" and data.source:sub(1, 12) == "invites-api/";
end

-- Whether an invite's effect stays within invites_manage_roles: the roles it gives, the account
-- it resets, the name it reserves (checked now: an account may have been promoted since).
local function within_ceiling(invite)
	local data = invite.additional_data or {};
	for _, role in ipairs(names(data.roles)) do
		if not grantable_roles:contains(role) then return false; end
	end
	if type(data.allow_reset) == "string" and above_ceiling(data.allow_reset) then return false; end
	local reserved = invite.type == "register" and jid.node(invite.jid);
	return not (reserved and above_ceiling(reserved));
end

-- A reusable invite that reached its max_uses: mod_invites keeps it until it expires, but it is
-- used, not pending.
local function used_up(token, invite)
	local max_uses = invite.reusable and (invite.additional_data or {}).max_uses;
	return max_uses ~= nil and uses_of(token) >= max_uses;
end

-- What the caller may see and revoke: an admin everything; a JID of invites_manage_jids only the
-- service's invites whose effect is within the ceiling.
local function visible(invite, privileged)
	return privileged or (made_by_service(invite.additional_data) and within_ceiling(invite));
end

local function invite_result(token, invite, state, closed)
	local form = st.stanza("x", { xmlns = "jabber:x:data", type = "result" }):text_tag("title", "Invite");
	return { status = "completed", other = add_invite_fields(form, invite_values(token, invite, state, closed)) };
end

-- How each account came in, by username: purged with the account, so a record without it is
-- that of a deleted account.
local arrivals = module:open_store("invites_manage_arrivals");
-- The most registrations one show lists (a reusable invite may have many).
local shown_redemptions = 100;

-- Tells each connected component of invites_manage_jids that a registration was recorded, so that
-- it reads the records now rather than at its next poll. The records are the truth: a component
-- that is down reads them when it is back.
local nudge_ns = "xmpp:invites-api/mod_invites_manage#redeemed";
local function nudge()
	for manage_jid in manage_jids do
		local host = prosody.hosts[manage_jid];
		local component = host and host.modules and host.modules.component;
		if component and component.connected then
			module:send(st.message({ from = module.host, to = manage_jid, type = "headline" })
				:tag("redeemed", { xmlns = nudge_ns }));
		end
	end
end

local function record_redemption(invite, username, reset)
	history.prune_due();
	local data, now = invite.additional_data or {}, os.time();
	history.redeemed(invite, username, reset, now);
	-- A reset is no arrival: the account came in earlier, through whatever it came in by.
	if not reset then
		arrivals:set(username, { token = invite.token, at = now, source = data.source, created_by = data.created_by });
	end
	nudge();
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
local function redemptions_of(token)
	local list = {};
	for _, entry in ipairs(history.redemptions_of(token, shown_redemptions)) do
		list[#list + 1] = ("%d %s%s"):format(entry.at, entry.record.jid, still_there(entry.record) and "" or " deleted");
	end
	return list;
end

local function created(invite)
	if not invite then return refuse("wait", "internal-server-error", "could not create the invite"); end
	return invite_result(invite.token, invite);
end

-- Blank forms, for a person's client that executes a command without one.
local function field(name, label, type) return { name = name, label = label, type = type or "text-single" }; end
local ttl_field = field("ttl", "Valid for how many seconds (optional)");
local groups_field = field("groups", "Group ids, one a line (optional)", "text-multi");
-- Last in each form: nil on 0.12, which has no roles to offer, so the forms simply end before it.
local roles_field = have_roles and field("roles", "Roles, one a line (optional)", "text-multi") or nil;
local note_field = field("note", "Note (optional)");
local source_field = field("source", "Made by (optional)");
local id_field = field("id", "Invite id (token)");
id_field.required = true;

local account_form = dataforms.new({ title = "Create an account invite",
	field("username", "Only for this user name (optional)"), ttl_field, groups_field, note_field, source_field,
	roles_field });
local group_form = dataforms.new({ title = "Create a group invite (reusable until it expires)",
	groups_field, ttl_field, note_field, source_field, roles_field });
local reset_form = dataforms.new({ title = "Create a password reset invite",
	field("username", "User name"), ttl_field, source_field });
local show_form = dataforms.new({ title = "Show a pending invite", id_field });
local revoke_form = dataforms.new({ title = "Revoke an invite", id_field });
local account_lookup_form = dataforms.new({ title = "Show how an account came in", field("username", "User name") });

-- Registers a command: checks the caller, answers cancel and a missing form, then hands the
-- checked request to `run(request, actor, privileged)`. A command without `blank` form takes no input.
local function command(name, node, blank, run)
	local function handler(_, data)
		local actor = jid.bare(data.from);
		-- A JID of invites_manage_jids stays under the ceiling even if it is an admin too (say while
		-- moving from drop-in, with the component still in `admins`): the service never gets more.
		local privileged = is_admin(data.from) and not manage_jids:contains(actor);
		if not (privileged or manage_jids:contains(actor)) then
			module:log("warn", "Refused %s to %s: neither in invites_manage_jids nor an admin", node, actor);
			return refuse("auth", "forbidden", "not allowed to manage invites on "..module.host);
		end
		if data.action == "cancel" or (data.form and data.form.attr.type == "cancel") then
			return { status = "canceled" };
		end
		if not data.form and blank then
			return { status = "executing", actions = { "complete" }, form = blank };
		end
		local request, err = read_request(data.form or st.stanza("x"), privileged);
		if not request then return err; end
		return run(request, actor, privileged);
	end
	module:provides("adhoc", adhoc_new(name, node_prefix..node, handler, "any"));
end

local function above_ceiling_refusal(username)
	return refuse("cancel", "not-allowed",
		"the account "..username.." is above invites_manage_roles: only an admin may do this");
end

command("Create an account invite", "create-account", account_form, function (request, actor, privileged)
	if request.username and usermanager.user_exists(request.username, module.host) then
		return refuse("cancel", "conflict", "user "..request.username.." already exists");
	end
	-- A name listed in `admins` but not registered yet must not be handed out.
	if request.username and not privileged and above_ceiling(request.username) then
		return above_ceiling_refusal(request.username);
	end
	return created(invites.create_account(request.username, additional_data(request, actor), request.ttl));
end);

command("Create a group invite", "create-group", group_form, function (request, actor)
	if not request.groups then return bad_request("at least one group is required"); end
	-- Always with a ttl: mod_invites makes a group invite reusable only when given one.
	return created(invites.create_group(request.groups, additional_data(request, actor), request.ttl or default_ttl));
end);

command("Create a password reset invite", "create-reset", reset_form, function (request, actor, privileged)
	local username = request.username;
	if not username then return bad_request("username is required"); end
	if not usermanager.user_exists(username, module.host) then
		return refuse("cancel", "item-not-found", "no user "..username.." on "..module.host);
	end
	-- Whoever holds a reset invite takes the account over: never one above the ceiling.
	if not privileged and above_ceiling(username) then return above_ceiling_refusal(username); end
	-- What invites.create_account_reset() does, plus the source, which it cannot record.
	local data = { allow_reset = username, source = request.source or ("adhoc/"..actor), created_by = actor };
	return created(invites.create_account(username, data, request.ttl or default_reset_ttl));
end);

-- The roles an invite from this caller may give that the host knows, sorted; none on 0.12.
local function offered_roles()
	local list = {};
	if not have_roles then return list; end
	for role in grantable_roles do
		-- pcall: 13's mod_authz_internal raises an error for an unknown name instead of returning nil.
		local ok, known = pcall(usermanager.get_role_by_name, role, module.host);
		if ok and known then list[#list + 1] = role; end
	end
	table.sort(list);
	return list;
end

-- A token no invite has (mod_invites' tokens are random): its page is the "invalid invite" page.
local probe_token = "invites-api-check";

-- The landing page mod_invites_page would give an invite with the probe token, built as it builds
-- one (its invites_page option, else its own HTTP URL); nil where it is not loaded on this host.
-- `invites-api check` opens it to see that the page answers, without making an invite.
local function invite_page_probe()
	local page = modulemanager.get_module(module.host, "invites_page");
	if not page then return nil; end
	local base_url = "https://"..module.host.."/";
	if not module:get_option_boolean("invites_page_external", false) then
		base_url = page.module.http_url and page.module:http_url();
	end
	local template = module:get_option_string("invites_page", base_url and (base_url.."?{invite.token}") or nil);
	return template and render_url(template, { host = module.host, invite = { token = probe_token } });
end

-- The modules modules_enabled names for this host: the global and the host's lists merged, minus
-- modules_disabled, as modulemanager's get_modules_for_host merges them (the same on 0.12 and 13);
-- the modules it loads by itself (c2s, presence…) are named by no list and left out.
local function enabled_modules()
	local function both(name)
		local global, own = configmanager.get("*", name), configmanager.get(module.host, name);
		-- A host without its own list reads the global one.
		return set.new(global), set.new(own ~= global and own or nil);
	end
	local global_enabled, host_enabled = both("modules_enabled");
	local global_disabled, host_disabled = both("modules_disabled");
	local modules = (global_enabled - global_disabled + host_enabled) - host_disabled;
	-- modulemanager leaves mod_vcard out where mod_vcard_legacy replaces it.
	if modules:contains("vcard_legacy") then modules:remove("vcard"); end
	return modules;
end

-- The modules enabled for this host that are loaded neither on it nor globally (a global module,
-- such as mod_posix, is loaded on "*" only), sorted: those Prosody failed to load, whose reason is
-- in its log. `invites-api check` names them.
local function modules_not_loaded()
	local list = {};
	for name in enabled_modules() do
		if not (modulemanager.is_loaded(module.host, name) or modulemanager.is_loaded("*", name)) then
			list[#list + 1] = name;
		end
	end
	table.sort(list);
	return list;
end

-- What an invite made here may carry, so that a form offers only what these commands accept: the
-- groups (id and display name), the roles, the longest ttl and the default ones; and the landing
-- page of a made-up invite when mod_invites_page is loaded; and the enabled modules not loaded.
command("Invite options", "options", nil, function ()
	local form = st.stanza("x", { xmlns = "jabber:x:data", type = "result" }):text_tag("title", "Invite options");
	for _, f in ipairs({ { "max-ttl", max_ttl }, { "default-ttl", default_ttl }, { "reset-ttl", default_reset_ttl } }) do
		form:tag("field", { var = f[1], type = "text-single" }):text_tag("value", ("%d"):format(math.floor(f[2]))):up();
	end
	local probe = invite_page_probe();
	if probe then form:tag("field", { var = "invite-page", type = "text-single" }):text_tag("value", probe):up(); end
	form:tag("field", { var = "roles", type = "text-multi", label = "Roles an invite may give" });
	for _, role in ipairs(offered_roles()) do form:text_tag("value", role); end
	form:up();
	form:tag("field", { var = "modules-not-loaded", type = "text-multi", label = "Enabled modules not loaded" });
	for _, name in ipairs(modules_not_loaded()) do form:text_tag("value", name); end
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
local token_store = module:open_store("invite_token", "map");
local function visible_invite(token, privileged)
	local invite = token_store:get(nil, token);
	if type(invite) ~= "table" or not visible(invite, privileged) then return nil; end
	return invite;
end

-- Invites are listed oldest first, ties by token; a page's cursor is its last invite's
-- "created.token" (tokens are base64url, so the dot is unambiguous).
local function precedes(a_time, a_token, b_time, b_token)
	return a_time < b_time or (a_time == b_time and a_token < b_token);
end
local function cursor_of(p) return ("%d.%s"):format(p.invite.created_at or 0, p.token); end

-- The service's invites as { token, created_at }, in list order: read from storage on the first
-- list after a (re)load, then kept up to date by invite-created; used, revoked and expired ones
-- leave it when a page meets them. So a page costs what it shows, not the number of invites.
local service_index;

local function build_index()
	local index = {};
	for token, invite in invites.pending_account_invites() do
		if made_by_service(invite.additional_data) then index[#index + 1] = { token = token, created_at = invite.created_at or 0 }; end
	end
	table.sort(index, function (a, b) return precedes(a.created_at, a.token, b.created_at, b.token); end);
	return index;
end

-- The first position of the index after the cursor (all of it without one), by bisection.
local function position_after(index, time, token)
	if not time then return 1; end
	local low, high = 1, #index + 1;
	while low < high do
		local middle = (low + high) // 2;
		local entry = index[middle];
		if precedes(time, token, entry.created_at, entry.token) then high = middle; else low = middle + 1; end
	end
	return low;
end

module:hook("invite-created", function (invite)
	history.opened(invite);
	if not (service_index and made_by_service(invite.additional_data)) then return; end
	local entry = { token = invite.token, created_at = invite.created_at or 0 };
	table.insert(service_index, position_after(service_index, entry.created_at, entry.token), entry);
end);

-- Up to `max` + 1 of the service's pending invites under the ceiling, after the cursor.
local function service_page(time, token, max)
	service_index = service_index or build_index();
	local page, now, i = {}, os.time(), position_after(service_index, time, token);
	while i <= #service_index and #page <= max do
		local entry = service_index[i];
		local invite, err = token_store:get(nil, entry.token);
		if err then return nil, err; end
		if type(invite) ~= "table" or invite.expires <= now or used_up(entry.token, invite) then
			table.remove(service_index, i); -- used, revoked or expired: never pending again
		else
			if within_ceiling(invite) then page[#page + 1] = { token = entry.token, invite = invite }; end
			i = i + 1;
		end
	end
	return page;
end

-- Every pending invite after the cursor, for an admin's own client: his list is not the service's.
local function full_page(time, token)
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

-- Pending invites the caller may see, oldest first, one page at a time: `after` a cursor the
-- previous page gave as `next`, at most `max`.
-- The invites the caller may see in one state, oldest first, one page at a time: `after` a cursor
-- the previous page gave as `next`, at most `max`. Pending ones come from mod_invites; the others
-- from the history (kept for invites_manage_history_days), where the cursor is the last token.
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
		if privileged then page = full_page(time, token); else page, err = service_page(time, token, max); end
		cursor = cursor_of;
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
	local form = st.stanza("x", { xmlns = "jabber:x:data", type = "result" }):text_tag("title", "Invites");
	-- A history page may stop short, even empty, past invites the caller may not see: `next` then
	-- names the last one it examined, which an older invites-api passes on as it is.
	local next_cursor = #page > max and cursor(page[max]) or stopped_at;
	if next_cursor then
		form:tag("field", { var = "next", type = "text-single", label = "More after" }):text_tag("value", next_cursor):up();
	end
	form:tag("reported");
	for _, f in ipairs(invite_fields) do form:tag("field", { var = f.var, type = f.type, label = f.label }):up(); end
	form:up();
	for i = 1, math.min(max, #page) do
		local p = page[i];
		local closed = p.state and p.state ~= "pending" and p.at;
		add_invite_fields(form:tag("item"), invite_values(p.token, p.invite, p.state, closed), true):up();
	end
	return { status = "completed", other = form };
end);

local function no_invite() return refuse("cancel", "item-not-found", "no invite with this id"); end

-- A pending invite as mod_invites has it, or one the history still holds, in whatever state.
command("Show an invite", "show", show_form, function (request, _, privileged)
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
	for _, line in ipairs(redemptions_of(request.id)) do result.other:text_tag("value", line); end
	result.other:up();
	return result;
end);

command("Revoke an invite", "revoke", revoke_form, function (request, _, privileged)
	if not request.id then return bad_request("id is required"); end
	local invite = visible_invite(request.id, privileged);
	if not invite or used_up(request.id, invite) then
		return refuse("cancel", "item-not-found", "no pending invite with this id");
	end
	if not invites.delete_account_invite(request.id) then
		return refuse("wait", "internal-server-error", "could not revoke the invite");
	end
	invite.token = request.id;
	history.closed(invite, "revoked");
	-- The invite as it was, so that the caller can say whose invite it revoked.
	return invite_result(request.id, invite, "revoked", os.time());
end);

-- Which invite let an account in, when, and who made it. A JID of invites_manage_jids sees it only
-- for an invite the service made, and only for an account under the ceiling.
command("Show how an account came in", "account", account_lookup_form, function (request, _, privileged)
	local username = request.username;
	if not username then return bad_request("username is required"); end
	local arrival = usermanager.user_exists(username, module.host) and arrivals:get(username);
	local seen = type(arrival) == "table" and (privileged or (made_by_service(arrival)
		and not above_ceiling(username)));
	if not seen then
		return refuse("cancel", "item-not-found", "no record of an invite for "..username);
	end
	local form = st.stanza("x", { xmlns = "jabber:x:data", type = "result" }):text_tag("title", "Arrival");
	for _, f in ipairs({
		{ "jid", username.."@"..module.host }, { "id", arrival.token }, { "at", ("%d"):format(arrival.at) },
		{ "source", arrival.source },
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
command("Registrations through invites", "redemptions", nil, function (request, _, privileged)
	local when, key;
	if request.after then
		when, key = request.after:match("^(%d+)%.([%w_%-]+)$");
		if not when then return bad_request("after is not a cursor this command gave"); end
	end
	local list, err, examined_to, more = history.feed(tonumber(when), key, request.max or default_page,
		function (record) return privileged or made_by_service(record); end, request.partial);
	if not list then
		module:log("error", "Could not read the registration records: %s", err);
		return refuse("wait", "internal-server-error", "could not read the registration records");
	end
	local form = st.stanza("x", { xmlns = "jabber:x:data", type = "result" }):text_tag("title", "Registrations");
	if examined_to then
		form:tag("field", { var = "next", type = "text-single", label = "Read on after" }):text_tag("value", examined_to):up();
	end
	form:tag("field", { var = "more", type = "boolean", label = "More to read" }):text_tag("value", more and "true" or "false"):up();
	form:tag("reported");
	for _, name in ipairs(feed_fields) do form:tag("field", { var = name, type = "text-single" }):up(); end
	form:up();
	for _, entry in ipairs(list) do
		local record = entry.record;
		local values = { cursor = entry.cursor, id = record.token, jid = record.jid, at = ("%d"):format(entry.at),
			source = record.source or "", reset = record.reset and "true" or "false" };
		form:tag("item");
		for _, name in ipairs(feed_fields) do
			form:tag("field", { var = name }):text_tag("value", values[name]):up();
		end
		form:up();
	end
	return { status = "completed", other = form };
end);

-- Registrations under way through a capped invite, by token: { username = true }. A use is counted
-- when the account exists (user-registered); a registration that never completes (a taken name, a
-- failure) gives its place back after a minute. Held in memory because registrations overlap when
-- an auth or storage backend waits on I/O (it yields, and Prosody serves other sessions between
-- user-registering and user-registered); without it they would all see the cap not yet reached.
local under_way = {};

-- Per token, one registration at a time reads or writes the count: a storage driver that yields
-- would otherwise let two registrations read the same count and each write it plus one. Nothing
-- yields outside an async runner, so there `work` runs as it is.
local count_guard = async.guarder();
local function one_at_a_time(token, work)
	if not async.ready() then return work(); end
	local done = count_guard(token);
	local ok, result = pcall(work);
	done();
	if not ok then error(result, 0); end
	return result;
end

local function release_use(token, username)
	local holders = under_way[token];
	if not holders then return; end
	holders[username] = nil;
	if next(holders) == nil then under_way[token] = nil; end
end

local function reserve_use(token, username, max_uses)
	return one_at_a_time(token, function ()
		local taken = uses_of(token);
		local holders = under_way[token] or {};
		for holder in pairs(holders) do
			if holder ~= username then taken = taken + 1; end
		end
		if taken >= max_uses then return false; end
		holders[username], under_way[token] = true, holders;
		module:add_timer(60, function () release_use(token, username); end);
		return true;
	end);
end

-- Counts a use once the account exists and gives its place back; returns the uses now.
local function count_use(token, username)
	return one_at_a_time(token, function ()
		local uses = uses_of(token) + 1;
		if not uses_store:set(token, { uses = uses }) then
			module:log("error", "Could not count a use of a reusable invite (by %s)", username);
		end
		release_use(token, username);
		return uses;
	end);
end

-- Registration through an invite, whoever made it.
local function validated_invite(event)
	return event.validated_invite or (event.session and event.session.validated_invite);
end

-- A client told it is registered may close its stream while the handlers of user-registered
-- yield (a storage or auth backend waiting on I/O), and a closed session keeps nothing: the
-- invite goes into the event before any handler runs, for them all (mod_invites_register's too).
local function keep_invite(event)
	event.validated_invite = validated_invite(event);
end
module:hook("user-registered", keep_invite, 1000);
module:hook("user-password-reset", keep_invite, 1000);

-- An invite for a named account must register that account only: neither 0.12 nor 13 checks.
-- Runs before mod_invites_register (priority 0), which accepts any name.
module:hook("user-registering", function (event)
	local invite = validated_invite(event);
	if not invite then return; end
	local info = invites.get_account_invite_info(invite.token);
	if not info then
		-- The session checked the token earlier; since then it expired, was used or was revoked.
		event.allowed, event.reason = false, "This invite is no longer valid";
		return;
	end
	-- Contact invites name the inviter's JID, not the new account's.
	local reserved = info.type == "register" and jid.node(info.jid);
	if reserved and reserved ~= event.username then
		event.allowed, event.reason = false, "This invite is for the account "..reserved.." only";
		return;
	end
	-- Checked again at use: the account may have been promoted, or the name listed in `admins`,
	-- since the invite was made. A reset registers under the reset account's own name.
	if made_by_service(info.additional_data) and not (within_ceiling(info) and not above_ceiling(event.username)) then
		event.allowed, event.reason = false, "This invite cannot be used for the account "..event.username;
		return;
	end
	-- A taken name cannot become an account (it fails after this hook): it takes no place.
	local max_uses = info.reusable and (info.additional_data or {}).max_uses;
	if max_uses and usermanager.user_exists(event.username, module.host) then return; end
	if max_uses and not reserve_use(invite.token, event.username, max_uses) then
		event.allowed, event.reason = false, "This invite has been used as many times as it may be";
	end
end, 10);

-- Each account an invite let in: a use of a reusable invite counted, the registration recorded.
module:hook("user-registered", function (event)
	local invite = validated_invite(event);
	if not invite then return; end
	local finished = true;
	if invite.reusable then
		local uses = count_use(invite.token, event.username);
		local max_uses = (invite.additional_data or {}).max_uses;
		finished = max_uses ~= nil and uses >= max_uses;
	end
	record_redemption(invite, event.username, false);
	if finished then history.closed(invite, "used"); end
end);

-- A password reset through an invite (in-band registration fires this, not user-registered).
module:hook("user-password-reset", function (event)
	local invite = validated_invite(event);
	if invite then
		record_redemption(invite, event.username, true);
		history.closed(invite, "used");
	end
end);

-- Groups, and what a deleted member leaves behind: groups.lib.lua.
local groups = module:require "groups"(manage_groups);

-- First of the account's registration handlers: a deleted account of that name leaves its groups
-- and the cached roster before anything puts a contact into the new account's roster.
module:hook("user-registered", function (event) groups.registered(event.username); end, 500);

module:hook("user-registered", function (event)
	local invite = validated_invite(event);
	local group_ids = invite and invite.additional_data and invite.additional_data.groups;
	if group_ids then groups.join(event.username, unique(names(group_ids))); end
end);

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
