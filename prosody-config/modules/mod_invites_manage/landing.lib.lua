-- The invite page's side of an invite (XEP-0401: Easy User Onboarding): what the person who opens
-- an invite link may learn of it (what Prosody's own mod_invites_page would show, no more), whether
-- a name is free, and the registration (or password reset) itself, done as mod_invites_register_web
-- does it, so that every hook of an in-band registration through an invite sees it the same.
--
-- Only invites whose effect is within invites_manage_roles are the page's (policy.landing_visible);
-- one above it answers as an unknown token does, and keeps Prosody's own page (own_page below).
-- Neither the token nor the password ever goes into a log line here.

local jid = require "util.jid";
local usermanager = require "core.usermanager";
local modulemanager = require "core.modulemanager";
local encodings = require "util.encodings";
local nodeprep, saslprep = encodings.stringprep.nodeprep, encodings.stringprep.saslprep;

-- The password floor, whatever else the host asks (mod_password_policy, when it is loaded).
local min_password_chars, max_password_bytes = 8, 1023;
-- The longest user name Prosody takes (a JID part is at most 1023 bytes).
local max_username_bytes = 1023;

-- `needs`: invites (mod_invites), token_store (its store), history, policy, registration,
-- manage_groups (id = display name), refuse (forms), budget (budget.lib.lua), people (people.lib.lua).
return function (needs)
	local landing = {};
	local invites, history, policy, registration = needs.invites, needs.history, needs.policy, needs.registration;
	local refuse = needs.refuse;

	local function no_invite() return refuse("cancel", "item-not-found", "no invite with this token"); end
	local function gone(text) return refuse("cancel", "gone", text or "this invite is no longer valid"); end
	local function not_acceptable(text) return refuse("modify", "not-acceptable", text); end

	-- The invite a token names and its state (pending, used, expired or revoked), when the caller may
	-- see it; nil otherwise. Read from mod_invites' store, not with invites.get(), which logs an
	-- unknown or expired token; an invite no longer there comes from the history.
	local function find(token, privileged)
		local invite, state = needs.token_store:get(nil, token), "pending";
		if type(invite) ~= "table" then
			invite, state = history.lookup(token, false);
		elseif (invite.expires or 0) < os.time() then
			state = "expired";
		elseif registration.used_up(token, invite) then
			state = "used";
		end
		if invite then invite.token = token; end
		-- A contact invite that never allowed registration (its uri without ibr=y) is in the history
		-- only: it was never the page's, nor Prosody's own page's.
		if invite and invite.type == "roster" and not (invite.uri or ""):find(";ibr=y", 1, true) then return nil; end
		if not (invite and policy.landing_visible(invite, privileged)) then return nil; end
		return invite, state;
	end

	-- The name an invite registers whatever the page asks: a reset's account, a named invite's name.
	local function fixed_name(invite)
		local data = invite.additional_data or {};
		if type(data.allow_reset) == "string" then return data.allow_reset, true; end
		return invite.type == "register" and jid.node(invite.jid) or nil, false;
	end

	-- A user name as in-band registration takes it (strict nodeprep), or nil.
	local function prepped(username)
		if not username or #username > max_username_bytes then return nil; end
		local name = nodeprep(username, true);
		return name ~= "" and name or nil;
	end

	-- Why a password may not be set (a fixed text naming the rule, never the password), or nil.
	local function password_refusal(password, username)
		if not password then return "password is required"; end
		if #password > max_password_bytes then return ("password must be at most %d bytes"):format(max_password_bytes); end
		if (utf8.len(password) or 0) < min_password_chars then
			return ("password must be at least %d characters"):format(min_password_chars);
		end
		if not saslprep(password) then return "password holds characters SASLprep (RFC 4013) refuses"; end
		local password_policy = modulemanager.get_module(module.host, "password_policy");
		if password_policy and password_policy.check_password then
			local ok, why = password_policy.check_password(password, { username = username });
			if not ok then return why or "password refused by the host's password policy"; end
		end
		return nil;
	end

	-- The bare JID of whoever invites: the invite's inviter, or a contact invite's own JID.
	local function inviter_of(invite)
		if type(invite.inviter) == "string" then
			return invite.inviter:find("@", 1, true) and invite.inviter or (invite.inviter.."@"..module.host);
		end
		return invite.type == "roster" and jid.bare(invite.jid) or nil;
	end

	-- What Prosody's own page would show of an invite, as a result form's values.
	function landing.values(invite, state)
		local data = invite.additional_data or {};
		local username, reset = fixed_name(invite);
		local groups = {};
		for _, id in ipairs(policy.names(data.groups)) do
			groups[#groups + 1] = needs.manage_groups[id] and tostring(needs.manage_groups[id]) or id;
		end
		local uses_left;
		if invite.reusable and data.max_uses then
			uses_left = ("%d"):format(math.max(0, data.max_uses - registration.uses_of(invite.token)));
		end
		return {
			state = state, kind = reset and "reset" or "account", username = username, inviter = inviter_of(invite),
			groups = groups, uri = state == "pending" and invite.uri or nil, expires = ("%d"):format(invite.expires or 0),
			["uses-left"] = uses_left,
		};
	end

	-- landing: the invite's state and what the page may show; item-not-found for a token unknown or
	-- not the page's.
	-- A paused host says so (`paused`), so that the page tells the visitor before the form.
	function landing.show(request, privileged)
		local invite, state = find(request.token, privileged);
		if not invite then return nil, no_invite(); end
		-- An invite whose maker is gone registers no one (registration.lib.lua): the page says it
		-- was withdrawn, before the visitor fills in a form it would refuse.
		if state == "pending" and needs.people.maker_gone(invite) then state = "revoked"; end
		local values = landing.values(invite, state);
		if needs.budget.paused() then values.paused = "true"; end
		return values;
	end

	-- A pending invite the caller may see; or nil and the refusal. One whose maker's account is gone
	-- is no longer valid, as user-registering says too (registration.lib.lua).
	local function pending(token, privileged)
		local invite, state = find(token, privileged);
		if not invite then return nil, no_invite(); end
		if state ~= "pending" or needs.people.maker_gone(invite) then return nil, gone(); end
		return invite;
	end

	-- name: free (this invite may register it, or reset it), taken, or invalid (nodeprep refuses it,
	-- or it is too long).
	function landing.name(request, privileged)
		local invite, refusal = pending(request.token, privileged);
		if not invite then return nil, refusal; end
		local username = prepped(request.username);
		if not username then return "invalid"; end
		local fixed, reset = fixed_name(invite);
		if fixed and username ~= fixed then return "taken"; end
		if reset then return "free"; end
		if usermanager.user_exists(username, module.host) then return "taken"; end
		-- A name the page may not register (listed in `admins`, say) is as good as taken.
		if not policy.redeemable_for(invite, username, privileged) then return "taken"; end
		return "free";
	end

	-- The refusal of a registration that user-registering stopped: gone when the invite was used up
	-- meanwhile (mod_invites_manage's own reasons), else the condition the refusing module gave (the
	-- host's pause and budget: policy-violation, budget.lib.lua).
	local function registering_refusal(event)
		local reason = event.reason;
		if registration.invite_gone_reasons[reason] then return gone(reason); end
		local err = event.error;
		if type(err) == "table" and err.condition then
			return refuse(err.type or "cancel", err.condition, err.text or reason);
		end
		return refuse(event.error_type or "cancel", event.error_condition or "not-allowed",
			reason or "registration is not allowed");
	end

	-- Sets a reset invite's account's password, as in-band registration with such an invite does.
	local function reset_password(event, password)
		if not usermanager.user_exists(event.username, module.host) then return gone("the account no longer exists"); end
		local ok, err = usermanager.set_password(event.username, password, module.host);
		if not ok then
			module:log("error", "Could not reset the password of %s through an invite: %s", event.username, tostring(err));
			return refuse("wait", "internal-server-error", "could not set the password");
		end
		module:fire_event("user-password-reset", event);
		return nil;
	end

	-- Creates the account as mod_invites_register_web does (13's in-band registration gives a role a
	-- user-registering handler chose, if any).
	local function create_account(event, password)
		local ok, err;
		if event.role and usermanager.create_user_with_role then
			ok, err = usermanager.create_user_with_role(event.username, password, module.host, event.role);
		else
			ok, err = usermanager.create_user(event.username, password, module.host);
		end
		if not ok then
			if usermanager.user_exists(event.username, module.host) then
				return refuse("cancel", "conflict", "user "..event.username.." already exists");
			end
			module:log("error", "Could not register %s through an invite: %s", event.username, tostring(err));
			return refuse("wait", "internal-server-error", "could not create the account");
		end
		module:fire_event("user-registered", { username = event.username, host = module.host, source = "mod_"..module.name,
			validated_invite = event.validated_invite, ip = event.ip });
		return nil;
	end

	-- redeem: registers the account (or sets a reset's password) through the invite; the JID.
	function landing.redeem(request, privileged)
		local invite, refusal = pending(request.token, privileged);
		if not invite then return nil, refusal; end
		-- It uses the invite up and gives its roles: without it a single-use invite would stay usable.
		if not modulemanager.is_loaded(module.host, "invites_register") then
			return nil, refuse("cancel", "feature-not-implemented", "load invites_register on "..module.host);
		end
		local fixed, reset = fixed_name(invite);
		local username = fixed or prepped(request.username);
		if not username then return nil, not_acceptable("username is not a valid user name"); end
		local weak = password_refusal(request.password, username);
		if weak then return nil, not_acceptable(weak); end
		if not policy.redeemable_for(invite, username, privileged) then
			return nil, refuse("cancel", "not-allowed", "the account "..username.." is above invites_manage_roles");
		end
		if not reset and usermanager.user_exists(username, module.host) then
			return nil, refuse("cancel", "conflict", "user "..username.." already exists");
		end
		-- Known to be pending just now: get() finds it, and logs nothing.
		local validated = invites.get(request.token);
		if not validated then return nil, gone(); end
		local event = { validated_invite = validated, username = username, host = module.host, ip = request.ip,
			source = "mod_"..module.name, allowed = true };
		module:fire_event("user-registering", event);
		if not event.allowed then return nil, registering_refusal(event); end
		if reset then refusal = reset_password(event, request.password);
		else refusal = create_account(event, request.password); end
		if refusal then return nil, refusal; end
		return username.."@"..module.host;
	end

	-- Prosody's own landing page for a token (mod_invites_page's, as check.lib.lua's probe builds
	-- it), or nil where there is none: invites_page_external, or mod_invites_page not loaded.
	local function own_page(token)
		local page = modulemanager.get_module(module.host, "invites_page");
		if not page or module:get_option_boolean("invites_page_external", false) then return nil; end
		local base_url = page.module.http_url and page.module:http_url();
		return base_url and (base_url.."?"..token) or nil;
	end

	-- invite-created, after mod_invites_page and 13's mod_invites have set the landing page from
	-- invites_page: an invite above the ceiling never goes through the invite page, whoever made it.
	function landing.keep_own_page(invite)
		if not invite.landing_page or policy.within_ceiling(invite) then return; end
		local own = own_page(invite.token);
		if invite.landing_page ~= own then invite.landing_page = own; end
	end

	return landing;
end
