-- One piece of work at a time per key: a count read and written back by two registrations that
-- overlap (a storage or auth backend that yields lets Prosody serve other sessions meanwhile) would
-- otherwise be read twice and written plus one twice. Nothing yields outside an async runner, so
-- there the work runs as it is.

local async = require "util.async";

return function ()
	local guard = async.guarder();
	return function (key, work)
		if not async.ready() then return work(); end
		local done = guard(key);
		local ok, result = pcall(work);
		done();
		if not ok then error(result, 0); end
		return result;
	end;
end
