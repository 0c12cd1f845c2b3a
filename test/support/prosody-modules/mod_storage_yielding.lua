-- mod_storage_yielding: a storage driver for tests only. It hands each store given to it to
-- another driver (storage_yielding_backend), and makes each read and write of a keyval store wait
-- first when it runs in one of the server's async runners (a c2s session, an HTTP request; not in
-- prosodyctl, which has no timers), as a storage or auth backend on the network would. Prosody
-- serves other sessions meanwhile: registrations really overlap between user-registering and
-- user-registered, which none of Prosody's own drivers (internal, sql, memory) ever makes happen.
--
-- Each write it holds is logged with how many it holds at that moment ("Write to accounts:
-- holding 3 writes at once"), so that a test can check that the overlap it relies on took place.
--
-- Use: storage = { accounts = "yielding" }, with default_storage naming the real driver.

local async = require "util.async";
local storagemanager = require "core.storagemanager";

-- The driver that really stores.
local backend_name = module:get_option_string("storage_yielding_backend",
	module:get_option_string("default_storage", "internal"));
-- How long each read or write waits, in seconds.
local delay = module:get_option_number("storage_yielding_delay", 0.25);

local backend = assert(storagemanager.load_driver(module.host, backend_name), "no storage driver "..backend_name);

local function can_wait()
	return prosody.process_type == "prosody" and async.ready();
end

local held = {}; -- store name -> writes waiting now

-- `store`, with its reads and writes waiting `delay` first (outside a runner they cannot wait).
local function slowed(store_name, store)
	local function get(_, ...)
		if can_wait() then async.sleep(delay); end
		return store:get(...);
	end
	local function set(_, ...)
		if can_wait() then
			held[store_name] = (held[store_name] or 0) + 1;
			module:log("info", "Write to %s: holding %d writes at once", store_name, held[store_name]);
			async.sleep(delay);
			held[store_name] = held[store_name] - 1;
		end
		return store:set(...);
	end
	return setmetatable({ get = get, set = set }, {
		__index = function (_, name)
			local value = store[name];
			if type(value) ~= "function" then return value; end
			return function (_, ...) return value(store, ...); end;
		end;
	});
end

local driver = {};

function driver:open(store_name, typ) -- luacheck: ignore 212/self
	local store, err = backend:open(store_name, typ);
	if store and (typ or "keyval") == "keyval" then return slowed(store_name, store); end
	return store, err;
end

function driver:stores(...) -- luacheck: ignore 212/self
	return backend:stores(...);
end

function driver:purge(...) -- luacheck: ignore 212/self
	return backend:purge(...);
end

module:provides("storage", driver);
