-- Prosody configuration for the docker-compose deployment of invites-api (Prosody 13 image).
-- Replace example.com with your domain everywhere below and in docker-compose.yml.
-- Checked in CI with `prosodyctl check config`.

---------- Who may do what ----------

-- Least privilege: the invite components are NOT admins. mod_invites_manage (this project's module,
-- loaded on the host below) lets the JIDs listed here, and the host's admins, make and manage
-- invites, and nothing else: no admin command works for them. (The drop-in alternative, listing the
-- components in admins instead, grants them every admin command; see the README.)
admins = { }
invites_manage_jids = { "invites.example.com", "invites-a.example.com", "invites-b.example.com" }
-- The groups an invite may put new accounts in (id = shown name): members see each other.
invites_manage_groups = { staff = "Staff" }
-- The roles an invite from invites-api may give; by default never prosody:admin or operator.
-- Also the ceiling of the accounts it may reset, and of the invites it may see.
-- invites_manage_roles = { "prosody:guest", "prosody:registered", "prosody:member" }
-- How long the record of each registration through an invite is kept, in days.
-- invites_manage_history_days = 90

---------- Storage ----------

-- SQL storage, not the default files: the file store keeps all pending invites in one file that
-- is rewritten on every new invite, so invite creation slows to a crawl after a few thousand
-- (measured: 19 invites/s after ~3,000 with files; a flat ~450/s with SQLite).
storage = "sql"
sql = { driver = "SQLite3", database = "prosody.sqlite" }

---------- Modules ----------

-- Community modules (invites_page, invites_register_web and what they need) are installed into
-- this folder when the image is built (prosody-config/Dockerfile, MODULES); Prosody looks there
-- by itself. To enable another community module, add it to MODULES too: the container refuses to
-- start when an enabled module is missing.
installer_plugin_path = "/usr/local/lib/prosody/community"
-- This project's own module, mod_invites_manage, copied into the image from prosody-config/modules.
plugin_paths = { "/usr/local/lib/prosody/invites-api" }

modules_enabled = {
	"roster"; "saslauth"; "tls"; "dialback"; "disco"; "carbons"; "pep"; "private";
	"blocklist"; "vcard4"; "vcard_legacy"; "version"; "uptime"; "time"; "ping";
	"register"; -- in-band registration, used by invite-based sign-up only (see below)
	"admin_adhoc";
}

-- Accounts are created with invites only: open registration stays off, and mod_invites_register
-- lets a valid invite token through.
allow_registration = false

---------- Network ----------

-- The component port is reached by invites-api over the compose network only: do not publish it.
component_interfaces = { "*" }
component_ports = { 5347 }
-- Replies go out at once: with Nagle's algorithm (Prosody's default) every reply over ~8 KB (a page
-- of invites) waited ~40 ms for the client's delayed ACK. Measured in BENCHMARKS.md (issue 26.8):
-- a page of 200 invites 119 -> 74 ms, 10,000 invites walked 5.7 -> 3.8 s.
network_settings = { nagle = false }

-- Prosody's own invite pages are served over HTTP; put a TLS-terminating proxy in front in production.
http_ports = { 5280 }
http_interfaces = { "*" }
https_ports = { }

log = { info = "*console" }

-- Certificates: the container copies yours from prosody-config/certs (HOST.crt and HOST.key, or
-- HOST/fullchain.pem and HOST/privkey.pem) into this folder at each start, or a self-signed one
-- for a local try-out when there is none (see the README). Clients need STARTTLS to log in.
certificates = "/var/run/prosody/certs"

---------- The host ----------

VirtualHost "example.com"
	-- The link in each invite: invites-api's invite page, where the invited person signs up in the
	-- browser (docker-compose.yml publishes the service on 8080). Behind your TLS proxy, write its
	-- https:// address here.
	invites_page = "http://example.com:8080/invite/{host}/{invite.token}"
	-- The public address of Prosody's own pages (below), which invites above the ceiling (an
	-- admin's, say) keep as their link.
	http_external_url = "http://example.com:5280/"
	modules_enabled = {
		"invites";              -- invite tokens
		"invites_adhoc";        -- invite commands for users' own clients
		"invites_manage";       -- the commands invites-api runs, its page's sign-up too (see above)
		"invites_page";         -- each invite's link, from invites_page; Prosody's own landing page
		"invites_register";     -- registration with an invite token
		"invites_register_web"; -- registration in the browser, from Prosody's own landing page
	}

---------- The invite component (XEP-0114) ----------

-- invites-api connects here with the same secret. docker-compose.yml hands COMPONENT_SECRET (from
-- the .env file) to both containers; ENV_X reads variable X in Prosody 0.12 and 13 alike.
Component "invites.example.com"
	component_secret = ENV_COMPONENT_SECRET

-- The two instances of the optional "shared" compose profile (Redis), one JID each: Prosody
-- accepts one connection per component JID. Both are in invites_manage_jids above.
Component "invites-a.example.com"
	component_secret = ENV_COMPONENT_SECRET
Component "invites-b.example.com"
	component_secret = ENV_COMPONENT_SECRET
