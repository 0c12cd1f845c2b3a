-- What became of each invite of the host, and of each registration through one: the two archives
-- mod_invites_manage keeps beside mod_invites' own store, which forgets an invite once used.
--
-- invites_manage_history has one item per invite, keyed by its token, holding the invite as it was
-- made. Its `with` is the invite's state: "open" while it may be used (`when` is then its expiry,
-- so "expired" is an open item whose `when` has passed), "used" or "revoked" once closed (`when`
-- is then the closing time). Listing one state is then one indexed query per page.
--
-- invites_manage_redemptions has one item per registration (or password reset) through an invite,
-- with = token, in the order they happened: the feed invites-api reads with a cursor. The host's
-- other events go there too, each with its `kind` and with = that kind: an invite that expired
-- (keyed "expired-TOKEN", so that it is written once), a pause, a resumption, a budget used up.
--
-- Items are stanzas holding JSON, because file storage keeps nothing else in an archive; items a
-- SQL store kept as tables (before this) are read as they are.

local st = require "util.stanza";
local json = require "util.json";

local history_days = module:get_option_number("invites_manage_history_days", 90);

local xmlns = "xmpp:invites-api/mod_invites_manage#history";
local invites_store = module:open_store("invites_manage_history", "archive");
local redemptions = module:open_store("invites_manage_redemptions", "archive");

-- Finds items after a cursor. A cursor naming no item is item-not-found: so SQL storage and
-- 0.12's file storage say, while 13's file storage finds nothing at all; asked here for all three.
local function find_after(store, query)
	local found, err = store:find(nil, query);
	if not (found and query.after) then return found, err; end
	local first = { found() };
	if first[1] == nil and not store:get(nil, query.after) then return nil, "item-not-found"; end
	local done = first[1] == nil;
	return function ()
		if done then return nil; end
		if first then
			local item = first;
			first = nil;
			return table.unpack(item);
		end
		return found();
	end;
end

-- The most items one call of page() or feed() examines, shown to the caller or not, for a page of
-- `max`: a page then costs the same however many items the caller may not see (an admin's own
-- invites, those of users with allow_user_invites), and says where the next one reads on.
local function budget(max) return 2 * (max + 1); end

local function pack(name, t) return st.stanza(name, { xmlns = xmlns }):text(json.encode(t)); end
local function unpack_item(value)
	if st.is_stanza(value) then return json.decode(value:get_text()); end
	return type(value) == "table" and value or nil;
end

-- What is kept of an invite: what the commands show of it.
-- `changes`: the upkeep it had (history.changed), oldest first; `revoked_by`: who revoked it.
local function snapshot(invite, changes, revoked_by)
	return pack("invite", {
		token = invite.token, type = invite.type, jid = invite.jid, uri = invite.uri,
		landing_page = invite.landing_page, inviter = invite.inviter, reusable = invite.reusable or nil,
		created_at = invite.created_at, expires = invite.expires, additional_data = invite.additional_data,
		changes = changes, revoked_by = revoked_by,
	});
end

local function warn_on_failure(what, ok, err)
	if not ok then module:log("error", "Could not record %s: %s", what, err); end
	return ok;
end

local history = {};

-- An invite was made.
function history.opened(invite)
	warn_on_failure("a new invite", invites_store:append(nil, invite.token, snapshot(invite), invite.expires, "open"));
end

-- An invite was used up ("used") or revoked ("revoked", `revoked_by` who asked: the actor the
-- command was given, else the JID that ran it). An invite made before the history existed gets its
-- item now.
function history.closed(invite, state, revoked_by)
	local now = os.time();
	local value = invites_store:get(nil, invite.token);
	local kept = revoked_by and value and unpack_item(value);
	if kept then
		kept.revoked_by = revoked_by;
		value = pack("invite", kept);
	end
	local ok, err;
	if value then ok, err = invites_store:set(nil, invite.token, value, now, state); end
	if not ok then ok, err = invites_store:append(nil, invite.token, snapshot(invite, nil, revoked_by), now, state); end
	warn_on_failure("the end of an invite", ok, err);
end

-- A pending invite was changed (its expiry, use cap or note): the history keeps it as it is now,
-- with `change` ({ at, by, actor, what }) added to its list; the item's `when`, its expiry, moves.
function history.changed(invite, change)
	local value = invites_store:get(nil, invite.token);
	local kept = value and unpack_item(value);
	local changes = kept and kept.changes or {};
	changes[#changes + 1] = change;
	local item = snapshot(invite, changes);
	local ok, err;
	if value then ok, err = invites_store:set(nil, invite.token, item, invite.expires, "open"); end
	if not ok then ok, err = invites_store:append(nil, invite.token, item, invite.expires, "open"); end
	return warn_on_failure("a change of an invite", ok, err);
end

-- The changes a pending invite had (history.changed), oldest first: { at, by, actor, what }.
function history.changes_of(token)
	local value = invites_store:get(nil, token);
	local kept = value and unpack_item(value);
	return kept and kept.changes or {};
end

-- The invite a token named, its state and the time of it (closing time, or expiry); nil when the
-- history has no such invite. `pending` says whether mod_invites still has it as valid.
function history.lookup(token, pending)
	local value, when, with = invites_store:get(nil, token);
	local invite = value and unpack_item(value);
	if not invite then return nil; end
	invite.token = token;
	if with ~= "open" then return invite, with, when; end
	if pending then return invite, "pending", when; end
	-- Gone from mod_invites before its expiry, without a use seen here: deleted by someone else.
	return invite, when <= os.time() and "expired" or "revoked", when;
end

-- Up to max + 1 invites in a state other than pending that `keep` accepts, after the token
-- `after`, oldest first: { token, invite, state, at }. nil, "item-not-found" for a stale cursor.
-- At most budget(max) items are examined: a page that stops there before max + 1 also returns the
-- token of the last item it examined, kept or not, where the next page starts.
function history.page(state, after, max, keep)
	local query = { with = state == "expired" and "open" or state, after = after };
	if state == "expired" then query["end"] = os.time(); end
	local page, examined, most = {}, 0, budget(max);
	local function done(stopped_at)
		module:log("debug", "History page (%s): %d items examined, %d kept", state, examined, #page);
		return page, nil, stopped_at;
	end
	while true do
		query.limit = math.min(max + 1, most - examined);
		local found, err = find_after(invites_store, query);
		if not found then return nil, err; end
		local seen, last = 0, nil;
		for key, value, when in found do
			seen, last, examined = seen + 1, key, examined + 1;
			local invite = unpack_item(value);
			if invite then
				invite.token = key;
				if keep(invite) then
					page[#page + 1] = { token = key, invite = invite, state = state, at = when };
					if #page > max then return done(); end
				end
			end
		end
		if seen < query.limit then return done(); end
		if examined >= most then return done(last); end
		query.after = last;
	end
end

-- A registration (or a reset, `reset` true) through an invite; returns the record.
function history.redeemed(invite, username, reset, now)
	local data = invite.additional_data or {};
	local record = { token = invite.token, jid = username.."@"..module.host, reset = reset or nil,
		created_by = data.created_by, source = data.source, ref = data.ref, groups = data.groups };
	warn_on_failure("how "..username.." registered",
		redemptions:append(nil, nil, pack("redemption", record), now, invite.token));
	return record;
end

-- Another event of the host for the feed: `record` has its `kind`. With a `key`, once only: an
-- event already recorded under it is not recorded again (true all the same).
function history.event(record, now, key)
	if key and redemptions:get(nil, key) then return true; end
	return warn_on_failure("an event ("..record.kind..")",
		redemptions:append(nil, key, pack("event", record), now or os.time(), record.kind));
end

-- Calls each(token, invite) for every invite still open in the history whose expiry (`when`) is
-- from `start` to `stop`, both included: the invites that expired then (history.lookup's
-- "expired"). Read `batch` at a time, after the last one read, so that a sweep of many costs what
-- it finds. Returns nil and the error when the store fails.
function history.expired_between(start, stop, batch, each)
	local query = { with = "open", start = start, ["end"] = stop, limit = batch };
	while true do
		local found, err = invites_store:find(nil, query);
		if not found then return nil, err; end
		local seen, last = 0, nil;
		for key, value in found do
			seen, last = seen + 1, key;
			local invite = unpack_item(value);
			if invite then
				invite.token = key;
				each(key, invite);
			end
		end
		if seen < batch then return true; end
		query.after = last;
	end
end

-- The first `max` registrations through an invite, oldest first: record, time.
function history.redemptions_of(token, max)
	local found = redemptions:find(nil, { with = token, limit = max });
	local list = {};
	for _, value, when in found or function () end do
		local record = unpack_item(value);
		if record then list[#list + 1] = { record = record, at = when }; end
	end
	return list;
end

-- Registrations after a cursor ("WHEN.KEY", or nil for the oldest kept), in the order they
-- happened, that `keep` accepts: up to `max` of { cursor, record, at }; then the cursor of the last
-- record examined, kept or not (nil when none), and whether reading stopped before the end. A
-- cursor whose item was pruned restarts at its time: pruning removes whole seconds, so nothing
-- after it is skipped. `bounded`: at most budget(max) records are examined, so the list may stop
-- short of `max` with more to come; else as many as it takes to fill the list (what an older
-- invites-api expects, which reads on only after a full list).
function history.feed(cursor_when, cursor_key, max, keep, bounded)
	local query = { after = cursor_key };
	local list, examined, examined_to = {}, 0, nil;
	local most = bounded and budget(max) or math.huge;
	local function done(more)
		module:log("debug", "Registration records: %d examined, %d kept", examined, #list);
		return list, nil, examined_to, more;
	end
	while true do
		query.limit = math.min(max, most - examined);
		local found, err = find_after(redemptions, query);
		if not found and err == "item-not-found" and query.after then
			query.after, query.start = nil, cursor_when;
			found, err = redemptions:find(nil, query);
		end
		if not found then return nil, err; end
		local seen, last = 0, nil;
		for key, value, when in found do
			seen, last, examined = seen + 1, key, examined + 1;
			examined_to = ("%d.%s"):format(when, key);
			local record = unpack_item(value);
			if record and keep(record) then
				list[#list + 1] = { cursor = examined_to, record = record, at = when };
				if #list >= max then return done(true); end
			end
		end
		if seen < query.limit then return done(false); end
		if examined >= most then return done(true); end
		query.after, query.start = last, nil;
	end
end

-- Everything older than the window goes: registrations, closed invites, and invites that expired
-- before it. Hourly, and at a registration when the last prune is older than a minute (half the
-- window when that is shorter): on 0.12's SQL storage each delete makes the next append count the
-- whole archive, so a prune at every registration would cost a COUNT(*) per registration.
local last_prune = 0;
local prune_every = math.min(60, history_days * 86400 / 2);

function history.prune()
	last_prune = os.time();
	local cutoff = last_prune - history_days * 86400;
	for _, store in ipairs({ redemptions, invites_store }) do
		local ok, err = store:delete(nil, { ["end"] = cutoff });
		if not ok then module:log("warn", "Could not prune %s: %s", store.store or "the history", err); end
	end
	return 3600;
end
module:add_timer(60, history.prune);

function history.prune_due()
	if os.time() - last_prune >= prune_every then history.prune(); end
end

return history;
