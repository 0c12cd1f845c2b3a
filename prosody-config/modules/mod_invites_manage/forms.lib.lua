-- The data forms (XEP-0004) of mod_invites_manage's commands: reading a submitted form into a
-- checked request, rendering an invite as fields, and the blank forms a person's client is given.

local st = require "util.stanza";
local dataforms = require "util.dataforms";
local jid = require "util.jid";
local nodeprep = require "util.encodings".stringprep.nodeprep;

local max_note_length = 1000;
-- A caller's reference for an invite (a row of its spreadsheet, say), shown wherever the invite is.
local max_ref_length = 200;
-- The longest budget window: a year.
local max_window = 366 * 86400;
-- Each listed once: a registration does roster work per group, so the list is short and unique.
local max_groups, max_roles = 32, 16;
-- The most uses a reusable invite may be capped at.
local max_max_uses = 1000000;
-- Who a caller says asked (invites-api/ and a key id or a bare JID): at most a full JID's length.
local max_actor_length = 3071;
-- The most invites one page of the list command shows: a stanza never carries every invite.
local max_page = 200;
-- The longest token the invite page's commands take (mod_invites' are 16 characters).
local max_token_length = 64;
-- What the list command lists: pending invites, or those of the history in another state.
local states = { pending = true, used = true, expired = true, revoked = true };

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
	{ var = "ref", type = "text-single", label = "Caller's reference" };
	{ var = "revoked-by", type = "text-single", label = "Revoked by (who asked, else the JID that ran it)" };
};

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

-- The values of a submitted form (read_form), or nil and the refusal of a value with a control
-- character or one XML 1.0 forbids. The refusal names the field, never its value.
local function checked_values(form)
	local values = read_form(form);
	for name, list in pairs(values) do
		for _, value in ipairs(list) do
			if value:find("%c") then return nil, bad_request(name.." must not contain control characters"); end
			if not xml_text(value) then
				return nil, bad_request(name.." must not contain a character XML 1.0 forbids");
			end
		end
	end
	return values;
end

-- A whole number from 1 to `max` in a field, or nil when the field is absent; false when it is not.
local function whole_number(value, max)
	if not value then return nil; end
	local number = value:match("^%d+$") and tonumber(value);
	return number and number >= 1 and number <= max and number or false;
end

-- `needs`: max_ttl, manage_groups (id = display name), have_roles, policy, uses_of (registration).
return function (needs)
	local forms = { refuse = refuse, bad_request = bad_request, unique = unique, invite_fields = invite_fields };
	local policy, manage_groups = needs.policy, needs.manage_groups;

	-- The refusal of a request's value out of its bounds (whole_number gave false; a text too long).
	local function out_of_bounds(request)
		if request.ttl == false then
			return bad_request(("ttl must be a whole number of seconds from 1 to %d"):format(needs.max_ttl));
		end
		if request.max_uses == false then
			return bad_request(("max_uses must be a whole number from 1 to %d"):format(max_max_uses));
		end
		for _, text in ipairs({ { "note", max_note_length }, { "ref", max_ref_length }, { "actor", max_actor_length } }) do
			local value = request[text[1]];
			if value and (utf8.len(value) or #value) > text[2] then
				return bad_request(("%s must be at most %d characters"):format(text[1], text[2]));
			end
		end
		return nil;
	end

	-- The request carried by a form, every field checked; or nil and the error to answer with.
	-- `privileged`: the caller is an admin of the host, who may give any role.
	function forms.read_request(form, privileged)
		local values, refusal = checked_values(form);
		if not values then return nil, refusal; end
		local function single(name) return values[name] and values[name][1]; end
		local function multi(name) return values[name] and values[name][1] and unique(values[name]); end

		local request = { note = single("note"), source = single("source"), id = single("id"), after = single("after"),
			state = single("state") or "pending", partial = single("partial") == "true", kinds = single("kinds") == "true",
			ref = single("ref") };
		if not states[request.state] then return nil, bad_request("state must be pending, used, expired or revoked"); end
		request.max = whole_number(single("max"), max_page);
		if request.max == false then
			return nil, bad_request(("max must be a whole number from 1 to %d"):format(max_page));
		end
		local username = single("username");
		if username then
			-- Strict, as in-band registration is: an invite for a name it would refuse is no use.
			request.username = nodeprep(username, true);
			if not request.username or request.username == "" then
				return nil, bad_request("username is not a valid user name");
			end
		end
		request.ttl = whole_number(single("ttl"), needs.max_ttl);
		request.max_uses = whole_number(single("max_uses"), max_max_uses);
		local out = out_of_bounds(request);
		if out then return nil, out; end
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
		local condition, text = policy.roles_refusal(request.roles, privileged);
		if condition then
			return nil, refuse(condition == "bad-request" and "modify" or "cancel", condition, text);
		end
		return request;
	end

	-- The update command's request: the invite's id, and any of ttl, max_uses and note; `remove`
	-- names the fields sent empty (max_uses, note), whose value goes; `actor` says who asked.
	function forms.read_update(form)
		local values, refusal = checked_values(form);
		if not values then return nil, refusal; end
		local function single(name) return values[name] and values[name][1]; end
		local request = { id = single("id"), actor = single("actor"), note = single("note"), remove = {},
			ttl = whole_number(single("ttl"), needs.max_ttl), max_uses = whole_number(single("max_uses"), max_max_uses) };
		if not request.id then return nil, bad_request("id is required"); end
		for _, name in ipairs({ "max_uses", "note" }) do
			if values[name] and not values[name][1] then request.remove[name] = true; end
		end
		local out = out_of_bounds(request);
		if out then return nil, out; end
		return request;
	end

	-- The revoke command's request: the invite's id; `actor` says who asked, as for update.
	function forms.read_revoke(form)
		local values, refusal = checked_values(form);
		if not values then return nil, refusal; end
		local request = { id = values.id and values.id[1], actor = values.actor and values.actor[1] };
		if not request.id then return nil, bad_request("id is required"); end
		local out = out_of_bounds(request);
		if out then return nil, out; end
		return request;
	end

	-- The budget command's request: `limit` { count, window } (both given) or false (`clear`), and
	-- `paused` true or false; nil for what is not to change.
	function forms.read_budget(form)
		local values, refusal = checked_values(form);
		if not values then return nil, refusal; end
		local function single(name) return values[name] and values[name][1]; end
		local function boolean(name)
			local value = single(name);
			if value == nil then return nil; end
			return value == "true" or value == "1";
		end
		local request = { actor = single("actor"), paused = boolean("paused") };
		local count, window = single("count"), single("window");
		if boolean("clear") then
			if count or window then return nil, bad_request("clear takes no count nor window"); end
			request.limit = false;
		elseif count or window then
			local limit = { count = whole_number(count, max_max_uses), window = whole_number(window, max_window) };
			if not limit.count then
				return nil, bad_request(("count must be a whole number from 1 to %d"):format(max_max_uses));
			end
			if not limit.window then
				return nil, bad_request(("window must be a whole number of seconds from 1 to %d"):format(max_window));
			end
			request.limit = limit;
		end
		return request;
	end

	-- The request of one of the invite page's commands (landing, name, redeem): the token, and the
	-- username, password and client address as given (each command judges them). A token is
	-- mod_invites' id (base64url), a client address IPv4 or IPv6: anything else is refused or dropped.
	function forms.read_door_request(form)
		local values, refusal = checked_values(form);
		if not values then return nil, refusal; end
		local function single(name) return values[name] and values[name][1]; end
		local token = single("token");
		if not (token and #token <= max_token_length and token:match("^[%w_%-]+$")) then
			return nil, bad_request("token is required: letters, digits, - and _ only");
		end
		local ip = single("ip");
		if ip and not (#ip <= 45 and ip:match("^[%x:%.]+$")) then ip = nil; end
		return { token = token, username = single("username"), password = single("password"), ip = ip };
	end

	-- The person command's request: the bare JID asked about (people.lib.lua judges it).
	function forms.read_person(form)
		local values, refusal = checked_values(form);
		if not values then return nil, refusal; end
		local asked = values.jid and values.jid[1];
		if not asked then return nil, bad_request("jid is required"); end
		return { jid = asked };
	end

	-- What mod_invites keeps with the invite; nil entries simply stay out of it. `created_by` is the
	-- JID that ran the command, never taken from the form: it decides who may see the invite.
	function forms.additional_data(request, actor)
		return {
			roles = request.roles, groups = request.groups, note = request.note;
			source = request.source or ("adhoc/"..actor), created_by = actor, max_uses = request.max_uses;
			ref = request.ref;
		};
	end

	-- `state` and `closed` (a time) come from the history; a pending invite has no `closed`.
	function forms.invite_values(token, invite, state, closed)
		local data = invite.additional_data or {};
		return {
			state = state or "pending", closed = closed and ("%d"):format(closed);
			-- A single-use invite has had its one use once it is used.
			uses = ("%d"):format(invite.reusable and needs.uses_of(token) or (state == "used" and 1 or 0));
			["max-uses"] = data.max_uses and ("%d"):format(data.max_uses);
			id = token, type = invite.type, jid = invite.jid, uri = invite.uri;
			reusable = invite.reusable and "true" or "false";
			inviter = invite.inviter or (invite.type == "roster" and jid.node(invite.jid) or nil);
			["landing-url"] = invite.landing_page;
			created = invite.created_at and ("%d"):format(invite.created_at);
			expires = ("%d"):format(invite.expires or 0);
			groups = policy.names(data.groups), roles = policy.names(data.roles);
			reset = data.allow_reset and "true" or "false";
			note = data.note, source = data.source, ref = data.ref;
			["revoked-by"] = state == "revoked" and invite.revoked_by or nil;
		};
	end

	-- Adds one <field/> per property; `complete` gives absent ones an empty value, as a table's
	-- <item/>s must carry every field of its <reported/> (XEP-0004).
	function forms.add_invite_fields(parent, values, complete)
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

	function forms.invite_result(token, invite, state, closed)
		local form = st.stanza("x", { xmlns = "jabber:x:data", type = "result" }):text_tag("title", "Invite");
		return { status = "completed", other = forms.add_invite_fields(form, forms.invite_values(token, invite, state, closed)) };
	end

	-- A result form with a title, for the commands to fill.
	function forms.result(title)
		return st.stanza("x", { xmlns = "jabber:x:data", type = "result" }):text_tag("title", title);
	end

	-- A completed command's result: one <field/> per { var, type } of `fields` that has a value in
	-- `values` (a list for a text-multi field, which is always there).
	function forms.values_result(title, fields, values)
		local form = forms.result(title);
		for _, f in ipairs(fields) do
			local name, type = f[1], f[2] or "text-single";
			if type == "text-multi" then
				form:tag("field", { var = name, type = type });
				for _, value in ipairs(values[name] or {}) do form:text_tag("value", value); end
				form:up();
			elseif values[name] then
				form:tag("field", { var = name, type = type }):text_tag("value", values[name]):up();
			end
		end
		return { status = "completed", other = form };
	end

	-- Blank forms, for a person's client that executes a command without one.
	local function field(name, label, type) return { name = name, label = label, type = type or "text-single" }; end
	local ttl_field = field("ttl", "Valid for how many seconds (optional)");
	local groups_field = field("groups", "Group ids, one a line (optional)", "text-multi");
	-- Last in each form: nil on 0.12, which has no roles to offer, so the forms simply end before it.
	local roles_field = needs.have_roles and field("roles", "Roles, one a line (optional)", "text-multi") or nil;
	local note_field = field("note", "Note (optional)");
	local source_field = field("source", "Made by (optional)");
	local ref_field = field("ref", "Your reference (optional)");
	local id_field = field("id", "Invite id (token)");
	id_field.required = true;
	local token_field = field("token", "Invite token");
	token_field.required = true;

	forms.blank = {
		account = dataforms.new({ title = "Create an account invite",
			field("username", "Only for this user name (optional)"), ttl_field, groups_field, note_field, source_field,
			ref_field, roles_field });
		group = dataforms.new({ title = "Create a group invite (reusable until it expires)",
			groups_field, ttl_field, note_field, source_field, ref_field, roles_field });
		reset = dataforms.new({ title = "Create a password reset invite",
			field("username", "User name"), ttl_field, source_field, ref_field });
		update = dataforms.new({ title = "Change a pending invite (its link stays)", id_field,
			field("ttl", "Valid for how many seconds from now (optional)"),
			field("max_uses", "At most this many accounts (reusable invites; empty removes it)"),
			field("note", "Note (empty removes it)") });
		show = dataforms.new({ title = "Show a pending invite", id_field });
		revoke = dataforms.new({ title = "Revoke an invite", id_field });
		account_lookup = dataforms.new({ title = "Show how an account came in", field("username", "User name") });
		landing = dataforms.new({ title = "What an invite's page shows", token_field });
		name = dataforms.new({ title = "Whether a name is free for an invite", token_field, field("username", "User name") });
		person = dataforms.new({ title = "Who an account is", field("jid", "Bare JID", "jid-single") });
		redeem = dataforms.new({ title = "Register through an invite", token_field, field("username", "User name"),
			field("password", "Password", "text-private"), field("ip", "Client address (optional)") });
	};

	return forms;
end
