-- mod_command_trace: for tests only. Logs each ad-hoc command (XEP-0050) the host receives, in the
-- order Prosody handles them, with its `max` field when it has one:
--   Command trace: xmpp:invites-api/mod_invites_manage#list max=25 from invites.test
-- A test that freezes Prosody (SIGSTOP), lets the service send what it will, and thaws it reads
-- from these lines what reached Prosody, and in which order.

local function field_value(command, name)
	local form = command:get_child("x", "jabber:x:data");
	if not form then return nil; end
	for field in form:childtags("field") do
		if field.attr.var == name then return field:get_child_text("value"); end
	end
	return nil;
end

module:hook("iq-set/host/http://jabber.org/protocol/commands:command", function (event)
	local command = event.stanza.tags[1];
	module:log("info", "Command trace: %s max=%s from %s", command.attr.node,
		field_value(command, "max") or "-", event.stanza.attr.from);
end, 1000);
