-- policy.lua: trusted networks (IPv4, IPv6), authenticated senders,
-- skip_senders (an address, subdomains), a client without an IP address.
package.path = srcdir .. "/?.lua;" .. package.path
local t = require("lib")
mt.set_timeout(15)

local function not_verified(conn, what)
	t.message(conn)
	t.check(t.header(conn, "Received-SPF") == nil and
	    t.header(conn, "Authentication-Results") == nil, what .. ": no header field")
end

-- A trusted client's message is accepted at MAIL FROM: the milter asks
-- for nothing more, so it neither adds nor deletes a header field.
t.step("trusted networks", function()
	local conn = t.open("198.51.100.7", "helo-fail.example")
	t.check(t.mail(conn, "x@fail.example") == SMFIR_ACCEPT, "trusted IPv4: accepted")
	t.check(t.mail(conn, "y@fail.example") == SMFIR_ACCEPT, "trusted IPv4: next message too")
	mt.disconnect(conn)
	conn = t.open("2001:db8:ffff::25", "helo-fail.example")
	t.check(t.mail(conn, "x@fail.example") == SMFIR_ACCEPT, "trusted IPv6: accepted")
	mt.disconnect(conn)
	conn = t.open("2001:db8:fffe::25", "helo-neutral.example")
	t.check(t.mail(conn, "x@fail.example") == SMFIR_REPLYCODE, "IPv6 outside the network: refused")
	mt.disconnect(conn)
end)

t.step("authenticated sender", function()
	local conn = t.open("192.0.2.1", "helo-neutral.example")
	t.check(t.mail(conn, "x@fail.example", { ["{auth_authen}"] = "user" }) == SMFIR_CONTINUE, "authenticated: not refused")
	not_verified(conn, "authenticated")
	t.check(t.has(t.log(), 'authenticated as "user"'), "logged")
	-- the next message on the connection without login is verified
	t.check(t.mail(conn, "x@fail.example", { ["{auth_authen}"] = "" }) == SMFIR_REPLYCODE, "unauthenticated: refused")
	mt.disconnect(conn)
end)

t.step("skip_senders", function()
	local conn = t.open("192.0.2.1", "helo-neutral.example")
	t.check(t.mail(conn, "vip@skip.example") == SMFIR_CONTINUE, "listed address skipped")
	not_verified(conn, "listed address")
	t.check(t.mail(conn, "VIP@Skip.Example") == SMFIR_CONTINUE, "case-insensitive")
	not_verified(conn, "listed address, other case")
	t.check(t.mail(conn, "anyone@sub.skip.example") == SMFIR_CONTINUE, ".domain: subdomain skipped")
	not_verified(conn, "subdomain")
	t.check(t.mail(conn, "other@skip.example") == SMFIR_REPLYCODE, "other address of the domain verified")
	t.check(t.mail(conn, "vip@fail.example") == SMFIR_REPLYCODE, "same local part elsewhere verified")
	mt.disconnect(conn)
end)

t.step("client without IP address", function()
	local conn = mt.connect(sock, 40, 0.05)
	t.must("negotiate", mt.negotiate(conn, nil, nil, nil))
	t.must("conninfo", mt.conninfo(conn, "local", "unspec"))
	t.must("helo", mt.helo(conn, "helo-fail.example"))
	t.check(t.mail(conn, "x@fail.example") == SMFIR_CONTINUE, "not verified")
	not_verified(conn, "no address")
	mt.disconnect(conn)
end)

t.done()
