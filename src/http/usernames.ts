// A localpart as Prosody's nodeprep would keep it, roughly: no JID separators, spaces or controls.
// Prosody has the last word (mod_invites_manage runs nodeprep); this keeps junk from reaching it.
export const USERNAME = /^[^\s@/"&'<>:\p{Cc}]{1,1023}$/u;
