-- Stops the container when prosody.cfg.lua enables a module that is neither one of Prosody's own
-- nor installed in the image: Prosody itself would only log an error and run without it.
-- Reads the configuration the way Prosody does (it is Lua), recording only what matters here.
local config_path = assert(arg[1], "usage: check-modules.lua CONFIG")
local lua_version = _VERSION:match(" (.+)$")

local enabled, options, section = {}, {}, "*"
local function enter(name) section = name; return function(module) -- Component "x" "muc"
	if type(module) == "string" then enabled[module] = section end
end end
local env = setmetatable({}, {
	__index = function(_, key)
		if key == "VirtualHost" or key == "Host" or key == "Component" then return enter end
		if key == "Include" or key == "include" then return function() end end
		if key == "Lua" then return _G end
		local var = key:match("^ENV_(.+)$")
		if var then return os.getenv(var) end
		return options[section .. "/" .. key]
	end,
	__newindex = function(_, key, value)
		options[section .. "/" .. key] = value
		if key == "modules_enabled" and type(value) == "table" then
			for _, module in ipairs(value) do enabled[module] = section end
		end
	end,
})
assert(loadfile(config_path, "t", env))()

local dirs = { "/usr/lib/prosody/modules", options["*/installer_plugin_path"] }
for _, dir in ipairs(options["*/plugin_paths"] or {}) do dirs[#dirs + 1] = dir end
local function exists(path) local f = io.open(path) if f then f:close() end return f ~= nil end
local function found(module)
	local file = "mod_" .. module .. ".lua"
	for _, dir in ipairs(dirs) do
		for _, candidate in ipairs({ file, "mod_" .. module .. "/" .. file,
			"share/lua/" .. lua_version .. "/" .. file, "share/lua/" .. lua_version .. "/mod_" .. module .. "/" .. file }) do
			if exists(dir .. "/" .. candidate) then return true end
		end
	end
	return false
end

local missing = {}
for module, where in pairs(enabled) do
	if not found(module) then missing[#missing + 1] = ("mod_%s (enabled in %s)"):format(module, where == "*" and "the global section" or where) end
end
if #missing > 0 then
	table.sort(missing)
	io.stderr:write("ERROR: prosody.cfg.lua enables modules this image does not have: ", table.concat(missing, ", "), ".\n",
		"Add the community ones to MODULES in prosody-config/Dockerfile and rebuild (docker compose up -d --build).\n")
	os.exit(1)
end
