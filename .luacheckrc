-- luacheck for the Prosody modules under prosody-config/ (npm run lint).
std = "lua54"
globals = { "module", "prosody" }
max_line_length = 150
exclude_files = { "node_modules", "test/compose" }
