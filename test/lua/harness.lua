-- What test/lua's tests share: plain Lua asserts, counted, without a Prosody. Each test file does
--   local t = dofile(here.."/harness.lua");
-- then t.test(name, fn) for each test, t.is(actual, expected, what) within, and t.done(library) last
-- (it prints the counts, and exits 1 when a test failed).

local passed, failed = 0, 0;
local harness = {};

function harness.test(name, fn)
	local ok, err = pcall(fn);
	if ok then passed = passed + 1; else failed = failed + 1; print("FAIL "..name..": "..tostring(err)); end
end

function harness.is(actual, expected, what)
	if actual ~= expected then
		error(("%s: expected %s, got %s"):format(what or "value", tostring(expected), tostring(actual)), 2);
	end
end

function harness.done(library)
	print(("%s: %d passed, %d failed"):format(library, passed, failed));
	if failed > 0 then os.exit(1); end
end

return harness;
