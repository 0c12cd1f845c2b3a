-- What the options command tells `invites-api check` about the host beside the invite options:
-- the landing page of a made-up invite, and the enabled modules Prosody failed to load.

local modulemanager = require "core.modulemanager";
local configmanager = require "core.configmanager";
local set = require "util.set";
local url_escape = require "util.http".urlencode;
local render_url = require "util.interpolation".new("%b{}", url_escape);

local check = {};

-- A token no invite has (mod_invites' tokens are random): its page is the "invalid invite" page.
local probe_token = "invites-api-check";

-- The landing page mod_invites_page would give an invite with the probe token, built as it builds
-- one (its invites_page option, else its own HTTP URL); nil where it is not loaded on this host.
-- `invites-api check` opens it to see that the page answers, without making an invite.
function check.invite_page_probe()
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
function check.modules_not_loaded()
	local list = {};
	for name in enabled_modules() do
		if not (modulemanager.is_loaded(module.host, name) or modulemanager.is_loaded("*", name)) then
			list[#list + 1] = name;
		end
	end
	table.sort(list);
	return list;
end

return check;
